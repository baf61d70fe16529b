package gate

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/idgate/idgate/internal/reqpath/reqpathtest"
	"github.com/idgate/idgate/policy"
)

// readRequest parses a raw request target the way Caddy's server (net/http) does.
func readRequest(method, target string) (*http.Request, error) {
	return http.ReadRequest(bufio.NewReader(strings.NewReader(method + " " + target + " HTTP/1.1\r\nHost: shop.example\r\n\r\n")))
}

func upstreamSet(t testing.TB) *policy.Set {
	set, err := policy.Load([]policy.File{
		{Name: "public.yaml", Data: []byte("paths: [\"/\", /public/*, /static/*]\npublic: true\n")},
		{Name: "members.yaml", Data: []byte("paths: [/members/*]\nrequire: {login: true}\n")},
		{Name: "admin.yaml", Data: []byte("paths: [/admin/*]\nrequire: {login: true, mfa: {}}\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// admitsOnlyWhatUpstreamsReadAlike is the property of invariant 11: for any target Admit lets
// through, the path every kind of upstream serves is governed by the policy the gate applies.
func admitsOnlyWhatUpstreamsReadAlike(t *testing.T, set *policy.Set, target string, rewrite bool) (admitted bool) {
	t.Helper()
	r, err := readRequest("GET", target)
	if err != nil {
		return false // net/http refuses it before any handler
	}
	a := Admit(r, rewrite)
	if a.Code != "" || a.Portal {
		return false
	}
	applied := set.Match(r.URL.Path)
	fwd := r.URL.EscapedPath() // what reverse_proxy sends; RequestURI is what php_fastcgi sends
	if rewrite && a.Rewritten && !strings.HasPrefix(r.RequestURI, fwd) {
		t.Fatalf("%q: RequestURI %q does not carry the rewritten path %q", target, r.RequestURI, fwd)
	}
	for kind, served := range map[string]string{
		"tomcat": reqpathtest.Tomcat(fwd), "front controller": reqpathtest.FrontController(fwd), "raw router": reqpathtest.Raw(fwd),
	} {
		if got := set.Match(served); got != applied {
			t.Fatalf("invariant 11: %q (rewrite %v) was decided as %v but a %s serves %q (%v)", target, rewrite, name(applied), kind, served, name(got))
		}
	}
	return true
}

func name(p *policy.Policy) string {
	if p == nil {
		return "no policy"
	}
	return p.Name
}

func TestAdmitHostileTargets(t *testing.T) {
	set := upstreamSet(t)
	for _, target := range reqpathtest.Hostile {
		if admitsOnlyWhatUpstreamsReadAlike(t, set, target, false) {
			t.Errorf("invariant 11: refuse mode admitted %q", target)
		}
		admitsOnlyWhatUpstreamsReadAlike(t, set, target, true)
	}
	for _, target := range reqpathtest.Canonical {
		for _, rewrite := range []bool{false, true} {
			if !admitsOnlyWhatUpstreamsReadAlike(t, set, target, rewrite) {
				t.Errorf("%q refused (rewrite %v)", target, rewrite)
			}
		}
	}
}

type admitCase struct {
	name, method, target string
	rewrite              bool
	cookie, host         string
	code                 string
	portal               bool
	path                 string // after Admit, when admitted
}

func (c admitCase) run(t *testing.T) {
	r, err := readRequest(c.method, c.target)
	if err != nil {
		t.Fatal(err)
	}
	if c.cookie != "" {
		r.Header.Set("Cookie", c.cookie)
	}
	if c.host != "" {
		r.Host = c.host
	}
	a := Admit(r, c.rewrite)
	if a.Code != c.code || a.Portal != c.portal {
		t.Fatalf("Admit(%s %s) = %+v, want code %q portal %v", c.method, c.target, a, c.code, c.portal)
	}
	if c.path != "" && (r.URL.Path != c.path || !strings.HasPrefix(r.RequestURI, c.path)) {
		t.Fatalf("path %q, RequestURI %q; want %q", r.URL.Path, r.RequestURI, c.path)
	}
}

func TestAdmit(t *testing.T) {
	many := strings.Repeat("idgate_session=x; ", MaxIdgateCookies+1)
	for _, c := range []admitCase{
		{name: "invariant 11: the portal prefix in another case is refused, not passed to the upstream", method: "GET", target: "/.IDGATE/login", code: CodePathNotCanonical},
		{name: "invariant 11: the bare portal name is refused", method: "GET", target: "/.idgate", code: CodePathNotCanonical},
		{name: "invariant 11: an encoded portal prefix is refused", method: "GET", target: "/%2eidgate/login", code: CodePathNotCanonical},
		{name: "the portal prefix goes to the portal", method: "GET", target: "/.idgate/login?rd=/x", portal: true},
		{name: "CONNECT is refused", method: "CONNECT", target: "shop.example:443", code: CodeMethodNotAllowed},
		{name: "asterisk-form is refused", method: "OPTIONS", target: "*", code: CodePathNotCanonical},
		{name: "a long path is refused before any work", method: "GET", target: "/" + strings.Repeat("a", 5000), code: CodePathTooLong},
		{name: "rewrite mode resolves Tomcat's ..;", method: "GET", target: "/public/..;/admin/x?y=1", rewrite: true, path: "/admin/x"},
		{name: "rewrite mode still refuses double encoding", method: "GET", target: "/public/%252e%252e/admin", rewrite: true, code: CodePathNotCanonical},
		{name: "rewrite mode still refuses the portal prefix in another case", method: "GET", target: "/x/../.IDGATE/login", rewrite: true, code: CodePathNotCanonical},
		{name: "rewrite mode sends a rewritten portal path to the portal", method: "GET", target: "/x/../.idgate/login", rewrite: true, portal: true},
		{name: "invariant 12: too many idgate cookies are refused", method: "GET", target: "/members/x", cookie: many, code: CodeCookiesTooLarge},
		{name: "invariant 12: a huge Cookie header is refused", method: "GET", target: "/members/x", cookie: "a=" + strings.Repeat("b", MaxCookieBytes), code: CodeCookiesTooLarge},
		{name: "invariant 12: a huge Host is refused", method: "GET", target: "/members/x", host: strings.Repeat("a", MaxHostLen+1), code: CodeBadHost},
		{name: "a Host with other bytes is refused", method: "GET", target: "/members/x", host: "shop.example/x", code: CodeBadHost},
		{name: "an IPv6 Host with a port passes", method: "GET", target: "/members/x", host: "[::1]:8080"},
		{name: "ordinary cookies pass", method: "GET", target: "/members/x", cookie: "idgate_session=x; idgate_state=y; PHPSESSID=z"},
	} {
		t.Run(c.name, c.run)
	}
}

func TestIdentityTrailersAreStripped(t *testing.T) {
	body := "5\r\nhello\r\n0\r\nX-User-Id: naver:admin\r\nX_User_Id: naver:admin\r\nX-Idgate-Assertion: forged\r\nX-Checksum: 1\r\n\r\n"
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader("POST /members/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-User-Id, X-Checksum\r\n\r\n" + body)))
	if err != nil {
		t.Fatal(err)
	}
	StripIdentityTrailers(r, []string{"X-User-Id"})
	if _, ok := r.Trailer["X-User-Id"]; ok {
		t.Fatal("invariant 1: a declared identity trailer is still announced")
	}
	if _, err := io.ReadAll(r.Body); err != nil {
		t.Fatal(err)
	}
	if len(r.Trailer) != 1 || r.Trailer.Get("X-Checksum") != "1" {
		t.Fatalf("invariant 1: trailers after the body: %v", r.Trailer)
	}
}

func TestHeaderAliasesAreStripped(t *testing.T) {
	h := http.Header{"X_user_id": {"forged"}, "X.User.Id": {"forged"}, "X_idgate_assertion": {"forged"}, "X-User-Idx": {"kept"}}
	StripIdentityHeaders(h, []string{"X-User-Id"})
	if len(h) != 1 || h.Get("X-User-Idx") != "kept" {
		t.Fatalf("invariant 1: aliases left: %v", h)
	}
}

func FuzzAdmit(f *testing.F) {
	for _, s := range append(reqpathtest.Hostile, reqpathtest.Canonical...) {
		f.Add(s, false)
	}
	set := upstreamSet(f)
	f.Fuzz(func(t *testing.T, target string, rewrite bool) {
		admitsOnlyWhatUpstreamsReadAlike(t, set, target, rewrite)
	})
}

func BenchmarkAdmit(b *testing.B) {
	r, _ := readRequest("GET", "/members/board/list.php?id=3")
	r.Header.Set("Cookie", "idgate_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA; PHPSESSID=x")
	b.ReportAllocs()
	for b.Loop() {
		if a := Admit(r, false); a.Code != "" {
			b.Fatal(a.Code)
		}
	}
}
