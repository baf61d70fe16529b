package e2e

import (
	"errors"
	"net/http/cookiejar"
	"strings"
	"syscall"

	"fmt"
	"github.com/idgate/idgate/providers/naver/navertest"
	"io"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSoakWithReload drives authenticated and anonymous traffic with logins in between against
// the demo, reloads Caddy in the middle of it (several times), and checks that no request failed
// (none is retried: the sandbox lists the idgate_handover listener wrapper), no session was lost
// and memory stayed flat. Logins open new connections all the time, which is what a reload used
// to drop. IDGATE_SOAK sets the duration (default 10s), IDGATE_SOAK_RELOADS the number of
// reloads (default 5).
func TestSoakWithReload(t *testing.T) {
	d := 10 * time.Second
	if v := os.Getenv("IDGATE_SOAK"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
	}
	// Sessions for the authenticated workers.
	var cookies []http.Cookie
	for i := 0; i < 6; i++ {
		b := newBrowser(t)
		b.login("naver", freshNaverUser(t), "/members/x")
		cookies = append(cookies, *b.sessionCookie())
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var sent, failed, kernelResets atomic.Int64
	var mu sync.Mutex
	var failures []string
	// With net.ipv4.tcp_migrate_req=0 (Linux < 5.14 or the sysctl unset) the kernel resets
	// connections still queued on the old configuration's socket when it closes; nothing in
	// user space can take them. They are counted and reported, not failed, only in that case.
	migrate := tcpMigrateReq()
	if !migrate {
		t.Log("net.ipv4.tcp_migrate_req is not 1: connection resets at connect time during a reload are reported, not failed (.ci/run sets it)")
	}
	fail := func(err error, msg string) {
		if !migrate && errors.Is(err, syscall.ECONNRESET) && strings.Contains(msg, "dial tcp") {
			kernelResets.Add(1)
			return
		}
		failed.Add(1)
		mu.Lock()
		if len(failures) < 10 {
			failures = append(failures, msg)
		}
		mu.Unlock()
	}
	get := func(path string, c *http.Cookie, accept string, want int) {
		req, _ := http.NewRequest("GET", sb.URL+path, nil)
		req.Header.Set("Accept", accept)
		if c != nil {
			req.AddCookie(c)
		}
		sent.Add(1)
		resp, err := client.Do(req)
		if err != nil {
			fail(err, fmt.Sprintf("%s: %v", path, err))
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			fail(nil, fmt.Sprintf("%s: %d, want %d", path, resp.StatusCode, want))
		}
	}
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range cookies {
		c := cookies[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				get("/members/board?format=json", &c, "application/json", 200)
			}
		}()
	}
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				get("/public/notice", nil, "text/html", 200)
				get("/api/orders", nil, "application/json", 401)
			}
		}()
	}
	var logins atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for time.Now().Before(deadline) {
			if err := soakLogin(freshNaverUser(t)); err != nil {
				fail(err, err.Error())
			}
			logins.Add(1)
		}
	}()
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	time.Sleep(d / 4)
	early := heap()
	time.Sleep(d / 4)
	reloads := 5
	if v := os.Getenv("IDGATE_SOAK_RELOADS"); v != "" {
		fmt.Sscan(v, &reloads)
	}
	for i := 0; i < reloads; i++ {
		if err := runCaddyfile(sb.Caddyfile); err != nil {
			t.Fatalf("reload: %v", err)
		}
		time.Sleep(d / 4 / time.Duration(reloads))
	}
	t.Logf("reloaded Caddy %d times in the middle of the load", reloads)
	wg.Wait()
	late := heap()
	for _, c := range cookies {
		if s, _ := browserWith(t, c).report("/members/x", nil); s != 200 {
			t.Fatalf("a session was lost across the reload: %d", s)
		}
	}
	if n := kernelResets.Load(); n > 0 {
		t.Logf("%d connections reset by the kernel at connect time (tcp_migrate_req=0)", n)
	}
	t.Logf("%d requests, %d logins, %d failures; heap %d KiB at 1/4, %d KiB at the end",
		sent.Load(), logins.Load(), failed.Load(), early/1024, late/1024)
	if failed.Load() > 0 {
		t.Fatalf("%d failed requests, e.g. %v", failed.Load(), failures)
	}
	if late > early+64<<20 {
		t.Fatalf("heap grew from %d to %d KiB", early/1024, late/1024)
	}
}

// tcpMigrateReq reports whether Linux migrates connections queued on a closing SO_REUSEPORT
// socket to another socket of its group.
func tcpMigrateReq() bool {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_migrate_req")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// soakLogin logs in as key with its own new connections and checks the gated page afterwards.
func soakLogin(key string) error {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: &http.Transport{}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer c.Transport.(*http.Transport).CloseIdleConnections()
	sb.Naver.SetKnobs(navertest.Knobs{AutoApprove: key})
	get := func(u string) (*http.Response, error) {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Accept", "text/html")
		resp, err := c.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return resp, err
	}
	u := sb.URL + "/.idgate/login?provider=naver&rd=%2Fmembers%2Fx"
	for hop := 0; hop < 3; hop++ {
		resp, err := get(u)
		if err != nil {
			return fmt.Errorf("login hop %d: %w", hop, err)
		}
		if resp.StatusCode != http.StatusFound {
			return fmt.Errorf("login hop %d: %d", hop, resp.StatusCode)
		}
		u = resp.Header.Get("Location")
		if strings.HasPrefix(u, "/") {
			u = sb.URL + u
		}
	}
	resp, err := get(sb.URL + "/members/x?format=json")
	if err != nil || resp.StatusCode != 200 {
		return fmt.Errorf("after login: %v %v", resp, err)
	}
	return nil
}
