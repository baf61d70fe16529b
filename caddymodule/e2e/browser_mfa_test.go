package e2e

import (
	"encoding/base32"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/idgate/idgate/providers/totp"
)

// TestBrowserEnrollTOTPAndStepUpOnAnAdminPath: a signed-in user opens an admin page, sets up an
// authenticator from the QR page, keeps the recovery codes, lands on the page; a later session
// steps up with a code and goes straight back.
func TestBrowserEnrollTOTPAndStepUpOnAnAdminPath(t *testing.T) {
	ctx := newChrome(t, 1280, 900, "ko-KR")
	loginInBrowser(t, ctx, "/admin/payouts")
	do(t, ctx, chromedp.WaitVisible("#totp-setup"))
	screenshot(t, ctx, "mfa-none")
	do(t, ctx, chromedp.Click("#totp-setup"), chromedp.WaitVisible("#totp-qr"))
	key := strings.ReplaceAll(get(t, ctx, chromedp.Text("#totp-secret")), " ", "")
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(key)
	if err != nil {
		t.Fatalf("secret %q: %v", key, err)
	}
	qrLoaded := get(t, ctx, chromedp.Evaluate[bool](`document.querySelector('#totp-qr').naturalWidth > 0`))
	if !qrLoaded {
		t.Fatal("the QR code image did not load")
	}
	screenshot(t, ctx, "totp-setup")
	do(t, ctx,
		chromedp.SendKeys("#totp-confirm-code", totp.Code(secret, time.Now())),
		chromedp.Click("#totp-confirm"),
		chromedp.WaitVisible("#recovery-codes"),
	)
	codes := get(t, ctx, chromedp.Text("#recovery-codes"))
	if strings.Count(codes, "-") != 10 {
		t.Fatalf("recovery codes: %q", codes)
	}
	screenshot(t, ctx, "recovery-codes")
	do(t, ctx, chromedp.Click("#continue"), chromedp.WaitVisible("#verified"))
	if url := get(t, ctx, chromedp.Location()); url != sb.URL+"/admin/payouts" {
		t.Fatalf("after enrollment: %s", url)
	}
	if h := get(t, ctx, chromedp.Text("#headers")); !strings.Contains(h, "X-User-Amr") || !strings.Contains(h, "totp") {
		t.Fatalf("headers: %q", h)
	}
	// Later: log out, log in again as the same person, step up with the app's next code.
	user := lastFreshKey()
	do(t, ctx,
		chromedp.Navigate(sb.URL+"/.idgate/logout"), chromedp.WaitVisible("#logout"), chromedp.Click("#logout"), chromedp.WaitVisible("#logged-out"),
		chromedp.Navigate(sb.URL+"/admin/payouts"), chromedp.WaitVisible("#login-naver"), chromedp.Click("#login-naver"),
		chromedp.WaitVisible(`button[data-persona="`+user+`"]`), chromedp.Click(`button[data-persona="`+user+`"]`),
		chromedp.WaitVisible("#totp-code"),
	)
	screenshot(t, ctx, "mfa-step-up")
	do(t, ctx,
		chromedp.SendKeys("#totp-code", totp.Code(secret, time.Now().Add(30*time.Second))),
		chromedp.Click("#totp-submit"),
		chromedp.WaitVisible("#verified"),
	)
	if url := get(t, ctx, chromedp.Location()); url != sb.URL+"/admin/payouts" {
		t.Fatalf("after step-up: %s", url)
	}
}
