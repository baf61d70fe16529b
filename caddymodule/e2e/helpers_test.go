// Package e2e runs idgate inside a real Caddy (in this test process) in front of the demo's
// legacy app, with the Naver and Kakao fakes. It is the one package that starts Caddy; its tests
// run one after another on one port plan. Under CI=true nothing here skips.
package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idgate/idgate/examples/demo/sandbox"
	"github.com/idgate/idgate/providers/naver/navertest"
	"github.com/idgate/idgate/providers/oidc/oidctest"
)

var sb *sandbox.Sandbox
var logFile string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "idgate-e2e-")
	if err != nil {
		panic(err)
	}
	logFile = filepath.Join(dir, "caddy.log")
	sb, err = sandbox.Start(sandbox.Options{DataDir: dir, LogFile: logFile, ProviderTimeout: "2s", LoginRate: "off"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting sandbox:", err)
		os.Exit(1)
	}
	code := m.Run()
	sb.Close()
	if os.Getenv("KEEP_E2E") == "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// browser is a cookie-keeping HTTP client that does not follow redirects, so each hop is checked.
type browser struct {
	t   *testing.T
	c   *http.Client
	jar *cookiejar.Jar
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	// Each browser has its own connections, as a real one does: a connection kept alive across
	// a test's config reload would otherwise be reused by the next test.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &browser{t: t, jar: jar, c: &http.Client{Jar: jar, Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func abs(p string) string {
	if strings.HasPrefix(p, "http") {
		return p
	}
	return sb.URL + p
}

// do sends a request; hdr may set any header, including forged identity headers.
func (b *browser) do(method, path string, hdr map[string]string, form url.Values, raw ...[]byte) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	if len(raw) > 0 && raw[0] != nil {
		body = strings.NewReader(string(raw[0]))
	}
	req, err := http.NewRequest(method, abs(path), body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

var navHeaders = map[string]string{"Accept": "text/html,application/xhtml+xml", "Sec-Fetch-Mode": "navigate"}

// nav is a browser navigation (GET, Accept: text/html).
func (b *browser) nav(path string) (*http.Response, string) {
	b.t.Helper()
	return b.do("GET", path, navHeaders, nil)
}

func location(t *testing.T, resp *http.Response) string {
	t.Helper()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("want a redirect, got %d", resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

// loginFlow walks login → provider → callback and returns the callback's response.
func (b *browser) loginFlow(provider, persona, rd string) (*http.Response, string) {
	b.t.Helper()
	switch provider {
	case "naver":
		sb.Naver.SetKnobs(navertest.Knobs{AutoApprove: persona})
	case "kakao":
		sb.Kakao.SetKnobs(oidctest.Knobs{AutoApprove: persona})
	}
	resp, _ := b.nav("/.idgate/login?" + url.Values{"provider": {provider}, "rd": {rd}}.Encode())
	authorize := location(b.t, resp)
	resp, _ = b.nav(authorize)
	cb := location(b.t, resp)
	return b.nav(cb)
}

// login signs in and checks it lands on rd.
func (b *browser) login(provider, persona, rd string) {
	b.t.Helper()
	resp, body := b.loginFlow(provider, persona, rd)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != rd {
		b.t.Fatalf("login via %s: %d %q %s", provider, resp.StatusCode, resp.Header.Get("Location"), body)
	}
}

// report fetches a gated page as JSON from the legacy app: what the upstream received.
func (b *browser) report(path string, hdr map[string]string) (int, sandbox.Report) {
	b.t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	if hdr == nil {
		hdr = map[string]string{}
	}
	if _, ok := hdr["Accept"]; !ok {
		hdr["Accept"] = "application/json"
	}
	resp, body := b.do("GET", path+sep+"format=json", hdr, nil)
	var rep sandbox.Report
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			b.t.Fatalf("report %s: %v: %s", path, err, body)
		}
	}
	return resp.StatusCode, rep
}

func (b *browser) sessionCookie() *http.Cookie {
	u, _ := url.Parse(sb.URL)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == "idgate_session" {
			return c
		}
	}
	return nil
}

func decodeJSON(t *testing.T, body string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("not JSON: %v: %s", err, body)
	}
	return m
}

// browserWith is a new browser holding a copy of cookie c.
func browserWith(t *testing.T, c http.Cookie) *browser {
	b := newBrowser(t)
	u, _ := url.Parse(sb.URL)
	b.jar.SetCookies(u, []*http.Cookie{&c})
	return b
}
