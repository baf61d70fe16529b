package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/examples/demo/sandbox"
)

func TestMetricsAndAuditLog(t *testing.T) {
	port, _ := sandbox.FreePort()
	withCaddyfile(t, sb.Caddyfile+fmt.Sprintf("\nhttp://:%d {\n\tmetrics\n}\n", port))
	b := newBrowser(t)
	b.do("GET", "/members/x", jsonHdr, nil, nil)      // challenge: login
	b.do("GET", "/no/policy", jsonHdr, nil, nil)      // refusal: no_policy
	b.login("naver", freshNaverUser(t), "/members/x") // login event, provider calls
	b.do("GET", "/members/x", jsonHdr, nil, nil)      // decision: ok
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(data)
	for _, want := range []string{
		`idgate_decisions_total{outcome="ok",policy="members"}`,
		`idgate_decisions_total{outcome="login_required",policy="members"}`,
		`idgate_decisions_total{outcome="no_policy",policy="none"}`,
		`idgate_challenges_total{requirement="login"}`,
		`idgate_provider_request_duration_seconds_count{outcome="2xx",provider="naver"}`,
		`idgate_events_total{detail="",event="login"}`,
		`idgate_events_total{detail="no_policy",event="refusal"}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	time.Sleep(100 * time.Millisecond)
	logs, _ := os.ReadFile(logFile)
	if !strings.Contains(string(logs), `"logger":"idgate.audit"`) || !strings.Contains(string(logs), `"event":"refusal"`) {
		t.Fatal("audit log entries missing")
	}
}
