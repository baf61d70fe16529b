// Package otptest has fakes for one-time-code delivery: an SMTP sink that accepts mail on a
// loopback port and keeps it, and an SMS gateway that records what it was asked to send.
//
//	sink := otptest.NewSMTPSink()
//	defer sink.Close()
//	// otp.SMTP{Addr: sink.Addr(), From: "idgate@example.com"}
//	code := sink.LastCode("user@example.com")
package otptest

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
)

// Mail is one received e-mail.
type Mail struct {
	From, To string
	Data     string // headers and decoded body
}

// SMTPSink is a minimal SMTP server (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no TLS, no auth).
type SMTPSink struct {
	l    net.Listener
	mu   sync.Mutex
	mail []Mail
	wg   sync.WaitGroup
}

// NewSMTPSink listens on a loopback port. It panics if it cannot.
func NewSMTPSink() *SMTPSink {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic("otptest: " + err.Error())
	}
	s := &SMTPSink{l: l}
	s.wg.Add(1)
	go s.serve()
	return s
}

// Addr returns host:port.
func (s *SMTPSink) Addr() string { return s.l.Addr().String() }

// Close stops the sink.
func (s *SMTPSink) Close() { s.l.Close(); s.wg.Wait() }

// Mail returns everything received so far.
func (s *SMTPSink) Mail() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mail...)
}

var codeRE = regexp.MustCompile(`\b(\d{6})\b`)

// LastCode returns the 6-digit code of the latest mail to addr, or "".
func (s *SMTPSink) LastCode(addr string) string {
	m := s.Mail()
	for i := len(m) - 1; i >= 0; i-- {
		if m[i].To == addr {
			if c := codeRE.FindStringSubmatch(m[i].Data); c != nil {
				return c[1]
			}
		}
	}
	return ""
}

func (s *SMTPSink) serve() {
	defer s.wg.Done()
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		go s.handle(c)
	}
}

func (s *SMTPSink) handle(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(line string) { io.WriteString(c, line+"\r\n") }
	say("220 otptest ESMTP")
	var from, to string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 otptest")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			from = strings.Trim(strings.TrimSpace(line)[10:], "<> ")
			say("250 OK")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			to = strings.Trim(strings.TrimSpace(line)[8:], "<> ")
			say("250 OK")
		case cmd == "DATA":
			say("354 end with .")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if strings.TrimRight(l, "\r\n") == "." {
					break
				}
				data.WriteString(l)
			}
			s.mu.Lock()
			s.mail = append(s.mail, Mail{From: from, To: to, Data: decode(data.String())})
			s.mu.Unlock()
			say("250 queued")
		case cmd == "RSET", cmd == "NOOP":
			say("250 OK")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("502 not implemented")
		}
	}
}

// decode appends the base64-decoded body to the raw message, so tests can read the text.
func decode(raw string) string {
	_, body, ok := strings.Cut(raw, "\r\n\r\n")
	if !ok {
		return raw
	}
	if b, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", ""), "\n", "")); err == nil {
		return raw + "\n" + string(b)
	}
	return raw
}

// SMSGateway is a fake HTTP SMS gateway; it records request bodies and headers.
type SMSGateway struct {
	*httptest.Server
	mu       sync.Mutex
	requests []SMSRequest
	status   int
}

// SMSRequest is one recorded request.
type SMSRequest struct {
	Header http.Header
	Body   map[string]any
	Raw    string
}

// NewSMSGateway starts a gateway answering 200 {"result":"success"}.
func NewSMSGateway() *SMSGateway {
	g := &SMSGateway{status: 200}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		json.Unmarshal(raw, &body)
		g.mu.Lock()
		g.requests = append(g.requests, SMSRequest{Header: r.Header.Clone(), Body: body, Raw: string(raw)})
		st := g.status
		g.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(st)
		if st == 200 {
			io.WriteString(w, `{"result":"success"}`)
		} else {
			io.WriteString(w, `{"result":"fail","message":"gateway error"}`)
		}
	}))
	return g
}

// SetStatus makes the gateway answer status.
func (g *SMSGateway) SetStatus(status int) {
	g.mu.Lock()
	g.status = status
	g.mu.Unlock()
}

// Requests returns the recorded requests.
func (g *SMSGateway) Requests() []SMSRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]SMSRequest(nil), g.requests...)
}

// LastCode returns the 6-digit code of the latest SMS, or "".
func (g *SMSGateway) LastCode() string {
	r := g.Requests()
	if len(r) == 0 {
		return ""
	}
	if c := codeRE.FindStringSubmatch(r[len(r)-1].Raw); c != nil {
		return c[1]
	}
	return ""
}
