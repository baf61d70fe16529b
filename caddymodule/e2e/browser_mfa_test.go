package e2e

import (
	"context"
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

// pageFits checks what a phone user needs of every page: no sideways scrolling, Korean words not
// broken mid-word, buttons in the page's font, and at most one primary action.
func pageFits(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	got := get(t, ctx, chromedp.Evaluate[map[string]any](`(function(){
		var b = document.querySelector("button, .btn");
		var prim = Array.from(document.querySelectorAll(".btn-primary")).filter(function(e){ return e.offsetParent !== null; }).length;
		return {overflow: document.documentElement.scrollWidth - window.innerWidth,
			wordBreak: getComputedStyle(document.body).wordBreak,
			sameFont: !b || getComputedStyle(b).fontFamily === getComputedStyle(document.body).fontFamily,
			primaries: prim};
	})()`))
	if got["overflow"].(float64) > 0 || got["wordBreak"] != "keep-all" || got["sameFont"] != true || got["primaries"].(float64) > 1 {
		screenshot(t, ctx, "misfit-"+name)
		t.Errorf("%s on a phone: %v", name, got)
	}
}

// TestBrowserNewUserTrapsAreGone walks what a new user tripped over: a mistyped first TOTP code,
// the otpauth:// link on a phone, five wrong codes, and every page's fit on a phone.
func TestBrowserNewUserTrapsAreGone(t *testing.T) {
	ctx := newChrome(t, 390, 844, "ko-KR", chromedp.UserAgent(phoneUA))
	do(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)))
	loginInBrowser(t, ctx, "/admin/payouts")
	do(t, ctx, chromedp.WaitVisible("#totp-setup"))
	pageFits(t, ctx, "mfa-none")
	do(t, ctx, chromedp.Click("#totp-setup"), chromedp.WaitVisible("#totp-qr"))
	pageFits(t, ctx, "totp-setup")
	if href := get(t, ctx, chromedp.AttributeValue("#totp-uri", "href")).Value; !strings.HasPrefix(href, "otpauth://totp/") {
		t.Fatalf("the otpauth link a phone taps is %q", href)
	}
	first := get(t, ctx, chromedp.Text("#totp-secret"))
	// A mistyped first code: the page says so, and setting up again shows the same secret, so the
	// account already added to the app still works.
	do(t, ctx, chromedp.SendKeys("#totp-confirm-code", "000000"), chromedp.Click("#totp-confirm"), chromedp.WaitVisible("#mfa-error"))
	do(t, ctx, chromedp.Click("#totp-setup"), chromedp.WaitVisible("#totp-qr"))
	if again := get(t, ctx, chromedp.Text("#totp-secret")); again != first {
		t.Fatalf("a mistyped first code replaced the scanned secret (%q, then %q)", first, again)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(first, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	do(t, ctx, chromedp.SendKeys("#totp-confirm-code", totp.Code(secret, time.Now())), chromedp.Click("#totp-confirm"), chromedp.WaitVisible("#recovery-codes"))
	pageFits(t, ctx, "recovery-codes")
	do(t, ctx, chromedp.Click("#continue"), chromedp.WaitVisible("#verified"))
	pageFits(t, ctx, "legacy-app")
	// Five wrong codes lock step-up; the page says so and for how long, then and afterwards.
	for i := 0; i < 5; i++ {
		do(t, ctx, chromedp.Navigate(sb.URL+"/.idgate/mfa?rd=/admin/payouts"), chromedp.WaitVisible("#totp-code"),
			chromedp.SendKeys("#totp-code", "000000"), chromedp.Click("#totp-submit"),
			chromedp.WaitVisible(chromedp.CSS("#mfa-error, #idgate-error")))
	}
	do(t, ctx, chromedp.WaitVisible("#idgate-error"))
	if code := get(t, ctx, chromedp.AttributeValue("#idgate-error", "data-code")).Value; code != "mfa_locked" {
		t.Fatalf("after five wrong codes: %q", code)
	}
	if txt := get(t, ctx, chromedp.Text("#idgate-error")); !strings.Contains(txt, "분 뒤에 다시 시도할 수 있습니다") {
		t.Fatalf("the lock does not say how long: %q", txt)
	}
	do(t, ctx, chromedp.Navigate(sb.URL+"/.idgate/mfa?rd=/admin/payouts"), chromedp.WaitVisible("#idgate-error"))
	if code := get(t, ctx, chromedp.AttributeValue("#idgate-error", "data-code")).Value; code != "mfa_locked" {
		t.Fatalf("the step-up page after the lock: %q", code)
	}
	pageFits(t, ctx, "locked")
}

// TestBrowserKakaoUserOnANaverOnlyPage: the login page says this page takes Naver only.
func TestBrowserKakaoUserOnANaverOnlyPage(t *testing.T) {
	ctx := newChrome(t, 390, 844, "ko-KR", chromedp.UserAgent(phoneUA))
	do(t, ctx,
		chromedp.Navigate(sb.URL+"/members/board"), chromedp.WaitVisible("#login-kakao"), chromedp.Click("#login-kakao"),
		chromedp.WaitVisible(`button[data-persona]`), chromedp.Click(`button[data-persona]`), chromedp.WaitVisible("#verified"),
		chromedp.Navigate(sb.URL+"/vip/lounge"), chromedp.WaitVisible("#login-problem"),
	)
	code := get(t, ctx, chromedp.AttributeValue("#login-problem", "data-code")).Value
	txt := get(t, ctx, chromedp.Text("#login-problem"))
	if code != "provider_not_accepted" || !strings.Contains(txt, "NAVER 로그인만") {
		t.Fatalf("Kakao user on the Naver-only page: %q %q", code, txt)
	}
	if n := get(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#login-kakao").length`)); n != 0 {
		t.Fatal("the Naver-only page offers Kakao")
	}
	do(t, ctx, chromedp.WaitVisible("#login-naver"))
	pageFits(t, ctx, "login-not-accepted")
}
