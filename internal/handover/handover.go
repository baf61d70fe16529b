// Package handover keeps a Caddy reload from dropping connections that arrive while it happens.
//
// During a reload Caddy starts the new servers before it shuts the old ones down, and on Linux
// each configuration listens on its own SO_REUSEPORT socket, so for a moment the kernel spreads
// new connections over both. Go's http.Server drops (closes without an answer) any connection
// whose first request it reads after its Shutdown began, so a connection the old server accepted
// just before the reload gets EOF instead of a response, and a browser does not retry it.
//
// A Listener wraps one server's listener. Listeners on the same address form a group; the newest
// open one is current. Every connection any member accepts is handed to the current one, so an
// old server stops receiving connections as soon as its successor listens. A connection an old
// server accepted but closes before writing a single byte, having read nothing before its
// shutdown began (Go's shutdown path), is not closed: it goes to the current Listener with the
// bytes read since replayed first, and the new server answers it. A connection with any answer on
// it, or with any byte read before the shutdown (its request may have reached a handler, an
// upload may be under way), is never handed over, so no request is handled twice; nor is one
// that sent more than maxReplay bytes unanswered.
package handover

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Listener is one server's view of a shared address.
type Listener struct {
	inner net.Listener
	group *group
	conns chan net.Conn
	errs  chan error
	done  chan struct{}

	mu     sync.Mutex  // makes "not closed, then queue" atomic against Close
	closed atomic.Bool // set by Close; read on every Read of its connections
	once   sync.Once
}

type group struct {
	mu   sync.Mutex
	live []*Listener // oldest first; the last one is current
}

var (
	groupsMu sync.Mutex
	groups   = map[string]*group{}
)

// Wrap returns ln as a member of the group of its address; it becomes the current member.
func Wrap(ln net.Listener) *Listener {
	key := ln.Addr().Network() + "/" + ln.Addr().String()
	groupsMu.Lock()
	g := groups[key]
	if g == nil {
		g = &group{}
		groups[key] = g
	}
	l := &Listener{inner: ln, group: g, conns: make(chan net.Conn, 256), errs: make(chan error, 1), done: make(chan struct{})}
	g.mu.Lock()
	g.live = append(g.live, l)
	g.mu.Unlock()
	groupsMu.Unlock()
	go l.pump()
	return l
}

// pump accepts from the inner listener for as long as this Listener is open and hands every
// connection to the group's current member.
func (l *Listener) pump() {
	for {
		c, err := l.inner.Accept()
		if err != nil {
			select {
			case <-l.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Caddy wakes a shared listener's Accept with a past deadline when a sibling
				// closes; it is not ours to report.
				continue
			}
			select {
			case l.errs <- err:
			case <-l.done:
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		l.group.deliver(&conn{Conn: c, group: l.group})
	}
}

// deliver gives c to the current member, or closes it when the address has none left.
func (g *group) deliver(c net.Conn) {
	for {
		g.mu.Lock()
		var cur *Listener
		if len(g.live) > 0 {
			cur = g.live[len(g.live)-1]
		}
		g.mu.Unlock()
		if cur == nil {
			c.Close()
			return
		}
		if cur.offer(c) {
			return
		}
		// cur closed meanwhile, or is overwhelmed: look again.
		time.Sleep(time.Millisecond)
	}
}

// offer queues c for Accept unless l is closed or its queue is full.
func (l *Listener) offer(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return false
	}
	select {
	case l.conns <- c:
		return true
	default:
		return false
	}
}

// Accept returns the next connection handed to this Listener.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		if l.closed.Load() {
			// Close raced with us: the server is shutting down and must not get it.
			l.group.deliver(c)
			return nil, net.ErrClosed
		}
		if hc, ok := c.(*conn); ok {
			hc.owner = l
		}
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close leaves the group, hands every queued connection to the member that is now current and
// closes the inner listener.
func (l *Listener) Close() error {
	var err error
	l.once.Do(func() {
		l.mu.Lock()
		l.closed.Store(true)
		l.mu.Unlock()
		close(l.done)
		g := l.group
		g.mu.Lock()
		for i, m := range g.live {
			if m == l {
				g.live = append(g.live[:i], g.live[i+1:]...)
				break
			}
		}
		g.mu.Unlock()
		for {
			select {
			case c := <-l.conns:
				g.deliver(c)
				continue
			default:
			}
			break
		}
		err = l.inner.Close()
	})
	return err
}

// Addr is the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// isClosed reports whether l's server is shutting down.
func (l *Listener) isClosed() bool { return l.closed.Load() }

// conn records what its server reads until the server first writes, so that a connection closed
// unanswered by a server that is shutting down can be replayed to its successor.
type conn struct {
	net.Conn
	group *group
	owner *Listener // the Listener whose server accepted it

	mu     sync.Mutex
	replay []byte // read by a previous server, served to Read first
	seen   []byte // read by this server since its shutdown began, while it has written nothing
	moved  bool
	// kept: the connection stays with this server whatever happens, because it wrote, or read
	// a byte before its shutdown began (a request that may have reached a handler, which could
	// fail without a byte of answer), or read more than maxReplay bytes unanswered.
	kept bool
}

// maxReplay bounds what a connection may have read, unanswered, and still be handed over: a
// request line and headers (Go's default limit is 1 MB) and the start of a body.
const maxReplay = 1<<20 + 64<<10

func (c *conn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if len(c.replay) > 0 {
		n := copy(p, c.replay)
		c.replay = c.replay[n:]
		c.record(p[:n])
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.record(p[:n])
		c.mu.Unlock()
	}
	return n, err
}

// record keeps b, read by this server, for a replay: only while the connection may still be
// handed over. c.mu is held.
func (c *conn) record(b []byte) {
	if c.kept {
		return
	}
	if c.owner == nil || !c.owner.isClosed() || len(c.seen)+len(b) > maxReplay {
		c.keep()
		return
	}
	c.seen = append(c.seen, b...)
}

// keep makes the connection this server's for good. c.mu is held.
func (c *conn) keep() { c.kept, c.seen = true, nil }

// answered notes that this server wrote on the connection: it is never handed over from now on.
func (c *conn) answered() {
	c.mu.Lock()
	c.keep()
	c.mu.Unlock()
}

func (c *conn) Write(p []byte) (int, error) {
	c.answered()
	return c.Conn.Write(p)
}

// ReadFrom keeps sendfile/splice for file servers: it is a write.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	c.answered()
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(c.Conn, r)
}

// Close hands the connection over instead when its server is shutting down and has answered
// nothing on it; otherwise it closes it.
func (c *conn) Close() error {
	c.mu.Lock()
	if c.moved {
		c.mu.Unlock()
		return nil
	}
	handOver := !c.kept && c.owner != nil && c.owner.isClosed() && c.group.hasLive()
	if handOver {
		c.moved = true
		next := &conn{Conn: c.Conn, group: c.group, replay: append(c.seen, c.replay...)}
		c.mu.Unlock()
		// The old server may have set deadlines; the new one sets its own.
		c.Conn.SetDeadline(time.Time{})
		c.group.deliver(next)
		return nil
	}
	c.mu.Unlock()
	return c.Conn.Close()
}

func (g *group) hasLive() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.live) > 0
}
