package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/idgate/idgate/providers/recaptcha"
	"github.com/idgate/idgate/providers/recaptcha/recaptchatest"
)

// recaptchaFlow drives the account verification as the page does, with the fake's helpers in
// place of Google's script; pin "" uses the PIN the fake e-mailed.
func recaptchaFlow(t *testing.T, b *browser, email, pin string) (int, map[string]any) {
	t.Helper()
	resp, body := b.post("/.idgate/mfa/recaptcha/start", map[string]string{"token": sb.Recaptcha.ExecuteToken()})
	m := decodeJSON(t, body)
	rt, _ := m["requestToken"].(string)
	if resp.StatusCode != 200 || rt == "" || m["to"] == email {
		t.Fatalf("start: %d %v", resp.StatusCode, m)
	}
	if !sb.Recaptcha.Challenge(rt) {
		t.Fatal("challengeAccount failed")
	}
	if pin == "" {
		pin = sb.Recaptcha.LastPIN(email)
	}
	verdict, _ := sb.Recaptcha.Verify(rt, pin)
	resp, body = b.post("/.idgate/mfa/recaptcha/verify", map[string]string{"token": verdict, "rd": "/admin/x"})
	return resp.StatusCode, decodeJSON(t, body)
}

func TestRecaptchaAccountVerificationResults(t *testing.T) {
	defer sb.Recaptcha.SetKnobs(recaptchatest.Knobs{})
	for _, c := range []struct {
		name   string
		force  string
		pin    string
		status int
		code   string
	}{
		{"verified", "", "", 200, ""},
		{"wrong PIN", "", "999999x", 400, "recaptcha_not_verified"},
		{recaptcha.ResultUnspecified, recaptcha.ResultUnspecified, "", 400, "recaptcha_incomplete"},
		{recaptcha.ResultOnboardingIncomplete, recaptcha.ResultOnboardingIncomplete, "", 500, "recaptcha_onboarding_incomplete"},
		{recaptcha.ResultRecipientNotAllowed, recaptcha.ResultRecipientNotAllowed, "", 400, "recaptcha_recipient_not_allowed"},
		{recaptcha.ResultRecipientAbuseLimit, recaptcha.ResultRecipientAbuseLimit, "", 429, "recaptcha_abuse_limit"},
		{recaptcha.ResultCriticalInternal, recaptcha.ResultCriticalInternal, "", 503, "recaptcha_internal_error"},
		{recaptcha.ResultCustomerQuotaExceeded, recaptcha.ResultCustomerQuotaExceeded, "", 503, "recaptcha_quota_exhausted"},
		{recaptcha.ResultVerificationBypassed, recaptcha.ResultVerificationBypassed, "", 403, "recaptcha_bypassed"},
		{recaptcha.ResultVerdictMismatch, recaptcha.ResultVerdictMismatch, "", 400, "recaptcha_verdict_mismatch"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sb.Recaptcha.SetKnobs(recaptchatest.Knobs{ForceResult: c.force})
			key, email := freshNaverUserWithEmail(t)
			b := newBrowser(t)
			b.login("naver", key, "/admin/x")
			status, m := recaptchaFlow(t, b, email, c.pin)
			if status != c.status || (c.code != "" && m["code"] != c.code) || (c.code == "" && m["method"] != "recaptcha") {
				t.Fatalf("got %d %v, want %d %s", status, m, c.status, c.code)
			}
			if msg, _ := m["message"].(string); c.code != "" && msg == "" {
				t.Fatal("no message for the user")
			}
			want := 401
			if c.code == "" {
				want = 200
			}
			if resp, _ := b.do("GET", "/admin/x", jsonHdr, nil, nil); resp.StatusCode != want {
				t.Fatalf("admin after %s: %d", c.name, resp.StatusCode)
			}
		})
	}
}

func TestRecaptchaTokenProblems(t *testing.T) {
	key, _ := freshNaverUserWithEmail(t)
	b := newBrowser(t)
	b.login("naver", key, "/admin/x")
	resp, body := b.post("/.idgate/mfa/recaptcha/start", map[string]string{"token": "forged-token"})
	if m := decodeJSON(t, body); resp.StatusCode != 400 || m["code"] != "recaptcha_token_invalid" || m["detail"] != "MALFORMED" {
		t.Fatalf("forged token: %d %v", resp.StatusCode, m)
	}
	sb.Recaptcha.SetKnobs(recaptchatest.Knobs{Status: 500})
	defer sb.Recaptcha.SetKnobs(recaptchatest.Knobs{})
	resp, body = b.post("/.idgate/mfa/recaptcha/start", map[string]string{"token": sb.Recaptcha.ExecuteToken()})
	if m := decodeJSON(t, body); resp.StatusCode != 503 || m["code"] != "provider_unavailable" {
		t.Fatalf("Google down: %d %v", resp.StatusCode, m)
	}
}

// TestBrowserRecaptchaStepUp runs the page's reCAPTCHA script path in Chromium, with the fake's
// stand-in for Google's script.
func TestBrowserRecaptchaStepUp(t *testing.T) {
	ctx := newChrome(t, 1280, 900, "ko-KR")
	key, email := freshNaverUserWithEmail(t)
	do(t, ctx,
		chromedp.Navigate(sb.URL+"/admin/board"), chromedp.WaitVisible("#login-naver"), chromedp.Click("#login-naver"),
		chromedp.WaitVisible(`button[data-persona="`+key+`"]`), chromedp.Click(`button[data-persona="`+key+`"]`),
		chromedp.WaitVisible("#recaptcha-block[data-ready]"), chromedp.Click("#recaptcha-start"),
		chromedp.WaitVisible("#recaptcha-pin"),
	)
	pin := sb.Recaptcha.LastPIN(email)
	if pin == "" {
		t.Fatal("no PIN was e-mailed")
	}
	do(t, ctx, chromedp.SendKeys("#recaptcha-pin", pin), chromedp.Click("#recaptcha-submit"), chromedp.WaitVisible("#verified"))
	if url := get(t, ctx, chromedp.Location()); url != sb.URL+"/admin/board" {
		t.Fatalf("after reCAPTCHA: %s", url)
	}
	if h := get(t, ctx, chromedp.Text("#headers")); !strings.Contains(h, "recaptcha") {
		t.Fatalf("amr: %q", h)
	}
}
