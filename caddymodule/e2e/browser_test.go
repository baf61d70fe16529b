package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds Debian's chromium. Outside CI a missing browser skips; under CI=true it fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is required under CI=true (apt-get install chromium)")
	}
	t.Skip("chromium not installed; apt-get install chromium (mandatory under CI=true)")
	return ""
}

func newChrome(t *testing.T, width, height int, lang string, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	// A person at a browser meets the consent pages: no auto-approval left over from API tests.
	sbReset()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", lang),
		chromedp.Flag("accept-lang", lang),
		chromedp.WindowSize(width, height),
	)
	opts = append(opts, extra...)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel3)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// get runs one action that returns a value, failing the test on error.
func get[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("IDGATE_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	buf := get(t, ctx, chromedp.FullScreenshot(100))
	os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
}

// TestBrowserNaverLoginThroughTheDemo clicks through the demo as a person would: a gated page,
// the login page, the sandbox Naver consent page, back to the page, what the app received, logout.
func TestBrowserNaverLoginThroughTheDemo(t *testing.T) {
	ctx := newChrome(t, 1280, 900, "ko-KR")
	sbReset()
	do(t, ctx, chromedp.Navigate(sb.URL+"/members/board"), chromedp.WaitVisible("#login-naver"))
	text := get(t, ctx, chromedp.Text("#idgate-login"))
	bg := get(t, ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('#login-naver')).backgroundColor`))
	if !strings.Contains(text, "네이버 로그인") || !strings.Contains(text, "카카오 로그인") {
		t.Fatalf("login page text: %q", text)
	}
	if bg != "rgb(3, 199, 90)" {
		t.Fatalf("Naver button background %s, brand green is rgb(3, 199, 90)", bg)
	}
	screenshot(t, ctx, "login-desktop")
	do(t, ctx,
		chromedp.Click("#login-naver"),
		chromedp.WaitVisible(`button[data-persona="kim"]`),
		chromedp.Click(`button[data-persona="kim"]`),
		chromedp.WaitVisible("#verified"),
	)
	url := get(t, ctx, chromedp.Location())
	verified := get(t, ctx, chromedp.Text("#verified"))
	headers := get(t, ctx, chromedp.Text("#headers"))
	if url != sb.URL+"/members/board" || !strings.Contains(verified, "assertion verified") || !strings.Contains(headers, kimID) {
		t.Fatalf("after login: %s %q %q", url, verified, headers)
	}
	screenshot(t, ctx, "members-after-login")
	// PII only where the policy lists it.
	if strings.Contains(headers, "김민준") {
		t.Fatal("members page received the name though its policy does not list it")
	}
	do(t, ctx, chromedp.Navigate(sb.URL+"/vip/lounge"), chromedp.WaitVisible("#verified"))
	headers = get(t, ctx, chromedp.Text("#headers"))
	if !strings.Contains(headers, "김민준") || !strings.Contains(headers, "minjun@example.com") {
		t.Fatalf("vip page: %q", headers)
	}
	do(t, ctx,
		chromedp.Navigate(sb.URL+"/.idgate/logout"),
		chromedp.WaitVisible("#logout"),
		chromedp.Click("#logout"),
		chromedp.WaitVisible("#logged-out"),
	)
	if done := get(t, ctx, chromedp.Text("#logged-out")); !strings.Contains(done, "로그아웃되었습니다") {
		t.Fatalf("logout: %q", done)
	}
	do(t, ctx, chromedp.Navigate(sb.URL+"/members/board"), chromedp.WaitVisible("#login-naver"))
}

func TestBrowserCancelledConsentShowsWhatToDo(t *testing.T) {
	ctx := newChrome(t, 1280, 900, "ko-KR")
	sbReset()
	do(t, ctx,
		chromedp.Navigate(sb.URL+"/vip/lounge"),
		chromedp.WaitVisible("#login-naver"),
		chromedp.Click("#login-naver"),
		chromedp.WaitVisible("#cancel"),
		chromedp.Click("#cancel"),
		chromedp.WaitVisible("#idgate-error"),
	)
	page := get(t, ctx, chromedp.Text("#idgate-error"))
	code := get(t, ctx, chromedp.AttributeValue("#idgate-error", "data-code")).Value
	if code != "access_denied" || !strings.Contains(page, "로그인이 취소되었습니다") || !strings.Contains(page, "다시 시도") {
		t.Fatalf("error page: %s %q", code, page)
	}
	screenshot(t, ctx, "error-cancelled")
	// "Try again" leads back into the Naver login for the same page.
	do(t, ctx, chromedp.Click("#retry"), chromedp.WaitVisible(`button[data-persona="kim"]`),
		chromedp.Click(`button[data-persona="kim"]`), chromedp.WaitVisible("#verified"))
	if url := get(t, ctx, chromedp.Location()); url != sb.URL+"/vip/lounge" {
		t.Fatalf("retry landed on %s", url)
	}
}

func TestBrowserLoginPageOnAPhoneInEnglish(t *testing.T) {
	ctx := newChrome(t, 390, 844, "en-US")
	sbReset()
	do(t, ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(3)),
		chromedp.Navigate(sb.URL+"/members/board"),
		chromedp.WaitVisible("#login-naver"),
	)
	label := get(t, ctx, chromedp.Text("#login-naver"))
	btnWidth := get(t, ctx, chromedp.Evaluate[float64](`document.querySelector('#login-naver').getBoundingClientRect().width`))
	scrollWidth := get(t, ctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth`))
	if !strings.Contains(label, "Log in with NAVER") {
		t.Fatalf("English label: %q", label)
	}
	if btnWidth < 300 || scrollWidth > 390 {
		t.Fatalf("phone layout: button %v px wide, page %v px wide", btnWidth, scrollWidth)
	}
	screenshot(t, ctx, "login-phone-en")
}

func sbReset() {
	sb.Naver.SetKnobs(navertestKnobs())
}
