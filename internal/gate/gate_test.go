package gate

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/idgate/idgate/internal/assertion"
	"github.com/idgate/idgate/internal/identity"
	"github.com/idgate/idgate/internal/keys"
	"github.com/idgate/idgate/internal/session"
	"github.com/idgate/idgate/policy"
)

func newGate(t testing.TB, extra int) (*Gate, string) {
	t.Helper()
	files := []policy.File{
		{Name: "m.yaml", Data: []byte("paths: [/m/*]\nrequire: {login: [naver]}\nforward:\n  claims: [name]\n  headers: {X-User-Id: sub, X-User-Name: name, X-User-Email: email}\n")},
		{Name: "p.yaml", Data: []byte("paths: [/p/*]\npublic: true\n")},
	}
	for i := 0; i < extra; i++ {
		files = append(files, policy.File{Name: fmt.Sprintf("x%d.yaml", i), Data: []byte(fmt.Sprintf("paths: [/x%d/*, /y/%d/*]\nrequire: {login: true}\n", i, i))})
	}
	set, err := policy.Load(files)
	if err != nil {
		t.Fatal(err)
	}
	sm, _ := session.NewManager([]session.Key{{ID: 1, Secret: bytes.Repeat([]byte{3}, 32)}}, time.Hour, 24*time.Hour, nil)
	k, _ := keys.NewSigningKey("ES256", time.Now(), rand.Reader)
	iss, _ := assertion.NewIssuer([]keys.SigningKey{k}, 5*time.Minute)
	s, _ := sm.New(identity.Identity{Subject: "naver:1", Provider: "naver", Claims: map[string]string{"name": "김민준"}}, time.Now())
	v, _ := sm.Seal(session.CookieName, s)
	return &Gate{Policies: set, Sessions: sm, Assertions: iss}, v
}

func TestStripIdentityHeaders(t *testing.T) {
	h := http.Header{}
	for _, k := range []string{"X-Idgate-Assertion", "X-IDGATE-Whatever", "X-User-Id", "X-User-Name", "Accept"} {
		h[k] = []string{"forged"}
	}
	h["x-idgate-lower"] = []string{"forged"} // non-canonical keys arrive through HTTP/2 too
	StripIdentityHeaders(h, []string{"X-User-Id", "X-User-Name"})
	if len(h) != 1 || h.Get("Accept") != "forged" {
		t.Fatalf("invariant 1: headers left: %v", h)
	}
}

func TestDecide(t *testing.T) {
	g, cookie := newGate(t, 0)
	now := time.Now()
	r := httptest.NewRequest("GET", "http://shop.example/m/1", nil)
	res := g.Decide(r, nil, now)
	if res.Decision.Reason != policy.ReasonLoginRequired || res.Headers != nil {
		t.Fatalf("anonymous: %+v", res)
	}
	r.AddCookie(&http.Cookie{Name: session.CookieName, Value: cookie})
	res = g.Decide(r, nil, now)
	if !res.Decision.Met || res.Policy.Name != "m" {
		t.Fatalf("signed in: %+v", res)
	}
	got := map[string]string{}
	for _, kv := range res.Headers {
		got[kv[0]] = kv[1]
	}
	if got["X-User-Id"] != "naver:1" || got["X-User-Name"] != "김민준" || got[AssertionHeader] == "" {
		t.Fatalf("headers = %v", got)
	}
	if _, ok := got["X-User-Email"]; ok {
		t.Fatal("a header for an absent claim was set")
	}
	sub, _ := res.Claim("sub")
	pol, _ := res.Claim("policy")
	name, _ := res.Claim("name")
	if sub != "naver:1" || pol != "m" || name != "김민준" {
		t.Fatalf("claims = %q %q %q", sub, pol, name)
	}
	if v, ok := res.Claim("email"); ok {
		t.Fatalf("an unlisted claim is available to placeholders: %q", v)
	}
	// Public paths forward nothing, even with a session.
	r2 := httptest.NewRequest("GET", "http://shop.example/p/1", nil)
	r2.AddCookie(&http.Cookie{Name: session.CookieName, Value: cookie})
	if res := g.Decide(r2, nil, now); !res.Decision.Met || res.Headers != nil {
		t.Fatalf("public: %+v", res)
	}
	// No policy: refused.
	if res := g.Decide(httptest.NewRequest("GET", "/elsewhere", nil), nil, now); res.Decision.Reason != policy.ReasonNoPolicy {
		t.Fatalf("uncovered path: %+v", res)
	}
	// A tampered cookie is anonymous and gets deleted.
	r3 := httptest.NewRequest("GET", "http://shop.example/m/1", nil)
	r3.AddCookie(&http.Cookie{Name: session.CookieName, Value: cookie[:len(cookie)-2] + "AA"})
	if res := g.Decide(r3, nil, now); res.Decision.Met || res.Cookie == nil || res.Cookie.MaxAge >= 0 {
		t.Fatalf("tampered: %+v", res)
	}
}

// BenchmarkDecide is the whole per-request cost on a valid session: header stripping, policy
// match among 1000 policy files, cookie open (cached), evaluation and assertion (cache hit).
func BenchmarkDecide(b *testing.B) {
	g, cookie := newGate(b, 1000)
	r := httptest.NewRequest("GET", "http://shop.example/m/board/1", nil)
	r.AddCookie(&http.Cookie{Name: session.CookieName, Value: cookie})
	r.Header.Set("X-Idgate-Assertion", "forged")
	now := time.Now()
	fw := g.Policies.ForwardedHeaders()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		StripIdentityHeaders(r.Header, fw)
		if res := g.Decide(r, nil, now); !res.Decision.Met {
			b.Fatal(res.Decision)
		}
	}
}

func BenchmarkStripIdentityHeaders(b *testing.B) {
	h := http.Header{"Accept": {"*/*"}, "User-Agent": {"x"}, "Cookie": {"a=b"}, "Accept-Language": {"ko"}}
	fw := []string{"X-User-Id", "X-User-Name", "X-User-Email"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		StripIdentityHeaders(h, fw)
	}
}

func TestStripOwnCookies(t *testing.T) {
	for in, want := range map[string]string{
		"idgate_session=abc":                                  "",
		"a=1; idgate_session=abc; b=2":                        "a=1; b=2",
		"__Host-idgate_session=x; __Host-idgate_state=y; c=3": "c=3",
		"PHPSESSID=42":                                        "PHPSESSID=42",
		"my_idgate_session=keep":                              "my_idgate_session=keep",
	} {
		h := http.Header{"Cookie": {in}}
		StripOwnCookies(h)
		if got := h.Get("Cookie"); got != want {
			t.Errorf("StripOwnCookies(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkDecideParallel is BenchmarkDecide from every core at once, as under load: shared
// caches and counters must not make requests wait for each other.
func BenchmarkDecideParallel(b *testing.B) {
	g, cookie := newGate(b, 1000)
	now := time.Now()
	fw := g.Policies.ForwardedHeaders()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest("GET", "http://shop.example/m/board/1", nil)
		r.AddCookie(&http.Cookie{Name: session.CookieName, Value: cookie})
		for pb.Next() {
			StripIdentityHeaders(r.Header, fw)
			if res := g.Decide(r, nil, now); !res.Decision.Met {
				b.Fatal(res.Decision)
			}
		}
	})
}
