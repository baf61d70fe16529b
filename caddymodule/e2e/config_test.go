package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/idgate/idgate/examples/demo/sandbox"
	"github.com/idgate/idgate/internal/assertion"
	"github.com/idgate/idgate/providers/naver/navertest"
)

// withCaddyfile runs cf for the duration of the test, then puts the sandbox's config back.
func withCaddyfile(t *testing.T, cf string) {
	t.Helper()
	if err := runCaddyfile(cf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(cf, "http://:"+strings.TrimPrefix(sb.URL, "http://localhost:")+" {") {
		waitReady(t) // the sandbox site is part of this config
	}
	t.Cleanup(func() {
		if err := runCaddyfile(sb.Caddyfile); err != nil {
			t.Fatalf("restoring the sandbox config: %v", err)
		}
		waitReady(t)
	})
}

// waitReady waits until the sandbox site answers on fresh connections after a config change
// (a reload that changes the set of servers can briefly refuse new connections).
func waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	ok := 0
	for ok < 3 {
		tr := &http.Transport{DisableKeepAlives: true}
		resp, err := (&http.Client{Transport: tr, Timeout: time.Second}).Get(sb.URL + "/.idgate/jwks.json")
		if err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			ok++
			continue
		}
		if resp != nil {
			resp.Body.Close()
		}
		ok = 0
		if time.Now().After(deadline) {
			t.Fatalf("the site did not come back after a reload: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNaverOIDCSurfaceConfiguredKeysAndExplicitPolicy(t *testing.T) {
	naver := navertest.NewServer("oidc-client", "oidc-secret")
	defer naver.Close()
	naver.SetKnobs(navertest.Knobs{AutoApprove: "kim"})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	site := fmt.Sprintf("http://localhost:%d", port)
	app := &http.Server{Handler: sandbox.NewLegacyApp(site)}
	go app.Serve(l)
	defer app.Close()
	caddyPort, _ := sandbox.FreePort()
	dir := t.TempDir()
	pol := filepath.Join(dir, "policies")
	os.MkdirAll(pol, 0o755)
	os.WriteFile(filepath.Join(pol, "members.yaml"), []byte("paths: [/members/*]\nrequire: {login: [naver]}\nforward: {headers: {X-User-Id: sub}}\n"), 0o644)
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{42}, 32))
	cf := fmt.Sprintf(`{
	admin off
	auto_https off
	persist_config off
	storage file_system %s
	idgate {
		policies %s
		naver {
			client_id oidc-client
			client_secret oidc-secret
			oidc %s
		}
		session {
			key %s
		}
		assertion {
			algorithm EdDSA
			issuer https://idgate.example
			audience legacy-board
		}
	}
}
http://:%d {
	idgate members
	reverse_proxy 127.0.0.1:%d
}
`, filepath.Join(dir, "caddy"), pol, naver.URL(), key, caddyPort, port)
	withCaddyfile(t, cf)

	base := fmt.Sprintf("http://localhost:%d", caddyPort)
	b := newBrowser(t)
	// The explicit policy governs every path of the site, even one no file lists.
	resp, _ := b.nav(base + "/anything")
	if loc := location(t, resp); !strings.HasPrefix(loc, "/.idgate/login?rd=%2Fanything") {
		t.Fatalf("explicit policy: %q", loc)
	}
	resp, _ = b.nav(base + "/.idgate/login?provider=naver&rd=/anything")
	authorize := location(t, resp)
	if !strings.HasPrefix(authorize, naver.URL()+"/oauth2/authorize?") || !strings.Contains(authorize, "code_challenge_method=S256") || !strings.Contains(authorize, "scope=openid") {
		t.Fatalf("Naver OIDC authorize URL: %s", authorize)
	}
	resp, _ = b.nav(authorize)
	resp, body := b.nav(location(t, resp))
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/anything" {
		t.Fatalf("OIDC callback: %d %s", resp.StatusCode, body)
	}
	resp, body = b.do("GET", base+"/anything?format=json", map[string]string{"Accept": "application/json"}, nil)
	var rep sandbox.Report
	json.Unmarshal([]byte(body), &rep)
	if resp.StatusCode != 200 || rep.Headers["X-User-Id"] != kimID {
		t.Fatalf("upstream: %d %s", resp.StatusCode, body)
	}
	resp, body = b.do("GET", base+"/.idgate/jwks.json", nil, nil)
	var set assertion.JWKS
	json.Unmarshal([]byte(body), &set)
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(rep.Headers["X-Idgate-Assertion"], claims, set.Keyfunc(), jwt.WithValidMethods([]string{"EdDSA"}),
		jwt.WithIssuer("https://idgate.example"), jwt.WithAudience("legacy-board")); err != nil {
		t.Fatalf("EdDSA assertion with configured iss/aud: %v (jwks %s)", err, body)
	}
	if claims["policy"] != "members" {
		t.Fatalf("claims = %v", claims)
	}
	// Sessions sealed with a configured key survive losing Caddy's storage entirely.
	c := *b.sessionCookie()
	os.RemoveAll(filepath.Join(dir, "caddy"))
	stopCaddy()
	if err := runCaddyfile(cf); err != nil {
		t.Fatal(err)
	}
	resp, _ = browserWith(t, c).do("GET", base+"/anything?format=json", map[string]string{"Accept": "application/json"}, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("configured session key: session lost after storage wipe: %d", resp.StatusCode)
	}
	// A bad nonce from Naver's OIDC surface is refused.
	naver.SetKnobs(navertest.Knobs{AutoApprove: "kim", BadNonce: true})
	other := newBrowser(t)
	resp, _ = other.nav(base + "/.idgate/login?provider=naver&rd=/x")
	resp, _ = other.nav(location(t, resp))
	resp, page := other.nav(location(t, resp))
	if resp.StatusCode != 502 || !strings.Contains(page, `data-code="invalid_id_token"`) {
		t.Fatalf("bad nonce: %d", resp.StatusCode)
	}
}
