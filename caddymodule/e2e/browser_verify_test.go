package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

const phoneUA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"

// loginInBrowser goes from a gated page through the Naver consent page as a fresh persona.
func loginInBrowser(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	key := freshNaverUser(t)
	do(t, ctx,
		chromedp.Navigate(sb.URL+path),
		chromedp.WaitVisible("#login-naver"),
		chromedp.Click("#login-naver"),
		chromedp.WaitVisible(`button[data-persona="`+key+`"]`),
		chromedp.Click(`button[data-persona="`+key+`"]`),
	)
}

// TestBrowserAdultBoardOnAPhone: login, the adult challenge, PortOne's redirect mode on a phone,
// and back to the board.
func TestBrowserAdultBoardOnAPhone(t *testing.T) {
	resetPortOne()
	ctx := newChrome(t, 390, 844, "ko-KR", chromedp.UserAgent(phoneUA))
	do(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)))
	loginInBrowser(t, ctx, "/adult/board")
	do(t, ctx, chromedp.WaitVisible("#idgate-verify[data-ready]"))
	lead := get(t, ctx, chromedp.Text("#idgate-verify"))
	if !strings.Contains(lead, "청소년 보호법") || !strings.Contains(lead, "휴대폰 본인인증") {
		t.Fatalf("verification page: %q", lead)
	}
	screenshot(t, ctx, "verify-phone-mobile")
	do(t, ctx,
		chromedp.Click("#verify-phone"),
		chromedp.WaitVisible(`button[data-persona="adult19"]`),
		chromedp.Click(`button[data-persona="adult19"]`),
		chromedp.WaitVisible("#verified"),
	)
	url := get(t, ctx, chromedp.Location())
	headers := get(t, ctx, chromedp.Text("#headers"))
	if url != sb.URL+"/adult/board" || !strings.Contains(headers, "X-User-Adult") || !strings.Contains(headers, "true") {
		t.Fatalf("after verification: %s %q", url, headers)
	}
	screenshot(t, ctx, "adult-board-mobile")
}

// TestBrowserMinorIsRefusedAfterPopupVerification: desktop popup mode; a person who turns 18
// this year verifies and is refused with a clear page.
func TestBrowserMinorIsRefusedAfterPopupVerification(t *testing.T) {
	resetPortOne()
	ctx := newChrome(t, 1280, 900, "ko-KR")
	loginInBrowser(t, ctx, "/adult/board")
	do(t, ctx, chromedp.WaitVisible("#idgate-verify[data-ready]"))
	popup := chromedp.WaitNewTarget(ctx, func(i *target.Info) bool { return strings.Contains(i.URL, "/sandbox/verify") })
	do(t, ctx, chromedp.Click("#verify-phone"))
	var id target.ID
	select {
	case id = <-popup:
	case <-time.After(20 * time.Second):
		t.Fatal("the PortOne popup did not open")
	}
	pctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(id))
	defer cancel()
	do(t, pctx, chromedp.WaitVisible(`button[data-persona="minor18"]`), chromedp.Click(`button[data-persona="minor18"]`))
	do(t, ctx, chromedp.WaitVisible("#idgate-error"))
	code := get(t, ctx, chromedp.AttributeValue("#idgate-error", "data-code")).Value
	text := get(t, ctx, chromedp.Text("#idgate-error"))
	if code != "underage" || !strings.Contains(text, "청소년은 이용할 수 없습니다") || !strings.Contains(text, "1월 1일") {
		t.Fatalf("minor: %s %q", code, text)
	}
	screenshot(t, ctx, "minor-refused")
}

// TestBrowserBlockedPopupTellsHowToContinue: a pop-up opened without a user gesture is blocked;
// the page says how to allow it and offers verification without a pop-up.
func TestBrowserBlockedPopupTellsHowToContinue(t *testing.T) {
	resetPortOne()
	ctx := newChrome(t, 1280, 900, "ko-KR", chromedp.Flag("disable-popup-blocking", false))
	loginInBrowser(t, ctx, "/adult/board")
	do(t, ctx,
		chromedp.WaitVisible("#idgate-verify[data-ready]"),
		// A script click carries no user activation, so Chromium blocks the pop-up.
		chromedp.Evaluate[chromedp.Void](`setTimeout(function(){document.getElementById("verify-phone").click()}, 0)`),
		chromedp.WaitVisible("#popup-blocked"),
	)
	msg := get(t, ctx, chromedp.Text("#popup-blocked"))
	if !strings.Contains(msg, "팝업이 차단되었습니다") || !strings.Contains(msg, "새 창 없이 인증하기") {
		t.Fatalf("blocked popup message: %q", msg)
	}
	screenshot(t, ctx, "popup-blocked")
	do(t, ctx,
		chromedp.Click("#verify-redirect"),
		chromedp.WaitVisible(`button[data-persona="adult"]`),
		chromedp.Click(`button[data-persona="adult"]`),
		chromedp.WaitVisible("#verified"),
	)
	if url := get(t, ctx, chromedp.Location()); url != sb.URL+"/adult/board" {
		t.Fatalf("landed on %s", url)
	}
}

// TestBrowserIDDocumentButtonReachesStripe clicks 신분증으로 인증 as a person without a Korean
// phone would: the form's redirect to Stripe's hosted page must not be blocked by the page's CSP
// (form-action), and each outcome comes back to a clear result.
func TestBrowserIDDocumentButtonReachesStripe(t *testing.T) {
	for _, c := range []struct {
		outcome, wantCode string // wantCode empty: admitted to the board
	}{
		{outcome: "verified_adult"},
		{outcome: "verified_minor", wantCode: "underage"},
		{outcome: "document_expired", wantCode: "document_requires_input"},
		{outcome: "processing"},
	} {
		t.Run(c.outcome, func(t *testing.T) {
			if c.outcome == "processing" {
				// As real Stripe does, the sandbox finishes its checks by itself (webhook).
				sb.Stripe.SetProcessingAfter(1500 * time.Millisecond)
				t.Cleanup(func() { sb.Stripe.SetProcessingAfter(0) })
			}
			ctx := newChrome(t, 390, 844, "ko-KR", chromedp.UserAgent(phoneUA))
			loginInBrowser(t, ctx, "/adult/board")
			do(t, ctx,
				chromedp.WaitVisible("#verify-document"),
				chromedp.Click("#verify-document"),
				chromedp.WaitVisible(`button[data-outcome="`+c.outcome+`"]`),
			)
			if u := get(t, ctx, chromedp.Location()); !strings.HasPrefix(u, sb.Stripe.URL()+"/sandbox/identity/") {
				t.Fatalf("the document button led to %s, not Stripe's hosted page", u)
			}
			do(t, ctx, chromedp.Click(`button[data-outcome="`+c.outcome+`"]`))
			if c.outcome == "processing" {
				do(t, ctx, chromedp.WaitVisible("#idgate-processing"))
			}
			if c.wantCode == "" {
				do(t, ctx, chromedp.WaitVisible("#verified"))
				if u := get(t, ctx, chromedp.Location()); u != sb.URL+"/adult/board" {
					t.Fatalf("after %s: %s", c.outcome, u)
				}
				return
			}
			do(t, ctx, chromedp.WaitVisible("#idgate-error"))
			if code := get(t, ctx, chromedp.AttributeValue("#idgate-error", "data-code")).Value; code != c.wantCode {
				t.Fatalf("after %s: code %q, want %q", c.outcome, code, c.wantCode)
			}
		})
	}
}
