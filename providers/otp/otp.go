// Package otp sends one-time codes: by e-mail over SMTP, by SMS through a generic HTTP gateway
// (URL, headers and body template configurable for Korean SMS providers), and, for the demo only,
// to an outbox file. It never logs codes, addresses or phone numbers.
package otp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/smtp"
	"net/url"
	"os"
	"strings"
	"sync"
	"text/template"
	"time"
)

// Message is one code to deliver.
type Message struct {
	To      string // e-mail address or phone number (digits)
	Subject string // e-mail only
	Text    string // the whole text, code included
	Code    string
}

// SMTP sends e-mail through an SMTP server, with STARTTLS when the server offers it.
type SMTP struct {
	Addr     string // host:port
	Username string
	Password string
	From     string
	// Timeout bounds the whole exchange. Default 10s.
	Timeout time.Duration
}

// Send delivers m as a UTF-8 text e-mail.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if strings.ContainsAny(m.To, "\r\n<>") || strings.ContainsAny(s.From, "\r\n") {
		return errors.New("otp: invalid e-mail address")
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("otp: smtp: %w", err)
	}
	conn.SetDeadline(time.Now().Add(timeout))
	host, _, _ := net.SplitHostPort(s.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("otp: smtp: %w", err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(tlsConfig(host)); err != nil {
			return fmt.Errorf("otp: smtp starttls: %w", err)
		}
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return fmt.Errorf("otp: smtp auth: %w", err)
		}
	}
	if err := c.Mail(s.From); err != nil {
		return fmt.Errorf("otp: smtp: %w", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return fmt.Errorf("otp: smtp: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("otp: smtp: %w", err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMIME-Version: 1.0\r\n", s.From, m.To,
		mime.BEncoding.Encode("UTF-8", m.Subject), time.Now().Format(time.RFC1123Z))
	b.WriteString("Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString([]byte(m.Text))
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("otp: smtp: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("otp: smtp: %w", err)
	}
	return c.Quit()
}

// HTTPSMS sends SMS through an HTTP gateway. Body is a text/template over Message; the template
// function json quotes a value as a JSON string.
type HTTPSMS struct {
	URL     string
	Method  string // default POST
	Headers map[string]string
	Body    *template.Template
	Client  *http.Client
}

// ParseBodyTemplate parses an SMS body template such as {"to":{{json .To}},"text":{{json .Text}}}.
func ParseBodyTemplate(s string) (*template.Template, error) {
	return template.New("sms").Funcs(template.FuncMap{"json": func(v string) string {
		b, _ := json.Marshal(v)
		return string(b)
	}}).Parse(s)
}

// Send posts m to the gateway; any 2xx is success.
func (h *HTTPSMS) Send(ctx context.Context, m Message) error {
	var body bytes.Buffer
	if err := h.Body.Execute(&body, m); err != nil {
		return fmt.Errorf("otp: sms body template: %w", err)
	}
	method := h.Method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, h.URL, &body)
	if err != nil {
		return fmt.Errorf("otp: sms: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range h.Headers {
		req.Header.Set(k, v)
	}
	resp, err := h.Client.Do(req)
	if err != nil {
		// The URL may carry an API key in its query: name only the host (net/http's *url.Error
		// would print the whole URL).
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("otp: sms gateway %s unreachable: %w", req.URL.Host, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("otp: sms gateway answered HTTP %d", resp.StatusCode)
	}
	return nil
}

// Outbox appends messages to a file. It exists for the demo's sandbox only: the caller MUST
// refuse it unless the operator opted in to insecure demo senders.
type Outbox struct {
	Path string
	mu   sync.Mutex
}

// Send appends one JSON line.
func (o *Outbox) Send(_ context.Context, m Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	f, err := os.OpenFile(o.Path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("otp: outbox: %w", err)
	}
	defer f.Close()
	line, _ := json.Marshal(map[string]string{"to": m.To, "subject": m.Subject, "text": m.Text, "code": m.Code, "at": time.Now().UTC().Format(time.RFC3339)})
	_, err = f.Write(append(line, '\n'))
	return err
}
