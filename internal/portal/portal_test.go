package portal

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/internal/identity"
	"github.com/idgate/idgate/internal/keys"
	"github.com/idgate/idgate/internal/session"
	"github.com/idgate/idgate/internal/store/file"
	"github.com/idgate/idgate/internal/store/memory"
	"github.com/idgate/idgate/policy"
	"github.com/idgate/idgate/providers/naver"
	"github.com/idgate/idgate/providers/naver/navertest"
	"go.uber.org/zap"
)

func TestSafeRedirect(t *testing.T) {
	good := []string{"/", "/members/board", "/a?b=c&d=%2F%2Fevil", "/a#frag", "/한글"}
	for _, rd := range good {
		if got, ok := SafeRedirect(rd); !ok || got != rd {
			t.Errorf("SafeRedirect(%q) = %q, %v; want it kept", rd, got, ok)
		}
	}
	bad := []string{
		"", "//evil.com", "///evil.com", "/\\evil.com", "\\\\evil.com", "https://evil.com", "http:/evil.com",
		"javascript:alert(1)", "evil.com", "/a\\b", "/a\r\nSet-Cookie: x=1", "/a\tb", "/\x00", "/\x7f",
		"/" + strings.Repeat("a", 3000),
		// invariant 11: rd paths follow the gate's canonical rule.
		"/public/../admin", "/public/..;/admin", "/a/%2e%2e/admin", "/a%2fb", "/a;jsessionid=1", "/a//b", "/%ef%bc%8f",
	}
	for _, rd := range bad {
		if got, ok := SafeRedirect(rd); ok || got != "/" {
			t.Errorf("invariant 2: SafeRedirect(%q) = %q, %v; want \"/\", false", rd, got, ok)
		}
	}
}

func FuzzRedirect(f *testing.F) {
	for _, s := range []string{"/", "//x", "/\\x", "https://x", "/a?b", "/%2f%2fx", "/\t/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rd string) {
		got, ok := SafeRedirect(rd)
		if !ok {
			if got != "/" {
				t.Fatalf("rejected %q but returned %q", rd, got)
			}
			return
		}
		// Whatever passes must resolve to this origin in a browser.
		base, _ := url.Parse("https://shop.example/x")
		u, err := base.Parse(got)
		if err != nil {
			return // the browser would not follow it either
		}
		if u.Host != "shop.example" || u.Scheme != "https" {
			t.Fatalf("invariant 2: %q leaves the site: %v", rd, u)
		}
		if strings.ContainsAny(got, "\\\r\n\t") {
			t.Fatalf("control or backslash passed: %q", got)
		}
	})
}

func TestLang(t *testing.T) {
	for al, want := range map[string]string{
		"": "ko", "ko-KR,ko;q=0.9,en-US;q=0.8": "ko", "en-US,en;q=0.9": "en", "en;q=0.5,ko;q=0.9": "ko",
		"ja,en;q=0.8": "en", "fr": "ko", "EN-gb": "en",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Language", al)
		if got := lang(r); got != want {
			t.Errorf("lang(%q) = %s, want %s", al, got, want)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	cases := []struct {
		origin, site string
		want         bool
	}{
		{"http://shop.example", "", true},
		{"http://evil.example", "", false},
		{"null", "", false},
		{"", "same-origin", true},
		{"", "cross-site", false},
		{"", "same-site", false},
		{"", "", false},
	}
	for _, c := range cases {
		r := httptest.NewRequest("POST", "http://shop.example/.idgate/logout", nil)
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		if c.site != "" {
			r.Header.Set("Sec-Fetch-Site", c.site)
		}
		if got := SameOrigin(r); got != c.want {
			t.Errorf("invariant 6: SameOrigin(Origin=%q, Sec-Fetch-Site=%q) = %v", c.origin, c.site, got)
		}
	}
}

// testPortal builds a portal on the real Naver client and the Naver fake.
func testPortal(t *testing.T) (*Portal, *navertest.Server) {
	t.Helper()
	srv := navertest.NewServer("cid", "secret")
	t.Cleanup(srv.Close)
	c, err := naver.New(naver.Config{ClientID: "cid", ClientSecret: "secret", AuthorizeURL: srv.URL() + "/oauth2.0/authorize",
		TokenURL: srv.URL() + "/oauth2.0/token", ProfileURL: srv.URL() + "/v1/nid/me", HTTPClient: &http.Client{Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	set, err := policy.Load([]policy.File{{Name: "m.yaml", Data: []byte("paths: [/m/*]\nrequire: {login: [naver]}\n")}})
	if err != nil {
		t.Fatal(err)
	}
	sm, _ := session.NewManager([]session.Key{{ID: 1, Secret: bytes.Repeat([]byte{7}, 32)}}, time.Hour, time.Hour, nil)
	st := memory.New()
	return &Portal{
		Providers: map[string]ProviderInfo{"naver": {Provider: c, Style: "naver"}}, Order: []string{"naver"},
		Sessions: sm, States: st, Revocations: nil, Policies: set,
		KeepClaims: func(map[string]string) map[string]string { return nil }, JWKS: func() []byte { return []byte(`{"keys":[]}`) },
		SubjectHash: func(s string) string { return "h" }, Logger: zap.NewNop(), Now: time.Now,
	}, srv
}

func TestStateIsShortLivedAndBoundToTheBrowser(t *testing.T) {
	p, srv := testPortal(t)
	p.StateTTL = 100 * time.Millisecond
	srv.SetKnobs(navertest.Knobs{AutoApprove: "kim"})
	start := func() (*http.Cookie, url.Values) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "http://shop.example/.idgate/login?provider=naver&rd=/m/1", nil)
		r.Header.Set("Accept", "text/html")
		p.ServeHTTP(w, r)
		if w.Code != http.StatusFound {
			t.Fatalf("login: %d %s", w.Code, w.Body)
		}
		u, _ := url.Parse(w.Header().Get("Location"))
		if u.Query().Get("code_challenge") != "" {
			t.Fatal("classic Naver does not document PKCE; none must be sent")
		}
		if len(u.Query().Get("state")) < 40 {
			t.Fatalf("state too short: %q", u.Query().Get("state"))
		}
		return w.Result().Cookies()[0], u.Query()
	}
	callback := func(c *http.Cookie, q url.Values) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "http://shop.example/.idgate/callback/naver?"+url.Values{"code": {"x"}, "state": {q.Get("state")}}.Encode(), nil)
		r.Header.Set("Accept", "text/html")
		if c != nil {
			r.AddCookie(c)
		}
		p.ServeHTTP(w, r)
		return w
	}
	c1, q1 := start()
	c2, q2 := start()
	if q1.Get("state") == q2.Get("state") {
		t.Fatal("invariant 3: state is not random")
	}
	// Another browser (no binding cookie, or another one) cannot complete the login.
	if w := callback(nil, q1); !strings.Contains(w.Body.String(), `data-code="state_mismatch"`) {
		t.Fatalf("invariant 3: callback without binding cookie: %d %s", w.Code, w.Body)
	}
	if w := callback(&http.Cookie{Name: c2.Name, Value: strings.Repeat("z", 43)}, q2); !strings.Contains(w.Body.String(), `data-code="state_mismatch"`) {
		t.Fatalf("invariant 3: callback with a foreign binding cookie: %d", w.Code)
	}
	// States expire.
	c3, q3 := start()
	time.Sleep(300 * time.Millisecond)
	if w := callback(c3, q3); !strings.Contains(w.Body.String(), `data-code="state_invalid"`) {
		t.Fatalf("invariant 3: expired state accepted: %d %s", w.Code, w.Body)
	}
	_ = c1
}

func TestLoginStartsAreBoundedPerClient(t *testing.T) {
	p, _ := testPortal(t)
	p.LoginRate = 3
	start := func(addr string) int {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "http://shop.example/.idgate/login?provider=naver&rd=/m/1", nil)
		r.RemoteAddr = addr
		r.Header.Set("Accept", "application/json")
		p.ServeHTTP(w, r)
		return w.Code
	}
	for i := 0; i < 3; i++ {
		if code := start("203.0.113.7:1000"); code != 200 {
			t.Fatalf("start %d: %d", i, code)
		}
	}
	if code := start("203.0.113.7:1001"); code != 429 {
		t.Fatalf("fourth start from one address: %d", code)
	}
	if code := start("198.51.100.9:1000"); code != 200 {
		t.Fatalf("another address: %d", code)
	}
}

func TestFirstAuthenticatorNeedsARecentLogin(t *testing.T) {
	p, _ := testPortal(t)
	dir := t.TempDir()
	recs, _ := file.New(dir)
	box, _ := keys.NewBox(bytes.Repeat([]byte{9}, 32))
	p.MFA = &MFA{Records: recs, Secrets: box}
	p.MFA.SetDefaults()
	issue := func(age time.Duration) *http.Cookie {
		s, _ := p.Sessions.New(identity.Identity{Subject: "naver:1", Provider: "naver"}, time.Now().Add(-age))
		s.Seen = time.Now().Unix()
		v, _ := p.Sessions.Seal(session.CookieName, s)
		return &http.Cookie{Name: session.CookieName, Value: v}
	}
	enroll := func(c *http.Cookie) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "http://shop.example/.idgate/mfa/totp/enroll", nil)
		r.Header.Set("Origin", "http://shop.example")
		r.Header.Set("Accept", "application/json")
		r.AddCookie(c)
		p.ServeHTTP(w, r)
		return w
	}
	if w := enroll(issue(20 * time.Minute)); w.Code != 401 || !strings.Contains(w.Body.String(), "reauth_required") {
		t.Fatalf("old session enrolled a first authenticator: %d %s", w.Code, w.Body)
	}
	if w := enroll(issue(time.Minute)); w.Code != 200 || !strings.Contains(w.Body.String(), "otpauth://") {
		t.Fatalf("fresh session: %d %s", w.Code, w.Body)
	}
}

func TestLoginStartsAreBoundedForAllAddressesTogether(t *testing.T) {
	p, _ := testPortal(t)
	p.LoginLimit = 5
	codes := []int{}
	for i := 0; i < 7; i++ {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "http://shop.example/.idgate/login?provider=naver&rd=/m/1", nil)
		r.RemoteAddr = fmt.Sprintf("203.0.113.%d:1000", i)
		r.Header.Set("Accept", "application/json")
		p.ServeHTTP(w, r)
		codes = append(codes, w.Code)
	}
	if fmt.Sprint(codes) != "[200 200 200 200 200 429 429]" {
		t.Fatalf("invariant 12: login starts from seven addresses under a limit of five: %v", codes)
	}
}

func TestAPlantedBindingCookieIsNeverAdopted(t *testing.T) {
	p, srv := testPortal(t)
	srv.SetKnobs(navertest.Knobs{AutoApprove: "kim"})
	planted := strings.Repeat("A", 32) + "." + strings.Repeat("B", 24)
	// The attacker starts a login with a binding value of its choosing...
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "http://shop.example/.idgate/login?provider=naver&rd=/m/1", nil)
	r.Header.Set("Accept", "text/html")
	r.AddCookie(&http.Cookie{Name: "idgate_state", Value: planted})
	p.ServeHTTP(w, r)
	var issued string
	for _, c := range w.Result().Cookies() {
		if c.Name == "idgate_state" {
			issued = c.Value
		}
	}
	if issued == "" || issued == planted {
		t.Fatalf("invariant 3: a client-chosen binding was adopted (issued %q)", issued)
	}
	// ...and a victim holding the planted value cannot complete it: the state is bound to what
	// idgate issued, and a planted value is no binding at all.
	authorize, _ := url.Parse(w.Header().Get("Location"))
	w = httptest.NewRecorder()
	r = httptest.NewRequest("GET", "http://shop.example/.idgate/callback/naver?"+url.Values{"code": {"x"}, "state": {authorize.Query().Get("state")}}.Encode(), nil)
	r.Header.Set("Accept", "text/html")
	r.AddCookie(&http.Cookie{Name: "idgate_state", Value: planted})
	p.ServeHTTP(w, r)
	if !strings.Contains(w.Body.String(), `data-code="state_mismatch"`) {
		t.Fatalf("invariant 3: callback with a planted binding: %d", w.Code)
	}
	// A value issued for the plain-HTTP name is no binding under the __Host- name either.
	if p.bindingValid(issued, true) || !p.bindingValid(issued, false) {
		t.Fatal("binding is not bound to its cookie name")
	}
}
