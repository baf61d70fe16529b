package e2e

import (
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
	"sync/atomic"
	"testing"
	"time"

	"github.com/idgate/idgate/examples/demo/sandbox"
	"github.com/idgate/idgate/internal/store/storetest"
	"github.com/idgate/idgate/providers/naver/navertest"
	"github.com/idgate/idgate/providers/totp"
)

// instance is a separate Caddy process (cmd/caddy) running idgate.
type instance struct {
	base  string
	admin string
	cmd   *exec.Cmd
}

// startInstance runs cmd/caddy with the sandbox's Caddyfile on another port, a shared Redis and
// a shared storage directory.
func startInstance(t *testing.T, redisAddr, storage string) *instance {
	t.Helper()
	port, _ := sandbox.FreePort()
	adminPort, _ := sandbox.FreePort()
	cf := sb.Caddyfile
	cf = strings.Replace(cf, "\tadmin off\n", fmt.Sprintf("\tadmin localhost:%d\n", adminPort), 1)
	cf = strings.Replace(cf, "\tidgate {\n", "\tidgate {\n\t\tkey_refresh 1s\n", 1)
	cf = strings.Replace(cf, "\tstorage file_system "+filepath.Join(sb.DataDir, "caddy")+"\n", "\tstorage file_system "+storage+"\n", 1)
	cf = strings.Replace(cf, "\tidgate {\n", "\tidgate {\n\t\tstore redis {\n\t\t\taddress "+redisAddr+"\n\t\t\trevocation_poll 1s\n\t\t}\n", 1)
	cf = strings.Replace(cf, fmt.Sprintf("http://:%s {", strings.TrimPrefix(sb.URL, "http://localhost:")), fmt.Sprintf("http://:%d {", port), 1)
	// Logs of the child go to its stderr, not to the shared test log.
	if i := strings.Index(cf, "\tlog {"); i >= 0 {
		j := strings.Index(cf[i:], "\n\t}\n")
		cf = cf[:i] + cf[i+j+4:]
	}
	path := filepath.Join(t.TempDir(), "Caddyfile")
	os.WriteFile(path, []byte(cf), 0o644)
	cmd := exec.Command(caddyBinary(t), "run", "--config", path, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
	logf, _ := os.Create(filepath.Join(t.TempDir(), "caddy.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return &instance{base: fmt.Sprintf("http://localhost:%d", port), admin: fmt.Sprintf("http://localhost:%d", adminPort), cmd: cmd}
		}
		time.Sleep(50 * time.Millisecond)
	}
	data, _ := os.ReadFile(logf.Name())
	t.Fatalf("instance did not start:\n%s", data)
	return nil
}

// loginAt signs in at one instance as persona key; it returns the session cookie.
func loginAt(t *testing.T, b *browser, base, key, rd string) {
	t.Helper()
	sb.Naver.SetKnobs(navertest.Knobs{AutoApprove: key})
	resp, _ := b.nav(base + "/.idgate/login?" + url.Values{"provider": {"naver"}, "rd": {rd}}.Encode())
	resp, _ = b.nav(location(t, resp))
	resp, body := b.nav(location(t, resp))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("login at %s: %d %s", base, resp.StatusCode, body)
	}
}

func statusAt(t *testing.T, b *browser, u string) int {
	t.Helper()
	resp, _ := b.do("GET", u, jsonHdr, nil, nil)
	return resp.StatusCode
}

func TestTwoInstancesShareOneRedis(t *testing.T) {
	redisAddr, _ := storetest.Redis(t)
	storage := t.TempDir()
	a := startInstance(t, redisAddr, storage)
	bi := startInstance(t, redisAddr, storage)

	// A login on A is honoured by B (keys shared through Caddy's storage). Browsers send
	// localhost cookies to every port, as the two instances behind one name would get them.
	user := freshNaverUser(t)
	br := newBrowser(t)
	loginAt(t, br, a.base, user, "/members/x")
	if s := statusAt(t, br, bi.base+"/members/x"); s != 200 {
		t.Fatalf("login on A not honoured by B: %d", s)
	}
	kept := *br.sessionCookie()

	// A verification on A counts on B for a new login there (records in Redis).
	resetPortOne()
	resp, body := br.do("POST", a.base+"/.idgate/verify/portone/start", map[string]string{"Origin": a.base, "Accept": "application/json", "Content-Type": "application/json"}, nil, []byte(`{"rd":"/adult/board"}`))
	id, _ := decodeJSON(t, body)["identityVerificationId"].(string)
	if resp.StatusCode != 200 || id == "" {
		t.Fatalf("start on A: %d %s", resp.StatusCode, body)
	}
	sb.PortOne.Complete(id, "adult")
	resp, body = br.do("POST", a.base+"/.idgate/verify/portone/complete", map[string]string{"Origin": a.base, "Accept": "application/json", "Content-Type": "application/json"}, nil, []byte(`{"identityVerificationId":"`+id+`"}`))
	if resp.StatusCode != 200 {
		t.Fatalf("complete on A: %d %s", resp.StatusCode, body)
	}
	other := newBrowser(t)
	loginAt(t, other, bi.base, user, "/adult/board")
	if s := statusAt(t, other, bi.base+"/adult/board"); s != 200 {
		t.Fatalf("verification on A not counted by a login on B: %d", s)
	}

	// Code-attempt limits are shared: wrong codes on A and B together lock both.
	resp, body = other.do("POST", bi.base+"/.idgate/mfa/totp/enroll", map[string]string{"Origin": bi.base, "Accept": "application/json"}, url.Values{})
	secret := mustSecret(t, body)
	resp, _ = other.do("POST", bi.base+"/.idgate/mfa/totp/confirm", map[string]string{"Origin": bi.base, "Accept": "application/json"}, url.Values{"code": {totp.Code(secret, time.Now())}})
	if resp.StatusCode != 200 {
		t.Fatal("enroll on B")
	}
	for i := 0; i < 5; i++ {
		base := a.base
		if i%2 == 1 {
			base = bi.base
		}
		other.do("POST", base+"/.idgate/mfa/totp/verify", map[string]string{"Origin": base, "Accept": "application/json"}, url.Values{"code": {fmt.Sprintf("%06d", i)}})
	}
	resp, _ = other.do("POST", a.base+"/.idgate/mfa/totp/verify", map[string]string{"Origin": a.base, "Accept": "application/json"}, url.Values{"code": {totp.Code(secret, time.Now().Add(30*time.Second))}})
	if resp.StatusCode != 429 {
		t.Fatalf("five wrong codes across A and B did not lock A: %d", resp.StatusCode)
	}

	// A logout on A is refused by B within the stated bound (publish, else the 1 s poll).
	resp, _ = br.do("POST", a.base+"/.idgate/logout", map[string]string{"Origin": a.base, "Accept": "application/json"}, url.Values{})
	if resp.StatusCode != 200 {
		t.Fatal("logout on A")
	}
	start := time.Now()
	for {
		if s := statusAt(t, browserWith(t, kept), bi.base+"/members/x"); s == 401 {
			break
		}
		if time.Since(start) > 3*time.Second {
			t.Fatal("B still accepts a session logged out on A after 3 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("logout on A refused by B after %v", time.Since(start).Round(time.Millisecond))

	// Keys rotated on command at A reach B within key_refresh, and sessions stay open on both.
	still := newBrowser(t)
	loginAt(t, still, a.base, freshNaverUser(t), "/members/x")
	kidAt := func(base string) map[string]bool {
		resp, err := http.Get(base + "/.idgate/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var set struct{ Keys []struct{ Kid string } }
		json.NewDecoder(resp.Body).Decode(&set)
		out := map[string]bool{}
		for _, k := range set.Keys {
			out[k.Kid] = true
		}
		return out
	}
	before := kidAt(bi.base)
	req, _ := http.NewRequest("POST", a.admin+"/idgate/rotate-keys", nil)
	req.Header.Set("Origin", a.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("rotate-keys on A's admin API: %v %v", resp, err)
	}
	var rotated struct {
		SigningKID string `json:"signing_kid"`
	}
	json.NewDecoder(resp.Body).Decode(&rotated)
	resp.Body.Close()
	if before[rotated.SigningKID] {
		t.Fatal("rotation did not make a new signing key")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !kidAt(bi.base)[rotated.SigningKID] {
		if time.Now().After(deadline) {
			t.Fatal("B did not pick up the rotated keys within 5 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, base := range []string{a.base, bi.base} {
		if s := statusAt(t, still, base+"/members/x"); s != 200 {
			t.Fatalf("session lost by the rotation at %s: %d", base, s)
		}
	}
}

func TestRedisOutageFailsClosedAndRecovers(t *testing.T) {
	redisAddr, stop := storetest.Redis(t)
	a := startInstance(t, redisAddr, t.TempDir())
	user := freshNaverUser(t)
	br := newBrowser(t)
	loginAt(t, br, a.base, user, "/members/x")
	// Load on the valid session runs through the whole outage and the recovery.
	stopLoad := backgroundLoad(a.base+"/members/x", br.sessionCookie())
	stop()
	// Valid sessions keep working: the hot path never asks Redis.
	for i := 0; i < 20; i++ {
		if s := statusAt(t, br, a.base+"/members/x"); s != 200 {
			t.Fatalf("valid session refused while Redis is down: %d", s)
		}
	}
	// What needs Redis to be safe fails closed with a clear error: a new login's state.
	other := newBrowser(t)
	resp, body := other.do("GET", a.base+"/.idgate/login?provider=naver&rd=/members/x", map[string]string{"Accept": "application/json"}, nil)
	if m := decodeJSON(t, body); resp.StatusCode != 503 || m["code"] != "store_unavailable" {
		t.Fatalf("login with Redis down: %d %v", resp.StatusCode, m)
	}
	// Redis returns: no restart needed.
	storetest.RestartRedis(t, redisAddr)
	waitLoginStarts(t, other, a.base, 5*time.Second)
	loginAt(t, other, a.base, user, "/members/x")
	if s := statusAt(t, other, a.base+"/members/x"); s != 200 {
		t.Fatalf("login after recovery: %d", s)
	}
	sent, failures := stopLoad()
	if len(failures) > 0 || sent < 50 {
		t.Fatalf("load on a valid session through the outage: %d sent, failures %v", sent, failures)
	}
	t.Logf("%d requests on a valid session during the outage and recovery, none failed", sent)
}

// A slow Redis (answering nothing) is an outage too: new logins fail closed with
// store_unavailable within two store command timeouts (1 s, retried once) instead of hanging,
// valid sessions stay fast, and everything recovers when Redis answers again.
func TestSlowRedisFailsClosedWithinItsTimeout(t *testing.T) {
	redisAddr, _ := storetest.Redis(t)
	proxy := newStallProxy(t, redisAddr)
	a := startInstance(t, proxy.addr, t.TempDir())
	br := newBrowser(t)
	loginAt(t, br, a.base, freshNaverUser(t), "/members/x")
	stopLoad := backgroundLoad(a.base+"/members/x", br.sessionCookie())

	proxy.stall(true)
	other := newBrowser(t)
	start := time.Now()
	resp, body := other.do("GET", a.base+"/.idgate/login?provider=naver&rd=/members/x", map[string]string{"Accept": "application/json"}, nil)
	took := time.Since(start)
	if m := decodeJSON(t, body); resp.StatusCode != 503 || m["code"] != "store_unavailable" {
		t.Fatalf("login with Redis stalled: %d %v", resp.StatusCode, m)
	}
	// One command: its 1 s timeout, and once more on a fresh connection (go-redis retries once).
	if took > 3*time.Second {
		t.Fatalf("login with Redis stalled took %v; the bound is two store timeouts (2 s) and some slack", took)
	}
	for i := 0; i < 20; i++ {
		start := time.Now()
		if s := statusAt(t, br, a.base+"/members/x"); s != 200 {
			t.Fatalf("valid session refused while Redis is slow: %d", s)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Fatalf("a valid session waited %v on a slow Redis", d)
		}
	}

	proxy.stall(false)
	waitLoginStarts(t, other, a.base, 10*time.Second)
	sent, failures := stopLoad()
	if len(failures) > 0 || sent < 50 {
		t.Fatalf("load on a valid session while Redis was slow: %d sent, failures %v", sent, failures)
	}
	t.Logf("login failed closed in %v; %d requests on a valid session meanwhile, none failed", took.Round(time.Millisecond), sent)
}

// waitLoginStarts waits until a login can start again at base (the store is back), failing
// after within.
func waitLoginStarts(t *testing.T, b *browser, base string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		resp, _ := b.do("GET", base+"/.idgate/login?provider=naver&rd=/members/x", map[string]string{"Accept": "application/json"}, nil)
		if resp.StatusCode == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after Redis came back: %d", resp.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// backgroundLoad requests u with cookie c, one request at a time, until the returned function is
// called; that function reports how many were sent and what failed.
func backgroundLoad(u string, c *http.Cookie) func() (int, []string) {
	done := make(chan struct{})
	var sent int
	var failures []string
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		client := &http.Client{Timeout: 5 * time.Second}
		for {
			select {
			case <-done:
				return
			default:
			}
			req, _ := http.NewRequest("GET", u, nil)
			req.Header.Set("Accept", "application/json")
			req.AddCookie(c)
			resp, err := client.Do(req)
			sent++
			if err != nil {
				failures = append(failures, err.Error())
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				failures = append(failures, fmt.Sprint(resp.StatusCode))
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return func() (int, []string) {
		close(done)
		<-finished
		return sent, failures
	}
}

// stallProxy forwards TCP to a Redis server and, while stalled, forwards nothing (a Redis that
// has stopped answering: overloaded, paused or cut off by the network).
type stallProxy struct {
	addr    string
	stalled atomic.Bool
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &stallProxy{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go p.pipe(c, u)
			go p.pipe(u, c)
		}
	}()
	return p
}

func (p *stallProxy) stall(on bool) { p.stalled.Store(on) }

func (p *stallProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for p.stalled.Load() {
			time.Sleep(10 * time.Millisecond)
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func mustSecret(t *testing.T, body string) []byte {
	t.Helper()
	m := decodeJSON(t, body)
	s, _ := m["secret"].(string)
	secret, err := base32NoPad(s)
	if err != nil {
		t.Fatalf("enroll: %s", body)
	}
	return secret
}
