package e2e

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/examples/demo/sandbox"
	"github.com/idgate/idgate/providers/naver/navertest"
)

// TestHTTPSUsesHostPrefixedSecureCookies runs the sandbox site over HTTPS (Caddy's internal CA):
// the session cookie is __Host-idgate_session, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain.
func TestHTTPSUsesHostPrefixedSecureCookies(t *testing.T) {
	port, _ := sandbox.FreePort()
	cf := strings.Replace(sb.Caddyfile, "\tauto_https off\n", "\tauto_https disable_redirects\n\tlocal_certs\n\tskip_install_trust\n", 1)
	cf += fmt.Sprintf("\nhttps://localhost:%d {\n\ttls internal\n\tidgate\n\trespond \"members area: {http.auth.user.id}\"\n}\n", port)
	withCaddyfile(t, cf)
	base := fmt.Sprintf("https://localhost:%d", port)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) *http.Response {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Accept", "text/html")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// The internal CA issues the certificate in the background: wait for the first handshake.
	for i := 0; ; i++ {
		resp, err := c.Get(base + "/.idgate/jwks.json")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i > 100 {
			t.Fatalf("HTTPS site never came up: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	sb.Naver.SetKnobs(navertest.Knobs{AutoApprove: freshNaverUser(t)})
	defer sbReset()
	resp := get(base + "/.idgate/login?provider=naver&rd=/members/x")
	var binding *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "__Host-idgate_state" {
			binding = ck
		}
	}
	if binding == nil || !binding.Secure || !binding.HttpOnly {
		t.Fatalf("login binding cookie over HTTPS: %v", resp.Header["Set-Cookie"])
	}
	if u, _ := url.Parse(resp.Header.Get("Location")); !strings.Contains(u.Query().Get("redirect_uri"), "https://localhost:") {
		t.Fatalf("redirect_uri over HTTPS: %s", resp.Header.Get("Location"))
	}
	resp = get(resp.Header.Get("Location"))
	resp = get(resp.Header.Get("Location"))
	var session string
	for _, line := range resp.Header["Set-Cookie"] {
		if strings.HasPrefix(line, "__Host-idgate_session=") {
			session = line
		}
	}
	for _, attr := range []string{"Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(session, attr) {
			t.Fatalf("session cookie %q lacks %s", session, attr)
		}
	}
	if strings.Contains(strings.ToLower(session), "domain=") {
		t.Fatalf("__Host- cookie with a Domain: %q", session)
	}
	if resp := get(base + "/members/x"); resp.StatusCode != 200 {
		t.Fatalf("signed-in request over HTTPS: %d", resp.StatusCode)
	}
	// A plain-HTTP session cookie name means nothing on the HTTPS site.
	req, _ := http.NewRequest("GET", base+"/members/x", nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Cookie", "idgate_session="+strings.TrimPrefix(strings.Split(session, ";")[0], "__Host-idgate_session="))
	resp2, err := (&http.Client{Transport: c.Transport}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 401 {
		t.Fatalf("a value sealed for __Host-idgate_session opened under another name: %d", resp2.StatusCode)
	}
}
