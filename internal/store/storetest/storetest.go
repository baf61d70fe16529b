// Package storetest is the conformance suite every store implementation runs (memory, file,
// Redis), and a helper that starts a real redis-server for tests.
package storetest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idgate/idgate/internal/identity"
	"github.com/idgate/idgate/internal/store"
)

// RunEphemeral runs the ephemeral-store cases against stores made by newStore (fresh each time).
func RunEphemeral(t *testing.T, newStore func(t *testing.T) store.Ephemeral) {
	ctx := context.Background()
	t.Run("put, get and expiry", func(t *testing.T) {
		s := newStore(t)
		if err := s.Put(ctx, "k", []byte("v"), 300*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := s.Get(ctx, "k"); err != nil || !ok || string(v) != "v" {
			t.Fatalf("get: %q %v %v", v, ok, err)
		}
		time.Sleep(450 * time.Millisecond)
		if _, ok, _ := s.Get(ctx, "k"); ok {
			t.Fatal("value outlived its ttl")
		}
		if _, ok, err := s.Get(ctx, "missing"); ok || err != nil {
			t.Fatalf("missing key: %v %v", ok, err)
		}
	})
	t.Run("take is single use under concurrency", func(t *testing.T) {
		s := newStore(t)
		for round := 0; round < 20; round++ {
			key := "state:" + strconv.Itoa(round)
			s.Put(ctx, key, []byte("x"), time.Minute)
			var won atomic.Int32
			var wg sync.WaitGroup
			for i := 0; i < 8; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, ok, _ := s.Take(ctx, key); ok {
						won.Add(1)
					}
				}()
			}
			wg.Wait()
			if won.Load() != 1 {
				t.Fatalf("round %d: %d takers", round, won.Load())
			}
		}
	})
	t.Run("add only when absent", func(t *testing.T) {
		s := newStore(t)
		var won atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if ok, _ := s.Add(ctx, "step", []byte("1"), time.Minute); ok {
					won.Add(1)
				}
			}()
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("%d adds succeeded", won.Load())
		}
	})
	t.Run("counters count every increment and expire", func(t *testing.T) {
		s := newStore(t)
		var wg sync.WaitGroup
		for i := 0; i < 30; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); s.Incr(ctx, "n", time.Minute) }()
		}
		wg.Wait()
		if n, err := s.Incr(ctx, "n", time.Minute); err != nil || n != 31 {
			t.Fatalf("counter = %d, %v", n, err)
		}
		s.Incr(ctx, "short", 200*time.Millisecond)
		s.Incr(ctx, "short", time.Hour) // must not extend the window
		time.Sleep(350 * time.Millisecond)
		if n, _ := s.Incr(ctx, "short", time.Minute); n != 1 {
			t.Fatalf("expired counter continued at %d", n)
		}
	})
}

// RunRecords runs the durable-record cases; reopen returns a store over the same data (a
// restart), or nil when the implementation cannot.
func RunRecords(t *testing.T, newStore func(t *testing.T) (s store.Records, reopen func() store.Records)) {
	ctx := context.Background()
	t.Run("records round trip and survive a reopen", func(t *testing.T) {
		s, reopen := newStore(t)
		if r, err := s.Get(ctx, "naver:1"); r != nil || err != nil {
			t.Fatalf("empty: %v %v", r, err)
		}
		rec := &store.Record{Subject: "naver:1", CIHash: "h", Claims: map[string]string{"name": "x"}, Contacts: map[string]string{"email": "a@b"},
			Verified: []identity.Verification{{Kind: "phone", Provider: "portone:danal", At: 5, BirthDate: "1990-01-01"}},
			TOTP:     &store.TOTP{Secret: []byte{1, 2, 3}, Confirmed: true, LastStep: 9, Recovery: []string{"r"}}, Updated: time.Unix(7, 0).UTC()}
		if _, err := s.Update(ctx, "naver:1", func(r *store.Record) error { *r = *rec; return nil }); err != nil {
			t.Fatal(err)
		}
		for _, st := range []store.Records{s, reopen()} {
			got, err := st.Get(ctx, "naver:1")
			if err != nil || got == nil || got.Verified[0].BirthDate != "1990-01-01" || got.TOTP.LastStep != 9 || got.Contacts["email"] != "a@b" {
				t.Fatalf("get: %+v %v", got, err)
			}
		}
	})
	t.Run("concurrent updates of one subject lose nothing", func(t *testing.T) {
		s, _ := newStore(t)
		const n = 16
		var codes []string
		for i := 0; i < n; i++ {
			codes = append(codes, fmt.Sprintf("code-%d", i))
		}
		if _, err := s.Update(ctx, "naver:2", func(r *store.Record) error {
			r.TOTP = &store.TOTP{Confirmed: true, Recovery: append([]string(nil), codes...)}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		// Every goroutine uses its own recovery code and records a verification, at once.
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				_, err := s.Update(ctx, "naver:2", func(r *store.Record) error {
					kept := r.TOTP.Recovery[:0:0]
					for _, c := range r.TOTP.Recovery {
						if c != codes[i] {
							kept = append(kept, c)
						}
					}
					r.TOTP.Recovery = kept
					r.Verified = append(r.Verified, identity.Verification{Kind: "phone", At: int64(i)})
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			}(i)
		}
		close(start)
		wg.Wait()
		got, err := s.Get(ctx, "naver:2")
		if err != nil || len(got.TOTP.Recovery) != 0 || len(got.Verified) != n {
			t.Fatalf("invariant: last writer won: %d codes left, %d verifications of %d (%v)", len(got.TOTP.Recovery), len(got.Verified), n, err)
		}
	})
	t.Run("an update whose function fails writes nothing", func(t *testing.T) {
		s, _ := newStore(t)
		boom := fmt.Errorf("boom")
		if _, err := s.Update(ctx, "naver:3", func(r *store.Record) error { r.CIHash = "x"; return boom }); err != boom {
			t.Fatalf("err = %v", err)
		}
		if r, err := s.Get(ctx, "naver:3"); r != nil || err != nil {
			t.Fatalf("a failed update wrote %+v %v", r, err)
		}
	})
	t.Run("CI links", func(t *testing.T) {
		s, _ := newStore(t)
		s.LinkCI(ctx, "ci", "naver:b")
		s.LinkCI(ctx, "ci", "kakao:a")
		subs, err := s.LinkCI(ctx, "ci", "naver:b")
		if err != nil || fmt.Sprint(subs) != "[kakao:a naver:b]" {
			t.Fatalf("links = %v %v", subs, err)
		}
	})
}

// Redis starts a redis-server on a free loopback port for the test and returns its address.
// Without redis-server the test skips, except under CI=true, where it fails.
func Redis(t testing.TB) (addr string, stop func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is required under CI=true (apt-get install redis-server)")
		}
		t.Skip("redis-server not installed (mandatory under CI=true)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
	t.Cleanup(stop)
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, stop
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("redis-server did not start")
	return "", nil
}

// RestartRedis starts redis-server again on addr (after stop), for failure tests.
func RestartRedis(t testing.TB, addr string) func() {
	t.Helper()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	t.Cleanup(stop)
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return stop
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("redis-server did not restart")
	return stop
}
