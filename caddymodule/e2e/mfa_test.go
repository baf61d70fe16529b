package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/idgate/idgate/providers/naver/navertest"
	"github.com/idgate/idgate/providers/otp/otptest"
	"github.com/idgate/idgate/providers/totp"
)

// freshNaverUserWithEmail adds a persona with an e-mail address (where e-mail codes go).
func freshNaverUserWithEmail(t *testing.T) (string, string) {
	freshCount++
	key := fmt.Sprintf("mail%d", freshCount)
	email := fmt.Sprintf("user%d-%d@example.com", freshCount, time.Now().UnixNano())
	sb.Naver.AddPersona(navertest.Persona{Key: key, ID: fmt.Sprintf("mail-%d-%d", time.Now().UnixNano(), freshCount), Nickname: key, Email: email})
	return key, email
}

// form posts a same-origin form as JSON-accepting client.
func (b *browser) form(path string, v url.Values) (int, map[string]any) {
	b.t.Helper()
	resp, body := b.do("POST", path, map[string]string{"Origin": sb.URL, "Accept": "application/json"}, v)
	return resp.StatusCode, decodeJSON(b.t, body)
}

func (b *browser) enrollTOTP(rd string) []byte {
	b.t.Helper()
	status, m := b.form("/.idgate/mfa/totp/enroll", url.Values{"rd": {rd}})
	uri, _ := m["otpauth_uri"].(string)
	if status != 200 || !strings.HasPrefix(uri, "otpauth://totp/idgate%20demo:") || !strings.HasPrefix(m["qr"].(string), "data:image/png;base64,") {
		b.t.Fatalf("enroll: %d %v", status, m)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(m["secret"].(string))
	if err != nil {
		b.t.Fatal(err)
	}
	return secret
}

// outboxCode reads the latest code sent to addr from a demo outbox.
func outboxCode(t *testing.T, path, to string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("outbox: %v", err)
	}
	defer f.Close()
	code := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]string
		json.Unmarshal(sc.Bytes(), &m)
		if m["to"] == to {
			code = m["code"]
		}
	}
	return code
}

func TestTOTPEnrollmentStepUpAndReuse(t *testing.T) {
	b := newBrowser(t)
	b.login("naver", freshNaverUser(t), "/admin/payouts")
	resp, body := b.do("GET", "/admin/payouts", jsonHdr, nil, nil)
	if m := decodeJSON(t, body); resp.StatusCode != 401 || m["code"] != "mfa_required" || m["mfa_url"] != "/.idgate/mfa?rd=%2Fadmin%2Fpayouts" {
		t.Fatalf("challenge: %d %v", resp.StatusCode, m)
	}
	resp, _ = b.nav("/admin/payouts")
	if location(t, resp) != "/.idgate/mfa?rd=%2Fadmin%2Fpayouts" {
		t.Fatal("browser challenge")
	}
	_, page := b.nav("/.idgate/mfa?rd=%2Fadmin%2Fpayouts")
	if !strings.Contains(page, `id="totp-setup"`) {
		t.Fatal("no enrollment offered to a user without a second factor")
	}
	secret := b.enrollTOTP("/admin/payouts")
	// Not counted until confirmed: the policy still asks.
	if resp, _ := b.do("GET", "/admin/payouts", jsonHdr, nil, nil); resp.StatusCode != 401 {
		t.Fatal("unconfirmed enrollment satisfied mfa")
	}
	if status, m := b.form("/.idgate/mfa/totp/confirm", url.Values{"code": {"000000"}, "rd": {"/admin/payouts"}}); status != 400 || m["code"] != "mfa_code_invalid" {
		t.Fatalf("wrong first code: %d %v", status, m)
	}
	now := time.Now()
	status, m := b.form("/.idgate/mfa/totp/confirm", url.Values{"code": {totp.Code(secret, now)}, "rd": {"/admin/payouts"}})
	codes, _ := m["recovery_codes"].([]any)
	if status != 200 || len(codes) != 10 || m["rd"] != "/admin/payouts" {
		t.Fatalf("confirm: %d %v", status, m)
	}
	// Recovery codes are stored keyed (HMAC), never as a bare hash a leaked record gives away.
	stored, _ := filepath.Glob(filepath.Join(sb.DataDir, "records", "records", "*.json"))
	var all strings.Builder
	for _, f := range stored {
		data, _ := os.ReadFile(f)
		all.Write(data)
	}
	for _, c := range codes {
		sum := sha256.Sum256([]byte(strings.ReplaceAll(c.(string), "-", "")))
		if strings.Contains(all.String(), hex.EncodeToString(sum[:])) {
			t.Fatal("invariant 10: a recovery code is stored as its bare SHA-256")
		}
	}
	if len(stored) == 0 || !strings.Contains(all.String(), "recovery") {
		t.Fatalf("no record with recovery codes under %s", sb.DataDir)
	}
	status, rep := b.report("/admin/payouts", nil)
	if status != 200 || !strings.Contains(rep.Headers["X-User-Amr"], "totp") {
		t.Fatalf("after step-up: %d %v", status, rep.Headers)
	}
	claims := jwt.MapClaims{}
	jwt.NewParser().ParseUnverified(rep.Headers["X-Idgate-Assertion"], claims)
	if claims["mfa_at"] == nil || !strings.Contains(fmt.Sprint(claims["amr"]), "totp") || !strings.Contains(fmt.Sprint(claims["amr"]), "mfa") {
		t.Fatalf("assertion: %v", claims)
	}
	// A new session (another device) must step up; the code just used is refused (never twice),
	// the next step's code (one step of drift) works once.
	again := newBrowser(t)
	again.login("naver", lastFreshKey(), "/admin/payouts")
	if status, m := again.form("/.idgate/mfa/totp/verify", url.Values{"code": {totp.Code(secret, now)}, "rd": {"/admin/payouts"}}); status != 400 || m["code"] != "mfa_code_invalid" {
		t.Fatalf("invariant 7: reused code: %d %v", status, m)
	}
	next := totp.Code(secret, now.Add(30*time.Second))
	if status, m := again.form("/.idgate/mfa/totp/verify", url.Values{"code": {next}, "rd": {"/admin/payouts"}}); status != 200 || m["mfa"] != true {
		t.Fatalf("next step: %d %v", status, m)
	}
	if status, _ := again.form("/.idgate/mfa/totp/verify", url.Values{"code": {next}, "rd": {"/admin/payouts"}}); status != 400 {
		t.Fatal("invariant 7: the same code accepted twice")
	}
	// Recovery codes work once.
	third := newBrowser(t)
	third.login("naver", lastFreshKey(), "/admin/payouts")
	rc := codes[0].(string)
	if status, m := third.form("/.idgate/mfa/recovery", url.Values{"code": {strings.ToUpper(rc)}, "rd": {"/admin/payouts"}}); status != 200 {
		t.Fatalf("recovery code: %d %v", status, m)
	}
	fourth := newBrowser(t)
	fourth.login("naver", lastFreshKey(), "/admin/payouts")
	if status, _ := fourth.form("/.idgate/mfa/recovery", url.Values{"code": {rc}, "rd": {"/admin/payouts"}}); status != 400 {
		t.Fatal("a recovery code worked twice")
	}
	// Removing the authenticator needs a fresh step-up: fourth has none, third has one.
	if status, m := fourth.form("/.idgate/mfa/totp/remove", url.Values{}); status != 401 || m["code"] != "mfa_required" {
		t.Fatalf("removal without step-up: %d %v", status, m)
	}
	if status, m := third.form("/.idgate/mfa/totp/remove", url.Values{}); status != 200 || m["removed"] != true {
		t.Fatalf("removal: %d %v", status, m)
	}
	if status, m := fourth.form("/.idgate/mfa/totp/verify", url.Values{"code": {totp.Code(secret, now.Add(60*time.Second))}}); status != 400 || m["code"] != "totp_not_enrolled" {
		t.Fatalf("after removal: %d %v", status, m)
	}
}

func lastFreshKey() string { return fmt.Sprintf("fresh%d", freshCount) }

func TestStepUpLockoutAndItsExpiry(t *testing.T) {
	withCaddyfile(t, strings.Replace(sb.Caddyfile, "\t\t\tinsecure_demo_senders\n", "\t\t\tinsecure_demo_senders\n\t\t\tlockout 2s\n", 1))
	b := newBrowser(t)
	b.login("naver", freshNaverUser(t), "/admin/x")
	secret := b.enrollTOTP("/admin/x")
	now := time.Now()
	if status, _ := b.form("/.idgate/mfa/totp/confirm", url.Values{"code": {totp.Code(secret, now)}}); status != 200 {
		t.Fatal("confirm")
	}
	c := newBrowser(t)
	c.login("naver", lastFreshKey(), "/admin/x")
	for i := 0; i < 5; i++ {
		// The wrong code that locks the account says so at once (not a silent lock).
		want, wantStatus := "mfa_code_invalid", 400
		if i == 4 {
			want, wantStatus = "mfa_locked", 429
		}
		if status, m := c.form("/.idgate/mfa/totp/verify", url.Values{"code": {fmt.Sprintf("%06d", i)}}); status != wantStatus || m["code"] != want {
			t.Fatalf("wrong code %d: %d %v", i, status, m)
		}
	}
	status, m := c.form("/.idgate/mfa/totp/verify", url.Values{"code": {totp.Code(secret, now.Add(30*time.Second))}})
	if status != 429 || m["code"] != "mfa_locked" || m["retry_after"] == nil {
		t.Fatalf("locked: %d %v", status, m)
	}
	// The page says how long to wait.
	resp, page := c.do("POST", "/.idgate/mfa/totp/verify", map[string]string{"Origin": sb.URL, "Accept": "text/html"}, url.Values{"code": {"123456"}})
	if resp.StatusCode != 429 || !strings.Contains(page, "분 뒤에 다시 시도할 수 있습니다") || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("lockout page: %d", resp.StatusCode)
	}
	time.Sleep(2200 * time.Millisecond)
	if status, m := c.form("/.idgate/mfa/totp/verify", url.Values{"code": {totp.Code(secret, time.Now().Add(30*time.Second))}}); status != 200 {
		t.Fatalf("after the lockout: %d %v", status, m)
	}
	data, _ := os.ReadFile(logFile)
	if !strings.Contains(string(data), `"event":"mfa_lockout"`) {
		t.Fatal("lockout not logged")
	}
}

func TestEmailCodesLimitsAndSingleUse(t *testing.T) {
	key, email := freshNaverUserWithEmail(t)
	b := newBrowser(t)
	b.login("naver", key, "/admin/x")
	_, page := b.nav("/.idgate/mfa?rd=%2Fadmin%2Fx")
	if !strings.Contains(page, `id="send-email"`) || strings.Contains(page, email) {
		t.Fatalf("e-mail method (masked address): %s", page)
	}
	status, m := b.form("/.idgate/mfa/otp/send", url.Values{"channel": {"email"}})
	if status != 200 || m["sent"] != true || !strings.HasSuffix(m["to"].(string), "@example.com") || strings.HasPrefix(m["to"].(string), "user") {
		t.Fatalf("send: %d %v", status, m)
	}
	code := outboxCode(t, sb.EmailOutbox, email)
	if len(code) != 6 {
		t.Fatalf("no code in the outbox for %s", email)
	}
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	if status, m := b.form("/.idgate/mfa/otp/verify", url.Values{"channel": {"email"}, "code": {wrong}}); status != 400 || m["code"] != "mfa_code_invalid" {
		t.Fatalf("wrong code: %d %v", status, m)
	}
	if status, m := b.form("/.idgate/mfa/otp/verify", url.Values{"channel": {"email"}, "code": {code}, "rd": {"/admin/x"}}); status != 200 || m["method"] != "email" {
		t.Fatalf("right code: %d %v", status, m)
	}
	if resp, _ := b.do("GET", "/admin/x", jsonHdr, nil, nil); resp.StatusCode != 200 {
		t.Fatal("step-up by e-mail did not count")
	}
	if status, m := b.form("/.idgate/mfa/otp/verify", url.Values{"channel": {"email"}, "code": {code}}); status != 400 || m["code"] != "otp_expired" {
		t.Fatalf("invariant 7: code reused: %d %v", status, m)
	}
	// Sends per window: three are allowed (one used above).
	b.form("/.idgate/mfa/otp/send", url.Values{"channel": {"email"}})
	b.form("/.idgate/mfa/otp/send", url.Values{"channel": {"email"}})
	if status, m := b.form("/.idgate/mfa/otp/send", url.Values{"channel": {"email"}}); status != 429 || m["code"] != "otp_send_limited" {
		t.Fatalf("invariant 7: fourth send: %d %v", status, m)
	}
}

func TestCodeAttemptsAreBounded(t *testing.T) {
	// The account lockout (5 failures by default) would answer the fifth wrong code first, and
	// say so (mfa_locked); with more failures allowed, the code's own attempt limit shows.
	withCaddyfile(t, strings.Replace(sb.Caddyfile, "\t\t\tinsecure_demo_senders\n", "\t\t\tinsecure_demo_senders\n\t\t\tmax_failures 10\n", 1))
	key, email := freshNaverUserWithEmail(t)
	b := newBrowser(t)
	b.login("naver", key, "/admin/x")
	b.form("/.idgate/mfa/otp/send", url.Values{"channel": {"email"}})
	code := outboxCode(t, sb.EmailOutbox, email)
	var last map[string]any
	for i := 0; i < 5; i++ {
		guess := fmt.Sprintf("%06d", 900000+i)
		if guess == code {
			guess = "899999"
		}
		_, last = b.form("/.idgate/mfa/otp/verify", url.Values{"channel": {"email"}, "code": {guess}})
	}
	if last["code"] != "otp_attempts_exhausted" {
		t.Fatalf("invariant 7: fifth wrong attempt: %v", last)
	}
	// The right code no longer works: its attempts are used up, so it is gone.
	if status, _ := b.form("/.idgate/mfa/otp/verify", url.Values{"channel": {"email"}, "code": {code}}); status == 200 {
		t.Fatal("invariant 7: code accepted after its attempts were used up")
	}
}

func TestSMSCodeToTheVerifiedPhone(t *testing.T) {
	resetPortOne()
	b := newBrowser(t)
	b.login("naver", freshNaverUser(t), "/admin/x")
	if _, page := b.nav("/.idgate/mfa?rd=%2Fadmin%2Fx"); strings.Contains(page, `id="send-sms"`) {
		t.Fatal("SMS offered without a verified phone")
	}
	id := b.startVerification("/admin/x")
	sb.PortOne.Complete(id, "foreigner")
	if status, _ := b.complete(id); status != 200 {
		t.Fatal("phone verification")
	}
	_, page := b.nav("/.idgate/mfa?rd=%2Fadmin%2Fx")
	if !strings.Contains(page, `id="send-sms"`) || !strings.Contains(page, "010-****-5555") {
		t.Fatalf("SMS method: %s", page)
	}
	if status, m := b.form("/.idgate/mfa/otp/send", url.Values{"channel": {"sms"}}); status != 200 {
		t.Fatalf("send: %d %v", status, m)
	}
	code := outboxCode(t, sb.SMSOutbox, "01044445555")
	if status, m := b.form("/.idgate/mfa/otp/verify", url.Values{"channel": {"sms"}, "code": {code}}); status != 200 || m["method"] != "sms" {
		t.Fatalf("sms verify: %d %v", status, m)
	}
	if resp, _ := b.do("GET", "/admin/x", jsonHdr, nil, nil); resp.StatusCode != 200 {
		t.Fatal("SMS step-up did not count")
	}
}

func TestMFAEndpointsNeedSameOriginAndLogin(t *testing.T) {
	b := newBrowser(t)
	b.login("naver", freshNaverUser(t), "/admin/x")
	resp, _ := b.do("POST", "/.idgate/mfa/totp/enroll", map[string]string{"Origin": "http://evil.example", "Accept": "application/json"}, url.Values{})
	if resp.StatusCode != 403 {
		t.Fatalf("invariant 6: cross-origin enroll: %d", resp.StatusCode)
	}
	resp, _ = newBrowser(t).do("POST", "/.idgate/mfa/otp/send", map[string]string{"Origin": sb.URL, "Accept": "application/json"}, url.Values{"channel": {"email"}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous send: %d", resp.StatusCode)
	}
}

// TestRealSendersThroughCaddy configures the SMTP and HTTP SMS senders (against the sink and
// the gateway fakes) instead of the demo outboxes.
func TestRealSendersThroughCaddy(t *testing.T) {
	sink := otptest.NewSMTPSink()
	defer sink.Close()
	gw := otptest.NewSMSGateway()
	defer gw.Close()
	cf := strings.Replace(sb.Caddyfile, "\t\t\temail outbox "+sb.EmailOutbox+"\n",
		"\t\t\temail smtp {\n\t\t\t\taddress "+sink.Addr()+"\n\t\t\t\tfrom idgate@example.com\n\t\t\t}\n", 1)
	cf = strings.Replace(cf, "\t\t\tsms outbox "+sb.SMSOutbox+"\n",
		"\t\t\tsms http {\n\t\t\t\turl "+gw.URL+"/v1/send\n\t\t\t\theader X-Api-Key sms-key\n\t\t\t\tbody `{\"to\":{{json .To}},\"text\":{{json .Text}}}`\n\t\t\t}\n", 1)
	if cf == sb.Caddyfile {
		t.Fatal("sandbox Caddyfile changed shape")
	}
	withCaddyfile(t, cf)
	key, email := freshNaverUserWithEmail(t)
	b := newBrowser(t)
	b.login("naver", key, "/admin/x")
	if status, m := b.form("/.idgate/mfa/otp/send", url.Values{"channel": {"email"}}); status != 200 {
		t.Fatalf("smtp send: %d %v", status, m)
	}
	code := sink.LastCode(email)
	if status, m := b.form("/.idgate/mfa/otp/verify", url.Values{"channel": {"email"}, "code": {code}}); status != 200 {
		t.Fatalf("smtp code %q: %d %v", code, status, m)
	}
	resetPortOne()
	id := b.startVerification("/admin/x")
	sb.PortOne.Complete(id, "adult")
	b.complete(id)
	if status, m := b.form("/.idgate/mfa/otp/send", url.Values{"channel": {"sms"}}); status != 200 {
		t.Fatalf("sms send: %d %v", status, m)
	}
	reqs := gw.Requests()
	if len(reqs) == 0 || reqs[len(reqs)-1].Header.Get("X-Api-Key") != "sms-key" || reqs[len(reqs)-1].Body["to"] != "01012345678" {
		t.Fatalf("gateway saw %+v", reqs)
	}
	if status, m := b.form("/.idgate/mfa/otp/verify", url.Values{"channel": {"sms"}, "code": {gw.LastCode()}}); status != 200 {
		t.Fatalf("sms code: %d %v", status, m)
	}
	// A failing gateway is a clear error, and the user can pick another method.
	gw.SetStatus(500)
	if status, m := b.form("/.idgate/mfa/otp/send", url.Values{"channel": {"sms"}}); status != 503 || m["code"] != "otp_send_failed" {
		t.Fatalf("gateway down: %d %v", status, m)
	}
}

func TestOutboxSenderIsRefusedOutsideTheDemo(t *testing.T) {
	cf := strings.Replace(sb.Caddyfile, "\t\t\tinsecure_demo_senders\n", "", 1)
	err := validate(cf)
	if err == nil || !strings.Contains(err.Error(), "insecure_demo_senders") {
		t.Fatalf("outbox without the opt-in: %v", err)
	}
}

func base32NoPad(s string) ([]byte, error) {
	return base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
}
