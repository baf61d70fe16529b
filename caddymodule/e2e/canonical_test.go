package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/examples/demo/sandbox"
	"github.com/idgate/idgate/internal/reqpath/reqpathtest"
	"github.com/idgate/idgate/providers/naver/navertest"
)

// The upstreams of TestUpstreamsServeWhatTheGateDecided report the first path segment they served
// ("area") and the policy idgate forwarded (X-User-Policy: empty on public paths).
const frontControllerPHP = `<?php
// A PHP front controller routing on REQUEST_URI, as legacy boards and shops do.
$path = rawurldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH));
$parts = [];
foreach (explode('/', str_replace('\\', '/', $path)) as $seg) {
	if ($seg === '' || $seg === '.') continue;
	if ($seg === '..') { array_pop($parts); continue; }
	$parts[] = $seg;
}
header('Content-Type: application/json');
echo json_encode(['area' => strtolower($parts[0] ?? ''), 'policy' => $_SERVER['HTTP_X_USER_POLICY'] ?? '',
	'user' => $_SERVER['HTTP_X_USER_ID'] ?? '', 'alias' => $_SERVER['HTTP_X_USER_ID_ALIAS'] ?? '']);
`

// areaPolicy is the policy governing each area: what an upstream serving that area must have been
// sent. An area not listed has no policy, and must never be served.
var areaPolicy = map[string]string{"": "", "public": "", "static": "", "members": "members", "admin": "admin"}

type upstreamReport struct {
	Area, Policy, User string
	// Trailers are the identity-named trailers the upstream received after the body.
	Trailers []string
	// Headers are the names of the headers it received.
	Headers []string
}

// semanticsUpstream serves like Tomcat or a raw-path router: it resolves the raw request target
// it received with read.
func semanticsUpstream(t *testing.T, read func(string) string) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _, _ := strings.Cut(r.RequestURI, "?")
		io.Copy(io.Discard, r.Body) // trailers arrive after the body
		rep := upstreamReport{Area: reqpathtest.Area(read(p)), Policy: r.Header.Get("X-User-Policy"), User: r.Header.Get("X-User-Id"), Trailers: []string{}}
		for k := range r.Header {
			rep.Headers = append(rep.Headers, k)
		}
		for k := range r.Trailer {
			if k != "X-Checksum" {
				rep.Trailers = append(rep.Trailers, k+"="+r.Trailer.Get(k))
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(rep)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// phpUpstream starts php-cgi as a FastCGI server with the front controller.
func phpUpstream(t *testing.T) (root string, port int) {
	t.Helper()
	bin, err := exec.LookPath("php-cgi")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("php-cgi is required under CI=true (apt-get install php-cgi)")
		}
		t.Skip("php-cgi not installed; apt-get install php-cgi (mandatory under CI=true)")
	}
	root = t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "index.php"), []byte(frontControllerPHP), 0o644); err != nil {
		t.Fatal(err)
	}
	port, _ = sandbox.FreePort()
	cmd := exec.Command(bin, "-b", fmt.Sprintf("127.0.0.1:%d", port))
	cmd.Env = append(os.Environ(), "PHP_FCGI_CHILDREN=2", "PHP_FCGI_MAX_REQUESTS=0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return root, port
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("php-cgi did not start")
	return
}

// rawRequest sends one request with exactly target as its request target.
func rawRequest(t *testing.T, port int, method, target string, hdr map[string]string, trailer string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n", method, target, port)
	for k, v := range hdr {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	if trailer != "" {
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n" + trailer + "\r\n")
	} else {
		b.WriteString("\r\n")
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %q: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// gateSites runs one Caddy config with idgate in front of a Tomcat-like upstream, a raw-path
// router and a PHP front controller (real php-cgi through php_fastcgi), and returns their ports
// and a cookie header of a Naver session.
func gateSites(t *testing.T, globalExtra string, serverExtra ...string) (ports map[string]int, cookie string) {
	t.Helper()
	tomcat := semanticsUpstream(t, reqpathtest.Tomcat)
	raw := semanticsUpstream(t, reqpathtest.Raw)
	phpRoot, phpPort := phpUpstream(t)
	dir := t.TempDir()
	pol := filepath.Join(dir, "policies")
	os.MkdirAll(pol, 0o755)
	for name, body := range map[string]string{
		"public.yaml":  "paths: [\"/\", \"/public/*\", \"/static/*\"]\npublic: true\n",
		"members.yaml": "paths: [\"/members/*\"]\nrequire: {login: [naver]}\nforward:\n  headers: {X-User-Id: sub, X-User-Policy: policy}\n",
		"admin.yaml":   "paths: [\"/admin/*\"]\nrequire: {login: [kakao]}\nforward:\n  headers: {X-User-Id: sub, X-User-Policy: policy, X-User-Id-Alias: sub}\n",
	} {
		os.WriteFile(filepath.Join(pol, name), []byte(body), 0o644)
	}
	ports = map[string]int{}
	for _, k := range []string{"tomcat", "raw", "php"} {
		ports[k], _ = sandbox.FreePort()
	}
	naverBase := strings.TrimSuffix(sb.Naver.URL(), "/")
	withCaddyfile(t, fmt.Sprintf(`{
	admin off
	auto_https off
	persist_config off
	storage file_system %s
	servers {
		protocols h1
%s	}
	idgate {
		policies %s
		naver {
			client_id demo-naver-client
			client_secret demo-naver-secret
			authorize_url %s/oauth2.0/authorize
			token_url %s/oauth2.0/token
			profile_url %s/v1/nid/me
		}
		oidc kakao {
			issuer %s
			client_id demo-kakao-client
			client_secret demo-kakao-secret
		}
		login_rate off
%s	}
}
http://:%d {
	idgate
	reverse_proxy 127.0.0.1:%d
}
http://:%d {
	idgate
	reverse_proxy 127.0.0.1:%d
}
http://:%d {
	idgate
	root * %s
	php_fastcgi 127.0.0.1:%d
}
`, filepath.Join(dir, "caddy"), strings.Join(serverExtra, ""), pol, naverBase, naverBase, naverBase, strings.TrimSuffix(sb.Kakao.URL(), "/"), globalExtra,
		ports["tomcat"], tomcat, ports["raw"], raw, ports["php"], phpRoot, phpPort))
	site := fmt.Sprintf("http://localhost:%d", ports["tomcat"])
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports["php"])); err == nil {
			c.Close()
			break
		} else if i > 100 {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b := newBrowser(t)
	sb.Naver.SetKnobs(navertest.Knobs{AutoApprove: "kim"})
	resp, _ := b.nav(site + "/.idgate/login?" + url.Values{"provider": {"naver"}, "rd": {"/members/x"}}.Encode())
	resp, _ = b.nav(location(t, resp))
	resp, body := b.nav(location(t, resp))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	u, _ := url.Parse(site)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == "idgate_session" {
			return ports, "idgate_session=" + c.Value
		}
	}
	t.Fatal("no session cookie after login")
	return
}

// checkServed sends target to every upstream and fails unless idgate refused it or the upstream
// served an area governed by exactly the policy idgate applied. It returns how many served it.
func checkServed(t *testing.T, ports map[string]int, cookie, target string) (served int) {
	t.Helper()
	for kind, port := range ports {
		resp, body := rawRequest(t, port, "GET", target, map[string]string{"Cookie": cookie, "Accept": "application/json"}, "")
		if resp.StatusCode != http.StatusOK {
			if resp.StatusCode < 400 || resp.StatusCode >= 500 {
				t.Errorf("%s %q: status %d: %s", kind, target, resp.StatusCode, body)
			}
			continue
		}
		var rep upstreamReport
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Errorf("%s %q: not an upstream report: %s", kind, target, body)
			continue
		}
		want, governed := areaPolicy[rep.Area]
		if !governed || rep.Policy != want {
			t.Errorf("invariant 11: %s served area %q (policy %q) for %q, but idgate applied %q", kind, rep.Area, want, target, rep.Policy)
		}
		served++
	}
	return served
}

func TestUpstreamsServeWhatTheGateDecided(t *testing.T) {
	for _, mode := range []string{"refuse", "rewrite"} {
		t.Run("noncanonical_paths "+mode, func(t *testing.T) {
			ports, cookie := gateSites(t, "\t\tnoncanonical_paths "+mode+"\n")
			for _, target := range reqpathtest.Canonical {
				if checkServed(t, ports, cookie, target) == 0 && !strings.HasPrefix(target, "/admin") {
					t.Errorf("canonical %q was served by no upstream", target)
				}
			}
			hostileServed := 0
			for _, target := range reqpathtest.Hostile {
				hostileServed += checkServed(t, ports, cookie, target)
			}
			if mode == "refuse" && hostileServed != 0 {
				t.Errorf("invariant 11: refuse mode let %d hostile requests reach an upstream", hostileServed)
			}
			if mode == "rewrite" && hostileServed == 0 {
				t.Error("rewrite mode served no rewritten target: the test would not see a wrong rewrite")
			}
			// A refusal is a clear JSON error with the stable code.
			resp, body := rawRequest(t, ports["php"], "GET", "/public/..;/admin/x", map[string]string{"Accept": "application/json"}, "")
			if mode == "refuse" && (resp.StatusCode != 400 || decodeJSON(t, body)["code"] != "path_not_canonical") {
				t.Errorf("refusal: %d %s", resp.StatusCode, body)
			}
		})
	}
}

func TestIdentityTrailersAndAliasesNeverReachTheUpstream(t *testing.T) {
	ports, cookie := gateSites(t, "")
	for kind, port := range map[string]int{"tomcat": ports["tomcat"], "php": ports["php"]} {
		// invariant 1: forged identity trailers, declared or not.
		resp, body := rawRequest(t, port, "POST", "/members/x", map[string]string{"Cookie": cookie, "Accept": "application/json", "Trailer": "X-User-Id, X-Idgate-Assertion"},
			"X-User-Id: naver:admin\r\nX-Idgate-Assertion: forged\r\nX-User-Policy: admin\r\nX_User_Id: naver:admin\r\nX-Checksum: 1\r\n")
		var rep upstreamReport
		json.Unmarshal([]byte(body), &rep)
		if resp.StatusCode != 200 || rep.Policy != "members" || rep.User == "naver:admin" || !strings.HasPrefix(rep.User, "naver:") || len(rep.Trailers) != 0 {
			t.Errorf("invariant 1: %s got %d %+v", kind, resp.StatusCode, rep)
		}
	}
	// Caddy itself drops header names with "_" or "." by default (GHSA-f59h-q822-g45g,
	// GHSA-49wc-4hcv-v58q): if a future Caddy stopped, this fails and idgate's own alias strip
	// becomes the only guard for headers it does not forward.
	resp, body := rawRequest(t, ports["tomcat"], "GET", "/public/x", map[string]string{"X_Custom": "1", "X.Custom": "1"}, "")
	if resp.StatusCode != 200 || strings.Contains(body, "X_") || strings.Contains(body, "X.") || !strings.Contains(body, "Connection") && !strings.Contains(body, "Accept-Encoding") {
		t.Errorf("Caddy no longer drops underscore or dot header names by default: %s", body)
	}
	// CONNECT and authority-form targets are refused on a gated site.
	if resp, _ := rawRequest(t, ports["tomcat"], "CONNECT", "localhost:443", nil, ""); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("CONNECT: %d", resp.StatusCode)
	}
	// Methods beyond the usual ones never reach the upstream unless the policy lists them.
	if resp, body := rawRequest(t, ports["tomcat"], "PROPFIND", "/public/x", map[string]string{"Accept": "application/json"}, ""); resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(body, "method_not_allowed") {
		t.Errorf("PROPFIND: %d %s", resp.StatusCode, body)
	}
	// What the upstream answers an identified person is private to that person.
	resp, _ = rawRequest(t, ports["tomcat"], "GET", "/members/x", map[string]string{"Cookie": cookie}, "")
	if resp.Header.Get("Cache-Control") != "private" || !strings.Contains(resp.Header.Get("Vary"), "Cookie") {
		t.Errorf("identified response: Cache-Control %q, Vary %q", resp.Header.Get("Cache-Control"), resp.Header.Values("Vary"))
	}
	resp, _ = rawRequest(t, ports["tomcat"], "GET", "/members/x", map[string]string{"Accept": "application/json"}, "")
	if resp.StatusCode != 401 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("challenge: %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
}

func TestHeaderAliasesAreStrippedWhateverCaddysSettings(t *testing.T) {
	ports, cookie := gateSites(t, "", "\t\texpected_underscore_headers x_user_id x_user_policy x_custom\n\t\texpected_dot_headers x.user.id\n")
	for _, path := range []string{"/public/x", "/members/x"} {
		for kind, port := range map[string]int{"tomcat": ports["tomcat"], "php": ports["php"]} {
			resp, body := rawRequest(t, port, "GET", path, map[string]string{"Cookie": cookie, "X_User_Id": "naver:admin", "X.User.Id": "naver:admin", "X_User_Policy": "admin", "X_Custom": "kept"}, "")
			if resp.StatusCode != 200 || strings.Contains(body, "naver:admin") || strings.Contains(body, `"Policy":"admin"`) || strings.Contains(body, `"policy":"admin"`) {
				t.Errorf("invariant 1: an alias of a forwarded header reached %s on %s: %s", kind, path, body)
			}
			if kind == "tomcat" && !strings.Contains(body, "X_custom") {
				t.Errorf("expected_underscore_headers is not in effect, so this test proves nothing: %s", body)
			}
		}
	}
}
