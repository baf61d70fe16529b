package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/providers/stripeid"
	"github.com/idgate/idgate/providers/stripeid/stripeidtest"
)

// startDocument posts the verification page's form and follows to Stripe's hosted page; it
// returns the VerificationSession id.
func (b *browser) startDocument(rd string) string {
	b.t.Helper()
	resp, body := b.do("POST", "/.idgate/verify/stripe/start", map[string]string{"Origin": sb.URL, "Accept": "text/html"}, url.Values{"rd": {rd}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), sb.Stripe.URL()+"/sandbox/identity/vs_") {
		b.t.Fatalf("stripe start: %d %s", resp.StatusCode, body)
	}
	return strings.TrimPrefix(resp.Header.Get("Location"), sb.Stripe.URL()+"/sandbox/identity/")
}

// finishOnStripe picks an outcome on the hosted page and follows back to idgate's return URL.
func (b *browser) finishOnStripe(id, outcome string) (*http.Response, string) {
	b.t.Helper()
	resp, _ := b.do("POST", sb.Stripe.URL()+"/sandbox/identity/"+id, nil, url.Values{"outcome": {outcome}})
	ret := location(b.t, resp)
	if !strings.HasSuffix(ret, "/.idgate/verify/stripe/return") {
		b.t.Fatalf("return_url = %q", ret)
	}
	return b.nav(ret)
}

func resetStripe() { sb.Stripe.SetKnobs(stripeidtest.Knobs{}) }

func TestStripeDocumentVerification(t *testing.T) {
	resetStripe()
	for _, c := range []struct {
		outcome string
		status  int    // of the return
		code    string // data-code on the page
		board   int    // adult board afterwards
		text    string
	}{
		{"verified_adult", 302, "", 200, ""},
		{"verified_minor", 302, "", 403, ""},
		{"document_expired", 400, "document_requires_input", 403, "신분증의 유효기간이 지났습니다"},
		{"selfie_face_mismatch", 400, "document_requires_input", 403, "셀피 얼굴이 신분증 사진과 일치하지 않습니다"},
		{"canceled", 400, "verification_cancelled", 403, "다시 시도하세요"},
	} {
		t.Run(c.outcome, func(t *testing.T) {
			b := newBrowser(t)
			b.login("naver", freshNaverUser(t), "/adult/board")
			_, page := b.nav("/.idgate/verify?need=adult&rd=%2Fadult%2Fboard")
			if !strings.Contains(page, `id="verify-document"`) || !strings.Contains(page, `id="verify-phone"`) {
				t.Fatal("the adult verification page must offer both phone and document")
			}
			id := b.startDocument("/adult/board")
			resp, page := b.finishOnStripe(id, c.outcome)
			if resp.StatusCode != c.status || (c.code != "" && (!strings.Contains(page, `data-code="`+c.code+`"`) || !strings.Contains(page, c.text))) {
				t.Fatalf("return: %d %s", resp.StatusCode, page)
			}
			if c.status == 302 && resp.Header.Get("Location") != "/adult/board" {
				t.Fatalf("return went to %q", resp.Header.Get("Location"))
			}
			if c.code != "" && !strings.Contains(page, `id="retry"`) {
				t.Fatal("no retry offered")
			}
			if resp, body := b.do("GET", "/adult/board", jsonHdr, nil, nil); resp.StatusCode != c.board {
				t.Fatalf("adult board: %d %s", resp.StatusCode, body)
			}
		})
	}
}

func TestStripeProcessingFinishesByWebhook(t *testing.T) {
	resetStripe()
	b := newBrowser(t)
	user := freshNaverUser(t)
	b.login("naver", user, "/adult/board")
	id := b.startDocument("/adult/board")
	resp, page := b.finishOnStripe(id, "processing")
	if resp.StatusCode != 200 || !strings.Contains(page, `http-equiv="refresh"`) || !strings.Contains(page, "신분증을 확인하는 중입니다") {
		t.Fatalf("processing page: %d %s", resp.StatusCode, page)
	}
	// Stripe finishes later and tells idgate by webhook; the person meanwhile uses another device.
	if status := sb.Stripe.Finish(id, "verified_adult"); status != 200 {
		t.Fatalf("webhook: %d", status)
	}
	other := newBrowser(t)
	other.login("naver", user, "/adult/board")
	if resp, _ := other.do("GET", "/adult/board", jsonHdr, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("webhook result not used on another device: %d", resp.StatusCode)
	}
	// The waiting page's next refresh completes the first browser too.
	resp, _ = b.nav("/.idgate/verify/stripe/return")
	if location(t, resp) != "/adult/board" {
		t.Fatal("waiting page did not finish")
	}
	if resp, _ := b.do("GET", "/adult/board", jsonHdr, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("first browser: %d", resp.StatusCode)
	}
}

func TestStripeWebhooksNeedAValidFreshSignature(t *testing.T) {
	resetStripe()
	b := newBrowser(t)
	user := freshNaverUser(t)
	b.login("naver", user, "/adult/board")
	id := b.startDocument("/adult/board")
	event := func(status string) []byte {
		data, _ := json.Marshal(map[string]any{"id": "evt_x", "object": "event", "type": "identity.verification_session." + status,
			"created": time.Now().Unix(), "data": map[string]any{"object": map[string]any{"id": id, "object": "identity.verification_session", "status": status}}})
		return data
	}
	body := event("verified")
	post := func(sig string) (int, string) {
		resp, text := b.do("POST", "/.idgate/webhooks/stripe", map[string]string{"Stripe-Signature": sig, "Content-Type": "application/json"}, nil, body)
		return resp.StatusCode, text
	}
	for name, c := range map[string]struct {
		sig  string
		code string
	}{
		"forged (wrong secret)":     {stripeid.Sign(body, "whsec_attacker", time.Now()), "invalid_signature"},
		"stale (6 minutes old)":     {stripeid.Sign(body, "whsec_demo", time.Now().Add(-6*time.Minute)), "timestamp_out_of_tolerance"},
		"from the future":           {stripeid.Sign(body, "whsec_demo", time.Now().Add(10*time.Minute)), "timestamp_out_of_tolerance"},
		"no signature":              {"", "invalid_signature"},
		"signature of another body": {stripeid.Sign(event("processing"), "whsec_demo", time.Now()), "invalid_signature"},
	} {
		if status, text := post(c.sig); status != 400 || !strings.Contains(text, c.code) {
			t.Errorf("invariant 5: %s: %d %s", name, status, text)
		}
	}
	// A correctly signed event is accepted, but its content is never trusted: Stripe is asked,
	// and Stripe says the session still requires input, so nothing is recorded.
	if status, _ := post(stripeid.Sign(body, "whsec_demo", time.Now())); status != 503 {
		t.Fatalf("signed event for an unverified session: %d", status)
	}
	other := newBrowser(t)
	other.login("naver", user, "/adult/board")
	if resp, _ := other.do("GET", "/adult/board", jsonHdr, nil, nil); resp.StatusCode != 403 {
		t.Fatal("a webhook body alone made someone an adult")
	}
	// Unknown sessions and other event types are acknowledged and ignored.
	if status := sb.Stripe.SendEvent("identity.verification_session.verified", stripeid.Session{ID: "vs_unknown", Object: "identity.verification_session"}, time.Now()); status != 200 {
		t.Fatalf("unknown session: %d", status)
	}
	if status := sb.Stripe.SendEvent("identity.verification_session.created", stripeid.Session{ID: id, Object: "identity.verification_session"}, time.Now()); status != 200 {
		t.Fatalf("other event type: %d", status)
	}
}

func TestStripeStartRefusesCrossOriginAndReportsStripeErrors(t *testing.T) {
	resetStripe()
	b := newBrowser(t)
	b.login("naver", freshNaverUser(t), "/adult/board")
	resp, _ := b.do("POST", "/.idgate/verify/stripe/start", map[string]string{"Origin": "http://evil.example", "Accept": "text/html"}, url.Values{"rd": {"/adult/board"}})
	if resp.StatusCode != 403 {
		t.Fatalf("cross-origin start: %d", resp.StatusCode)
	}
	sb.Stripe.SetKnobs(stripeidtest.Knobs{Status: 500})
	defer resetStripe()
	resp, page := b.do("POST", "/.idgate/verify/stripe/start", map[string]string{"Origin": sb.URL, "Accept": "text/html"}, url.Values{"rd": {"/adult/board"}})
	if resp.StatusCode != 503 || !strings.Contains(page, `data-code="provider_unavailable"`) {
		t.Fatalf("Stripe down: %d", resp.StatusCode)
	}
}
