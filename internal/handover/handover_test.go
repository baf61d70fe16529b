package handover

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listenReusePort opens a socket on addr with SO_REUSEPORT, as Caddy does for every
// configuration on Linux.
func listenReusePort(t *testing.T, addr string) net.Listener {
	t.Helper()
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
		if err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// server serves "name" and counts the requests it answered.
func server(name string, answered *atomic.Int64) *http.Server {
	return &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answered.Add(1)
		io.WriteString(w, name)
	})}
}

// get sends one GET on c and returns the body, or the error.
func get(c net.Conn, br *bufio.Reader) (string, error) {
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return "", err
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// A reload: the old server has a connection whose first request arrives after the old server's
// Shutdown began (Go drops such a request with EOF). With handover the new server answers it,
// every new connection goes to the new server although the kernel spreads them over both
// sockets, and nothing is answered twice.
func TestReloadDropsNoConnection(t *testing.T) {
	first := listenReusePort(t, "127.0.0.1:0")
	addr := first.Addr().String()
	var oldAnswered, newAnswered atomic.Int64
	oldSrv := server("old", &oldAnswered)
	go oldSrv.Serve(Wrap(first))

	// A keep-alive connection answered by the old server, and a fresh one not yet used.
	used, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	usedR := bufio.NewReader(used)
	if body, err := get(used, usedR); err != nil || body != "old" {
		t.Fatalf("before the reload: %q %v", body, err)
	}
	fresh, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the old server accepts it

	// The new configuration listens on its own socket, then the old one shuts down.
	newSrv := server("new", &newAnswered)
	go newSrv.Serve(Wrap(listenReusePort(t, addr)))
	defer newSrv.Close()
	for i := 0; i < 40; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		body, err := get(c, bufio.NewReader(c))
		c.Close()
		if err != nil || body != "new" {
			t.Fatalf("connection %d after the new server started: %q %v (old servers must get no new connections)", i, body, err)
		}
	}
	shutdown := make(chan error, 1)
	go func() { shutdown <- oldSrv.Shutdown(context.Background()) }()
	time.Sleep(100 * time.Millisecond) // Shutdown has begun; it waits for the fresh connection

	body, err := get(fresh, bufio.NewReader(fresh))
	if err != nil || body != "new" {
		t.Fatalf("first request on a connection the old server accepted: %q %v, want the new server's answer", body, err)
	}
	select {
	case err := <-shutdown:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the old server's Shutdown did not finish")
	}
	// The used connection was answered by the old server: it is closed, never replayed.
	if body, err := get(used, usedR); err == nil {
		t.Fatalf("a connection the old server had answered was handed over: %q", body)
	}
	if o, n := oldAnswered.Load(), newAnswered.Load(); o != 1 || n != 41 {
		t.Fatalf("old answered %d, new answered %d; want 1 and 41", o, n)
	}
}

// A connection whose server is not shutting down is closed normally, even unanswered.
func TestCloseWithoutShutdownCloses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Wrap(ln)
	defer l.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET")
	buf := make([]byte, 3)
	io.ReadFull(sc, buf)
	sc.Close()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(buf); err != io.EOF {
		t.Fatalf("read after the server closed: %v, want EOF", err)
	}
}

// After the last member of an address closes, Accept reports it closed and a queued connection
// is closed rather than leaked.
func TestLastListenerClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Wrap(ln)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(50 * time.Millisecond) // queued, never accepted
	l.Close()
	if _, err := l.Accept(); err == nil {
		t.Fatal("Accept after Close succeeded")
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || strings.Contains(fmt.Sprint(err), "timeout") {
		t.Fatalf("queued connection: %v, want it closed", err)
	}
}

// A request the old server read before its shutdown may have reached a handler: if that handler
// fails without writing a byte, the connection is closed, not replayed to the new server (the
// request must not run twice).
func TestRequestReadBeforeShutdownIsNeverReplayed(t *testing.T) {
	first := listenReusePort(t, "127.0.0.1:0")
	addr := first.Addr().String()
	inHandler, release := make(chan struct{}), make(chan struct{})
	var oldRuns, newRuns atomic.Int64
	oldSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		oldRuns.Add(1)
		close(inHandler)
		<-release
		panic(http.ErrAbortHandler) // fails without a byte of answer
	})}
	go oldSrv.Serve(Wrap(first))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /order HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
	<-inHandler

	newSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { newRuns.Add(1) })}
	go newSrv.Serve(Wrap(listenReusePort(t, addr)))
	defer newSrv.Close()
	go oldSrv.Shutdown(context.Background())
	time.Sleep(100 * time.Millisecond) // the shutdown has begun
	close(release)

	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
		t.Fatal("got an answer to a request whose handler failed")
	}
	if o, n := oldRuns.Load(), newRuns.Load(); o != 1 || n != 0 {
		t.Fatalf("the request ran %d times on the old server and %d on the new one; want 1 and 0", o, n)
	}
}

// An upload in progress at a reload: its request was read before the shutdown and its body goes
// on arriving after it. If the handler then fails without answering, the connection is closed, not
// replayed (the request must not run twice), and what was read of the body is not kept.
func TestUploadInProgressIsNeverReplayed(t *testing.T) {
	first := listenReusePort(t, "127.0.0.1:0")
	addr := first.Addr().String()
	started, release := make(chan struct{}), make(chan struct{})
	var oldRuns, newRuns atomic.Int64
	oldSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		oldRuns.Add(1)
		buf := make([]byte, 1024)
		io.ReadFull(r.Body, buf) // the part sent before the reload
		close(started)
		<-release
		io.Copy(io.Discard, r.Body) // the rest, read after the shutdown began
		panic(http.ErrAbortHandler) // fails without a byte of answer
	})}
	oldL := Wrap(first)
	go oldSrv.Serve(oldL)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const size = 4 << 20
	io.WriteString(c, fmt.Sprintf("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size))
	c.Write(make([]byte, 1024))
	<-started

	newSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { newRuns.Add(1) })}
	go newSrv.Serve(Wrap(listenReusePort(t, addr)))
	defer newSrv.Close()
	go oldSrv.Shutdown(context.Background())
	time.Sleep(100 * time.Millisecond) // the shutdown has begun
	close(release)
	go c.Write(make([]byte, size-1024))

	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
		t.Fatal("got an answer to a request whose handler failed")
	}
	if o, n := oldRuns.Load(), newRuns.Load(); o != 1 || n != 0 {
		t.Fatalf("the upload ran %d times on the old server and %d on the new one; want 1 and 0", o, n)
	}
}
