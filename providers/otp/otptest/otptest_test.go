package otptest_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/providers/otp"
	"github.com/idgate/idgate/providers/otp/otptest"
)

func TestSMTPThroughTheSink(t *testing.T) {
	sink := otptest.NewSMTPSink()
	defer sink.Close()
	s := &otp.SMTP{Addr: sink.Addr(), From: "idgate@example.com", Timeout: 2 * time.Second}
	err := s.Send(context.Background(), otp.Message{To: "user@example.com", Subject: "인증 코드", Text: "인증 코드는 482913 입니다.", Code: "482913"})
	if err != nil {
		t.Fatal(err)
	}
	if got := sink.LastCode("user@example.com"); got != "482913" {
		t.Fatalf("code = %q; mail = %+v", got, sink.Mail())
	}
	if m := sink.Mail()[0]; !strings.Contains(m.Data, "=?UTF-8?b?") || !strings.Contains(m.Data, "인증 코드는 482913") {
		t.Fatalf("encoding: %s", m.Data)
	}
	if err := s.Send(context.Background(), otp.Message{To: "x@example.com\r\nBcc: evil@example.com"}); err == nil {
		t.Fatal("header injection accepted")
	}
	sink.Close()
	if err := s.Send(context.Background(), otp.Message{To: "user@example.com", Text: "x"}); err == nil {
		t.Fatal("send to a closed server succeeded")
	}
}

func TestHTTPSMSThroughTheGateway(t *testing.T) {
	g := otptest.NewSMSGateway()
	defer g.Close()
	tmpl, err := otp.ParseBodyTemplate(`{"to":{{json .To}},"text":{{json .Text}},"from":"15881234"}`)
	if err != nil {
		t.Fatal(err)
	}
	s := &otp.HTTPSMS{URL: g.URL + "/send", Headers: map[string]string{"X-Api-Key": "k"}, Body: tmpl, Client: &http.Client{Timeout: time.Second}}
	if err := s.Send(context.Background(), otp.Message{To: "01012345678", Text: "[idgate] 인증 코드 \"123456\"", Code: "123456"}); err != nil {
		t.Fatal(err)
	}
	r := g.Requests()[0]
	if r.Header.Get("X-Api-Key") != "k" || r.Body["to"] != "01012345678" || g.LastCode() != "123456" {
		t.Fatalf("request = %+v", r)
	}
	g.SetStatus(500)
	if err := s.Send(context.Background(), otp.Message{To: "01012345678", Text: "x"}); err == nil {
		t.Fatal("gateway failure not reported")
	}
	// invariant 10: an unreachable gateway's error (which is logged) names its host, never the
	// URL with an API key in its query.
	down := &otp.HTTPSMS{URL: "http://127.0.0.1:1/send?api_key=secret-key", Body: tmpl, Client: &http.Client{Timeout: time.Second}}
	err = down.Send(context.Background(), otp.Message{To: "01012345678", Text: "x"})
	if err == nil || strings.Contains(err.Error(), "secret-key") || strings.Contains(err.Error(), "01012345678") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("unreachable gateway error: %v", err)
	}
}

func TestOutbox(t *testing.T) {
	p := filepath.Join(t.TempDir(), "outbox.jsonl")
	o := &otp.Outbox{Path: p}
	o.Send(context.Background(), otp.Message{To: "a", Code: "111111"})
	data, _ := os.ReadFile(p)
	if !strings.Contains(string(data), `"code":"111111"`) {
		t.Fatalf("outbox = %s", data)
	}
}
