package gate

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
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

type revokedSet map[string]bool

func (s revokedSet) Revoked(id string, _ time.Time) bool { return s[id] }

// TestForwardMemo checks that what a session remembers of its last forward (session.Memo) is
// reused only for the same policy, origin and signing key while its assertion is fresh, and never
// outlives a revocation.
func TestForwardMemo(t *testing.T) {
	g, cookie := newGate(t, 0)
	revoked := revokedSet{}
	g.Sessions.Revocations = revoked
	// The /o/* policy forwards a different header, to see which policy's headers come back.
	set, err := policy.Load([]policy.File{
		{Name: "m.yaml", Data: []byte("paths: [/m/*]\nrequire: {login: [naver]}\nforward: {headers: {X-User-Id: sub}}\n")},
		{Name: "o.yaml", Data: []byte("paths: [/o/*]\nrequire: {login: true}\nforward: {headers: {X-Other-Id: sub}}\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	g.Policies = set
	now := time.Now()
	decide := func(url string, now time.Time) (jwt.MapClaims, string, map[string]string) {
		t.Helper()
		r := httptest.NewRequest("GET", url, nil)
		r.AddCookie(&http.Cookie{Name: session.CookieName, Value: cookie})
		res := g.Decide(r, nil, now)
		if !res.Decision.Met {
			t.Fatalf("%s: %+v", url, res.Decision)
		}
		hs := map[string]string{}
		for _, kv := range res.Headers {
			hs[kv[0]] = kv[1]
		}
		claims := jwt.MapClaims{}
		tok, _, err := jwt.NewParser().ParseUnverified(hs[AssertionHeader], claims)
		if err != nil {
			t.Fatalf("%s: assertion: %v", url, err)
		}
		return claims, tok.Header["kid"].(string), hs
	}

	c1, kid1, h1 := decide("http://shop.example/m/1", now)
	c2, _, _ := decide("http://shop.example/m/2", now.Add(time.Second))
	if c1["iat"] != c2["iat"] || h1["X-User-Id"] != "naver:1" {
		t.Fatalf("same session and policy: not served from the memo (iat %v, %v), headers %v", c1["iat"], c2["iat"], h1)
	}
	// Another origin: the audience follows the request's host.
	c4, _, _ := decide("http://other.example/m/1", now.Add(2*time.Second))
	if c4["aud"] != "http://other.example" {
		t.Fatalf("other origin got aud %v", c4["aud"])
	}
	// Another policy: its own assertion and headers, not the memo of the first.
	c3, _, h3 := decide("http://shop.example/o/1", now.Add(3*time.Second))
	if c3["policy"] != "o" || h3["X-Other-Id"] != "naver:1" || h3["X-User-Id"] != "" {
		t.Fatalf("other policy got policy %v, headers %v", c3["policy"], h3)
	}
	// A reloaded policy of the same name is a new policy: its headers apply at once.
	set2, err := policy.Load([]policy.File{{Name: "m.yaml", Data: []byte("paths: [/m/*]\nrequire: {login: [naver]}\nforward: {headers: {X-Member: sub}}\n")}})
	if err != nil {
		t.Fatal(err)
	}
	g.Policies = set2
	if _, _, h := decide("http://shop.example/m/1", now.Add(4*time.Second)); h["X-Member"] != "naver:1" || h["X-User-Id"] != "" {
		t.Fatalf("after a policy reload: headers %v", h)
	}
	// A new signing key signs from the next request on (here one whose assertions live 20 s).
	k2, _ := keys.NewSigningKey("ES256", now, rand.Reader)
	iss2, _ := assertion.NewIssuer([]keys.SigningKey{k2}, 20*time.Second)
	g.SetIssuer(iss2)
	c5, kid, _ := decide("http://shop.example/m/1", now.Add(5*time.Second))
	if kid == kid1 || kid != iss2.KID() {
		t.Fatalf("after rotation the assertion has kid %s (old %s, new %s)", kid, kid1, iss2.KID())
	}
	if c6, _, _ := decide("http://shop.example/m/1", now.Add(14*time.Second)); c6["iat"] != c5["iat"] {
		t.Fatal("a fresh assertion was signed again")
	}
	// Past half its lifetime the assertion is signed anew, though the session is still open.
	if c7, _, _ := decide("http://shop.example/m/1", now.Add(16*time.Second)); c7["iat"] == c5["iat"] {
		t.Fatal("the memo outlived the assertion's freshness")
	}
	// A revoked session is refused although its memo is still fresh.
	r := httptest.NewRequest("GET", "http://shop.example/m/1", nil)
	r.AddCookie(&http.Cookie{Name: session.CookieName, Value: cookie})
	s, err := g.Sessions.Open(r, false, now)
	if err != nil {
		t.Fatal(err)
	}
	revoked[s.ID] = true
	if res := g.Decide(r, nil, now.Add(17*time.Second)); res.Decision.Met || res.Headers != nil {
		t.Fatalf("revoked session forwarded: %+v", res)
	}
}

// TestForwardMemoConcurrent has requests of one session under two policies race for its memo:
// each must get its own policy's assertion and headers (run with -race).
func TestForwardMemoConcurrent(t *testing.T) {
	g, cookie := newGate(t, 1)
	now := time.Now()
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				path, want := "/m/1", "m"
				if (i+w)%2 == 1 {
					path, want = "/x0/1", "x0"
				}
				r := httptest.NewRequest("GET", "http://shop.example"+path, nil)
				r.AddCookie(&http.Cookie{Name: session.CookieName, Value: cookie})
				res := g.Decide(r, nil, now.Add(time.Duration(i)*time.Millisecond))
				claims := jwt.MapClaims{}
				if !res.Decision.Met || len(res.Headers) == 0 {
					errs <- fmt.Sprintf("%s: %+v", path, res.Decision)
					return
				}
				if _, _, err := jwt.NewParser().ParseUnverified(res.Headers[0][1], claims); err != nil || claims["policy"] != want {
					errs <- fmt.Sprintf("%s: policy %v, want %s (%v)", path, claims["policy"], want, err)
					return
				}
				if hasUserID := len(res.Headers) > 1 && res.Headers[1][0] == "X-User-Id"; hasUserID != (want == "m") {
					errs <- fmt.Sprintf("%s: headers %v", path, res.Headers)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestDistinctOriginsAreBounded(t *testing.T) {
	g, cookie := newGate(t, 0)
	g.MaxOrigins = 3
	now := time.Now()
	for i := 0; i < 5; i++ {
		r := httptest.NewRequest("GET", fmt.Sprintf("http://h%d.example/m/1", i), nil)
		r.AddCookie(&http.Cookie{Name: session.CookieName, Value: cookie})
		res := g.Decide(r, nil, now)
		if want := i >= 3; (res.Refused == "unknown_site") != want || !want && len(res.Headers) == 0 {
			t.Fatalf("invariant 12: origin %d: refused %q, headers %d", i, res.Refused, len(res.Headers))
		}
	}
	// An origin idle for ten minutes makes room.
	r := httptest.NewRequest("GET", "http://h9.example/m/1", nil)
	r.AddCookie(&http.Cookie{Name: session.CookieName, Value: cookie})
	if res := g.Decide(r, nil, now.Add(11*time.Minute)); res.Refused != "" {
		t.Fatalf("after ten idle minutes: %q", res.Refused)
	}
}
