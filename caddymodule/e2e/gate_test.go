package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/idgate/idgate/internal/assertion"
	"github.com/idgate/idgate/providers/naver/navertest"
	"github.com/idgate/idgate/providers/oidc/oidctest"
)

const kimID = "naver:CwcmtlCsh9RL2AS_gK-m_ET1UrQsTzcmer_RYWLJt7o"

func TestAnonymousNavigationGoesToLoginAndBack(t *testing.T) {
	b := newBrowser(t)
	resp, _ := b.nav("/members/board?page=2")
	loginURL := location(t, resp)
	if loginURL != "/.idgate/login?rd=%2Fmembers%2Fboard%3Fpage%3D2" {
		t.Fatalf("challenge redirect = %q", loginURL)
	}
	resp, page := b.nav(loginURL)
	if resp.StatusCode != 200 || !strings.Contains(page, "네이버 로그인") || !strings.Contains(page, "카카오 로그인") || !strings.Contains(page, `lang="ko"`) {
		t.Fatalf("login page: %d %s", resp.StatusCode, page)
	}
	// The VIP page accepts Naver only: its login page offers only Naver.
	_, page = b.nav("/.idgate/login?rd=%2Fvip%2Flounge")
	if !strings.Contains(page, "login-naver") || strings.Contains(page, "login-kakao") {
		t.Fatal("VIP login page must list Naver only")
	}
	// English when the browser prefers it.
	_, page = b.do("GET", loginURL, map[string]string{"Accept": "text/html", "Accept-Language": "en-US,en;q=0.9,ko;q=0.5"}, nil)
	if !strings.Contains(page, "Log in with NAVER") || !strings.Contains(page, `lang="en"`) {
		t.Fatal("English login page expected")
	}
	b.login("naver", "kim", "/members/board?page=2")
	status, rep := b.report("/members/board", nil)
	if status != 200 || !rep.Verified || rep.Headers["X-User-Id"] != kimID || rep.Headers["X-User-Provider"] != "naver" {
		t.Fatalf("upstream saw %d %+v", status, rep)
	}
	if rep.Headers["X-Remote-User"] != kimID || rep.Headers["X-Remote-Policy"] != "members" {
		t.Fatalf("placeholders {http.auth.user.id} / {idgate.policy}: %+v", rep.Headers)
	}
	// The upstream sees its own cookies, never idgate's session or login-binding cookie.
	u, _ := url.Parse(sb.URL)
	b.jar.SetCookies(u, []*http.Cookie{{Name: "PHPSESSID", Value: "legacy", Path: "/"}})
	_, rep = b.report("/members/board", nil)
	if fmt.Sprint(rep.Cookies) != "[PHPSESSID]" {
		t.Fatalf("cookies the upstream received: %v", rep.Cookies)
	}
}

func TestAssertionVerifiesWithOnlyTheJWKS(t *testing.T) {
	b := newBrowser(t)
	b.login("naver", "kim", "/vip/lounge")
	_, rep := b.report("/vip/lounge", nil)
	tok := rep.Headers["X-Idgate-Assertion"]
	resp, err := http.Get(sb.URL + "/.idgate/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set assertion.JWKS
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("jwks: %v", err)
	}
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(tok, claims, set.Keyfunc(), jwt.WithValidMethods([]string{"ES256"}),
		jwt.WithIssuer(sb.URL), jwt.WithAudience(sb.URL), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		t.Fatalf("assertion does not verify: %v", err)
	}
	if parsed.Header["kid"] == "" || parsed.Header["alg"] != "ES256" {
		t.Fatalf("header = %v", parsed.Header)
	}
	for _, c := range []string{"iss", "aud", "sub", "iat", "exp", "auth_time", "amr", "policy"} {
		if _, ok := claims[c]; !ok {
			t.Errorf("claim %s missing: %v", c, claims)
		}
	}
	if claims["sub"] != kimID || claims["policy"] != "vip-lounge" || claims["name"] != "김민준" || claims["email"] != "minjun@example.com" {
		t.Fatalf("claims = %v", claims)
	}
	// invariant 10: the members policy lists no PII, so none reaches the upstream there.
	_, rep = b.report("/members/board", nil)
	parts := strings.Split(rep.Headers["X-Idgate-Assertion"], ".")
	payload, _ := jwt.NewParser().DecodeSegment(parts[1])
	for _, pii := range []string{"김민준", "minjun@", "010-", "birthyear", "mobile"} {
		if strings.Contains(string(payload), pii) {
			t.Errorf("invariant 10: members assertion carries %q: %s", pii, payload)
		}
	}
	if rep.Headers["X-User-Name"] != "" || rep.Headers["X-User-Email"] != "" {
		t.Errorf("invariant 10: PII headers on a policy that does not list them: %v", rep.Headers)
	}
}

func TestForgedIdentityHeadersNeverReachTheUpstream(t *testing.T) {
	forged := map[string]string{
		"X-Idgate-Assertion": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.", "X-Idgate-Sub": "admin",
		"X-User-Id": "admin", "X-User-Name": "관리자", "X-User-Email": "admin@evil.example", "X-User-Provider": "naver",
	}
	hdr := func() map[string]string {
		m := map[string]string{}
		for k, v := range forged {
			m[k] = v
		}
		return m
	}
	anon := newBrowser(t)
	status, rep := anon.report("/public/notice", hdr())
	if status != 200 || len(rep.Headers) != 0 {
		t.Fatalf("invariant 1: anonymous public request delivered %v", rep.Headers)
	}
	// Signed in with a persona that declined e-mail and name: the claims are absent, the forged
	// headers must still be gone.
	b := newBrowser(t)
	b.login("naver", "park", "/vip/lounge")
	_, rep = b.report("/vip/lounge", hdr())
	if rep.Headers["X-User-Email"] != "" || rep.Headers["X-User-Name"] != "" || rep.Headers["X-Idgate-Sub"] != "" {
		t.Fatalf("invariant 1: forged headers with absent claims reached the upstream: %v", rep.Headers)
	}
	if !rep.Verified || rep.Headers["X-User-Id"] == "admin" || !strings.HasPrefix(rep.Headers["X-User-Id"], "naver:Pq1") {
		t.Fatalf("invariant 1: %v", rep.Headers)
	}
	// The members policy does not forward X-User-Email, but some policy does: stripped there too.
	_, rep = b.report("/members/board", hdr())
	if rep.Headers["X-User-Email"] != "" || rep.Headers["X-User-Provider"] != "naver" {
		t.Fatalf("invariant 1: %v", rep.Headers)
	}
	// Lower-case and HTTP/2 style names too.
	req, _ := http.NewRequest("GET", sb.URL+"/public/x?format=json", nil)
	req.Header["x-idgate-assertion"] = []string{"forged"}
	req.Header["x-user-id"] = []string{"admin"}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(data), "forged") || strings.Contains(string(data), "admin") {
		t.Fatalf("invariant 1: lower-case forged headers delivered: %s", data)
	}
}

func TestHostileRedirectTargetsEndOnThisSite(t *testing.T) {
	for _, rd := range []string{"//evil.example/x", "/\\evil.example", "https://evil.example/", "/%0d%0aSet-Cookie:x=1", "/ok\r\nLocation: https://evil.example", "javascript:alert(1)", "\\\\evil.example"} {
		b := newBrowser(t)
		resp, body := b.loginFlow("naver", "kim", rd)
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("rd %q: %d %s", rd, resp.StatusCode, body)
		}
		u, err := url.Parse(loc)
		if err != nil || u.Host != "" || u.Scheme != "" || strings.HasPrefix(loc, "//") || strings.ContainsAny(loc, "\\\r\n") {
			t.Errorf("invariant 2: rd %q redirected to %q", rd, loc)
		}
	}
}

func TestCallbackReplayAndForeignBrowserAreRefused(t *testing.T) {
	b := newBrowser(t)
	sb.Naver.SetKnobs(navertest.Knobs{AutoApprove: "kim"})
	resp, _ := b.nav("/.idgate/login?provider=naver&rd=/members/x")
	authorize := location(t, resp)
	resp, _ = b.nav(authorize)
	cb := location(t, resp)
	// Another browser that got hold of the callback URL cannot use it (state bound to the browser).
	other := newBrowser(t)
	resp, page := other.nav(cb)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, `data-code="state_mismatch"`) {
		t.Fatalf("invariant 3: foreign browser: %d", resp.StatusCode)
	}
	// The state was consumed by that attempt; the rightful browser must start again.
	resp, page = b.nav(cb)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, `data-code="state_invalid"`) {
		t.Fatalf("invariant 3: consumed state: %d", resp.StatusCode)
	}
	// A clean login then a replay of its callback.
	resp, _ = b.nav("/.idgate/login?provider=naver&rd=/members/x")
	resp, _ = b.nav(location(t, resp))
	cb = location(t, resp)
	if resp, _ := b.nav(cb); resp.StatusCode != http.StatusFound {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	resp, page = b.nav(cb)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, `data-code="state_invalid"`) || !strings.Contains(page, "처음부터 다시 로그인하세요") {
		t.Fatalf("invariant 3: replayed callback: %d %s", resp.StatusCode, page)
	}
	// PKCE and nonce go to the provider that supports them (Kakao OIDC), not to classic Naver.
	resp, _ = b.nav("/.idgate/login?provider=kakao&rd=/members/x")
	ku, _ := url.Parse(location(t, resp))
	if ku.Query().Get("code_challenge_method") != "S256" || len(ku.Query().Get("nonce")) < 20 || len(ku.Query().Get("state")) < 40 {
		t.Fatalf("invariant 3: kakao authorize URL lacks PKCE/nonce: %s", ku)
	}
	nu, _ := url.Parse(authorize)
	if nu.Query().Get("code_challenge") != "" {
		t.Fatal("classic Naver got a PKCE challenge it does not document")
	}
}

func TestKakaoLoginAndProviderRestrictions(t *testing.T) {
	b := newBrowser(t)
	b.login("kakao", "1001", "/members/x")
	status, rep := b.report("/members/x", nil)
	if status != 200 || rep.Headers["X-User-Id"] != "kakao:1001" || rep.Headers["X-User-Provider"] != "kakao" {
		t.Fatalf("kakao: %d %+v", status, rep)
	}
	// VIP is Naver only: a Kakao session is challenged with provider_not_accepted.
	resp, body := b.do("GET", "/vip/lounge", map[string]string{"Accept": "application/json"}, nil)
	m := decodeJSON(t, body)
	if resp.StatusCode != 401 || m["code"] != "provider_not_accepted" || m["requirement"] != "login" {
		t.Fatalf("kakao on VIP: %d %v", resp.StatusCode, m)
	}
	resp, _ = b.nav("/vip/lounge")
	if !strings.HasPrefix(location(t, resp), "/.idgate/login?rd=") {
		t.Fatal("browser on VIP with Kakao session should go to login")
	}
	// Starting a Kakao login for a Naver-only page is refused.
	resp, page := b.nav("/.idgate/login?provider=kakao&rd=/vip/lounge")
	if resp.StatusCode != 401 || !strings.Contains(page, `data-code="provider_not_accepted"`) {
		t.Fatalf("kakao login for VIP: %d", resp.StatusCode)
	}
}

func TestAPIClientsGetJSONChallenges(t *testing.T) {
	b := newBrowser(t)
	for _, c := range []struct {
		method string
		hdr    map[string]string
	}{
		{"GET", map[string]string{"Accept": "application/json"}},
		{"GET", map[string]string{"X-Requested-With": "XMLHttpRequest", "Accept": "*/*"}},
		{"GET", map[string]string{"Sec-Fetch-Mode": "cors", "Accept": "text/html"}},
		{"POST", map[string]string{}},
	} {
		resp, body := b.do(c.method, "/api/orders", c.hdr, nil)
		m := decodeJSON(t, body)
		if resp.StatusCode != 401 || m["code"] != "login_required" || m["requirement"] != "login" || !strings.HasPrefix(m["login_url"].(string), "/.idgate/login?rd=") {
			t.Fatalf("%s %v: %d %v", c.method, c.hdr, resp.StatusCode, m)
		}
	}
	resp, body := b.do("GET", "/no/policy/here", map[string]string{"Accept": "application/json"}, nil)
	if resp.StatusCode != 403 || decodeJSON(t, body)["code"] != "no_policy" {
		t.Fatalf("uncovered path: %d %s", resp.StatusCode, body)
	}
	resp, page := b.nav("/no/policy/here")
	if resp.StatusCode != 403 || !strings.Contains(page, "접근 정책이 없어") {
		t.Fatalf("uncovered path page: %d", resp.StatusCode)
	}
	resp, body = b.do("GET", "/.idgate/session", map[string]string{"Accept": "application/json"}, nil)
	if resp.StatusCode != 401 || decodeJSON(t, body)["code"] != "no_session" {
		t.Fatalf("session without login: %d %s", resp.StatusCode, body)
	}
	b.login("naver", "kim", "/api/orders")
	resp, body = b.do("GET", "/.idgate/session", nil, nil)
	if m := decodeJSON(t, body); resp.StatusCode != 200 || m["sub"] != kimID || m["provider"] != "naver" {
		t.Fatalf("session: %d %v", resp.StatusCode, m)
	}
	if strings.Contains(body, "김민준") {
		t.Fatal("session JSON exposes profile data")
	}
}

func TestLogoutRequiresSameOriginAndRevokesServerSide(t *testing.T) {
	b := newBrowser(t)
	b.login("naver", "kim", "/members/x")
	stolen := *b.sessionCookie()
	for _, hdr := range []map[string]string{
		{"Origin": "http://evil.example"},
		{"Sec-Fetch-Site": "cross-site"},
		{},
	} {
		resp, body := b.do("POST", "/.idgate/logout", hdr, url.Values{})
		if resp.StatusCode != 403 || !strings.Contains(body, "cross_origin") {
			t.Fatalf("invariant 6: cross-origin logout %v: %d %s", hdr, resp.StatusCode, body)
		}
	}
	if status, _ := b.report("/members/x", nil); status != 200 {
		t.Fatal("a refused logout still logged the user out")
	}
	// GET only shows a confirmation page.
	resp, page := b.nav("/.idgate/logout")
	if resp.StatusCode != 200 || !strings.Contains(page, `id="logout"`) {
		t.Fatalf("logout page: %d", resp.StatusCode)
	}
	resp, _ = b.do("POST", "/.idgate/logout", map[string]string{"Origin": sb.URL, "Accept": "text/html"}, url.Values{"rd": {"/public/bye"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/public/bye" {
		t.Fatalf("logout: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if status, _ := b.report("/members/x", nil); status != 401 {
		t.Fatalf("after logout: %d", status)
	}
	// invariant 8: the cookie kept by someone else is refused too.
	if status, _ := browserWith(t, stolen).report("/members/x", nil); status != 401 {
		t.Fatalf("invariant 8: revoked cookie still accepted: %d", status)
	}
}

func TestTamperedCookieIsAnonymous(t *testing.T) {
	b := newBrowser(t)
	b.login("naver", "kim", "/members/x")
	c := b.sessionCookie()
	v := []byte(c.Value)
	v[len(v)/2] ^= 1
	if v[len(v)/2] == '-' || v[len(v)/2] == '_' {
		v[len(v)/2] = 'A'
	}
	forged := newBrowser(t)
	u, _ := url.Parse(sb.URL)
	forged.jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: string(v), Path: "/"}})
	resp, _ := forged.nav("/members/x")
	if !strings.HasPrefix(location(t, resp), "/.idgate/login") {
		t.Fatal("tampered cookie was accepted")
	}
	cleared := false
	for _, sc := range resp.Cookies() {
		if sc.Name == "idgate_session" && sc.MaxAge < 0 {
			cleared = true
		}
	}
	if !cleared {
		t.Fatal("tampered cookie was not deleted")
	}
}

type providerCase struct {
	name    string
	naver   navertest.Knobs
	code    string
	status  int
	message string // a piece of the Korean page
}

func (c providerCase) run(t *testing.T) {
	b := newBrowser(t)
	sb.Naver.SetKnobs(c.naver)
	defer sb.Naver.SetKnobs(navertest.Knobs{})
	resp, _ := b.nav("/.idgate/login?provider=naver&rd=/members/x")
	resp, _ = b.nav(location(t, resp))
	resp, page := b.nav(location(t, resp))
	if resp.StatusCode != c.status || !strings.Contains(page, `data-code="`+c.code+`"`) || !strings.Contains(page, c.message) {
		t.Fatalf("status %d, page %s", resp.StatusCode, page)
	}
	if !strings.Contains(page, `id="retry"`) && c.code != "misconfigured" && c.code != "forbidden" {
		t.Fatal("no retry link on a retryable error")
	}
	if b.sessionCookie() != nil {
		t.Fatal("a failed login set a session")
	}
}

func TestNaverErrorsBecomeClearPages(t *testing.T) {
	for _, c := range []providerCase{
		{"user cancels consent", navertest.Knobs{Deny: true}, "access_denied", 400, "로그인이 취소되었습니다"},
		{"code rejected with HTTP 200", navertest.Knobs{AutoApprove: "kim", TokenError: "invalid_request"}, "invalid_grant", 400, "이미 사용되었습니다"},
		{"token endpoint down", navertest.Knobs{AutoApprove: "kim", TokenStatus: 503}, "provider_unavailable", 503, "잠시 후 다시 시도하세요"},
		{"profile token rejected (024)", navertest.Knobs{AutoApprove: "kim", ProfileResultCode: "024"}, "invalid_token", 502, "다시 로그인하세요"},
		{"profile 024 with HTTP 200", navertest.Knobs{AutoApprove: "kim", ProfileResultCode: "024", ProfileErrorsWith200: true}, "invalid_token", 502, "다시 로그인하세요"},
		{"profile permission missing", navertest.Knobs{AutoApprove: "kim", ProfileResultCode: "403"}, "forbidden", 502, "사이트 관리자에게 문의하세요"},
		{"client rejected", navertest.Knobs{AutoApprove: "kim", TokenError: "unauthorized_client"}, "misconfigured", 500, "사이트 관리자에게 문의하세요"},
		{"naver slow", navertest.Knobs{AutoApprove: "kim", Delay: 4 * time.Second}, "provider_unavailable", 503, "이미 로그인된 세션에는 영향이 없습니다"},
	} {
		t.Run(c.name, c.run)
	}
}

func TestProviderFailureLeavesValidSessionsAlone(t *testing.T) {
	b := newBrowser(t)
	b.login("naver", "kim", "/members/x")
	defer sb.Naver.SetKnobs(navertest.Knobs{})
	defer sb.Kakao.SetKnobs(oidctest.Knobs{})
	other := newBrowser(t)
	sb.Kakao.SetKnobs(oidctest.Knobs{AutoApprove: "1001"})
	resp, _ := other.nav("/.idgate/login?provider=kakao&rd=/members/x")
	resp, _ = other.nav(location(t, resp))
	cb := location(t, resp)
	sb.Kakao.SetKnobs(oidctest.Knobs{TokenStatus: 500})
	resp, body := other.do("GET", cb, map[string]string{"Accept": "application/json"}, nil)
	if m := decodeJSON(t, body); resp.StatusCode != 503 || m["code"] != "provider_unavailable" || m["retryable"] != true || m["retry_url"] == nil {
		t.Fatalf("invariant 9: kakao down: %d %v", resp.StatusCode, m)
	}
	sb.Naver.SetKnobs(navertest.Knobs{AutoApprove: "kim", TokenStatus: 503})
	resp, _ = other.nav("/.idgate/login?provider=naver&rd=/members/x")
	resp, _ = other.nav(location(t, resp))
	resp, page := other.nav(location(t, resp))
	if resp.StatusCode != 503 || !strings.Contains(page, "provider_unavailable") {
		t.Fatalf("invariant 9: naver down: %d", resp.StatusCode)
	}
	if status, rep := b.report("/members/x", nil); status != 200 || !rep.Verified {
		t.Fatalf("invariant 9: valid session broken while providers are down: %d", status)
	}
}

func TestManyConcurrentRequestsOnOneSession(t *testing.T) {
	b := newBrowser(t)
	b.login("naver", "kim", "/members/x")
	c := b.sessionCookie()
	var wg sync.WaitGroup
	errs := make(chan string, 400)
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				req, _ := http.NewRequest("GET", sb.URL+"/members/x?format=json", nil)
				req.AddCookie(c)
				req.Header.Set("X-User-Id", "admin")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err.Error()
					continue
				}
				var rep struct {
					Verified bool
					Headers  map[string]string
				}
				json.NewDecoder(resp.Body).Decode(&rep)
				resp.Body.Close()
				if resp.StatusCode != 200 || !rep.Verified || rep.Headers["X-User-Id"] != kimID {
					errs <- resp.Status
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("concurrent request failed: %s", e)
	}
}

func TestReloadKeepsSessionsAndRevocations(t *testing.T) {
	b := newBrowser(t)
	b.login("naver", "kim", "/members/x")
	loggedOut := newBrowser(t)
	loggedOut.login("naver", "lee", "/members/x")
	kept := *loggedOut.sessionCookie()
	if resp, _ := loggedOut.do("POST", "/.idgate/logout", map[string]string{"Origin": sb.URL, "Accept": "application/json"}, url.Values{}); resp.StatusCode != 200 {
		t.Fatal("logout failed")
	}
	// A copy of the cookie kept from before the logout (a fresh browser each time, since a
	// refused cookie is deleted from the jar).
	revoked := func() *browser { return browserWith(t, kept) }
	if status, _ := revoked().report("/members/x", nil); status != 401 {
		t.Fatalf("revoked cookie accepted: %d", status)
	}
	if err := runCaddyfile(sb.Caddyfile); err != nil {
		t.Fatal(err)
	}
	waitReady(t)
	if status, rep := b.report("/members/x", nil); status != 200 || !rep.Verified {
		t.Fatalf("session lost across reload: %d", status)
	}
	if status, _ := revoked().report("/members/x", nil); status != 401 {
		t.Fatalf("revocation lost across reload: %d", status)
	}
	// A full stop and start: keys come back from Caddy's storage, revocations too.
	stopCaddy()
	if err := runCaddyfile(sb.Caddyfile); err != nil {
		t.Fatal(err)
	}
	waitReady(t)
	if status, rep := b.report("/members/x", nil); status != 200 || !rep.Verified {
		t.Fatalf("session lost across restart: %d", status)
	}
	if status, _ := revoked().report("/members/x", nil); status != 401 {
		t.Fatalf("invariant 8: revoked session valid again after restart: %d", status)
	}
}

func TestNoSecretsOrPIIInLogs(t *testing.T) {
	// Drive logins, failures and logouts, then read everything Caddy logged.
	b := newBrowser(t)
	b.login("naver", "kim", "/vip/lounge")
	b.report("/vip/lounge", nil)
	sb.Naver.SetKnobs(navertest.Knobs{AutoApprove: "kim", ProfileResultCode: "024"})
	newBrowser(t).loginFlow("naver", "kim", "/members/x")
	sb.Naver.SetKnobs(navertest.Knobs{})
	b.do("POST", "/.idgate/logout", map[string]string{"Origin": sb.URL}, url.Values{})
	time.Sleep(200 * time.Millisecond)
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	logs := string(data)
	if !strings.Contains(logs, `"event":"login"`) || !strings.Contains(logs, `"subject_hash"`) {
		t.Fatalf("expected login events with subject hashes in the log")
	}
	for _, secret := range []string{"demo-naver-secret", "demo-kakao-secret", "CwcmtlCsh9RL2AS", "김민준", "minjun@example.com", "010-1234-5678", "AAAA", "idgate_session=", "code="} {
		if strings.Contains(logs, secret) {
			t.Errorf("invariant 10: log contains %q", secret)
		}
	}
}

func TestSubjectWithControlCharactersIsRefusedAtLogin(t *testing.T) {
	b := newBrowser(t)
	resp, body := b.loginFlow("kakao", "1001\r\nX-User-Id: naver:admin", "/members/x")
	if resp.StatusCode < 400 || !strings.Contains(body, "bad_response") || b.sessionCookie() != nil {
		t.Fatalf("a CR/LF subject was accepted: %d %s", resp.StatusCode, body)
	}
}
