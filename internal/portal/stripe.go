package portal

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/idgate/idgate/internal/identity"
	"github.com/idgate/idgate/internal/session"
	"github.com/idgate/idgate/providers/stripeid"
	"go.uber.org/zap"
)

// DocumentVerifier creates and retrieves Stripe Identity verification sessions.
type DocumentVerifier interface {
	Create(ctx context.Context, ref string, metadata map[string]string, returnURL string) (*stripeid.Session, error)
	Retrieve(ctx context.Context, id string) (*stripeid.Session, error)
}

// Stripe configures document verification through Stripe Identity.
type Stripe struct {
	Client        DocumentVerifier
	WebhookSecret string
	// HostedOrigins are the origins of Stripe's hosted verification page, which the verify page's
	// form may navigate to (CSP form-action). Default: https://verify.stripe.com.
	HostedOrigins []string
}

// formActionOrigins returns the CSP form-action sources for the verify page.
func (p *Portal) formActionOrigins() string {
	if !p.stripeEnabled() {
		return ""
	}
	o := p.Verify.Stripe.HostedOrigins
	if len(o) == 0 {
		o = []string{"https://verify.stripe.com"}
	}
	return " " + strings.Join(o, " ")
}

// stripePendingTTL follows the hosted url's 48 hour validity.
const stripePendingTTL = 48 * time.Hour

func (p *Portal) stripeEnabled() bool { return p.Verify != nil && p.Verify.Stripe != nil }

// stripeStart serves POST /.idgate/verify/stripe/start (form or JSON with rd): it creates a
// VerificationSession bound to this idgate session and sends the browser to Stripe's page.
func (p *Portal) stripeStart(w http.ResponseWriter, r *http.Request) {
	if !SameOrigin(r) {
		p.writeFail(w, r, "cross_origin", "")
		return
	}
	s, err := p.Sessions.Open(r, secure(r), p.Now())
	if err != nil {
		p.writeFail(w, r, "login_required", "")
		return
	}
	rdRaw := r.FormValue("rd")
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var body struct {
			RD string `json:"rd"`
		}
		_ = readJSON(r, &body)
		rdRaw = body.RD
	}
	rd, _ := SafeRedirect(rdRaw)
	ref, err := session.RandomID(p.rand(), 18)
	if err != nil {
		p.writeFail(w, r, "store_unavailable", "")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.providerTimeout())
	defer cancel()
	vs, err := p.Verify.Stripe.Client.Create(ctx, ref, map[string]string{"idgate_ref": ref, "idgate_subject_hash": p.SubjectHash(s.Subject)},
		origin(r)+Prefix+"verify/stripe/return")
	if err != nil {
		code := providerCode(err)
		p.Logger.Warn("verification error", zap.String("event", "verification_failed"), zap.String("provider", "stripe_identity"), zap.String("reason", code), zap.Error(err))
		p.writeFail(w, r, code, Prefix+"verify?"+url.Values{"need": {"document"}, "rd": {rd}}.Encode())
		return
	}
	if err := p.addPending(r.Context(), "vs", vs.ID, s, rd, stripePendingTTL); err != nil {
		p.writeFail(w, r, "store_unavailable", "")
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]string{"url": vs.URL, "verification_session": vs.ID})
		return
	}
	http.Redirect(w, r, vs.URL, http.StatusSeeOther)
}

// stripeReturn serves GET /.idgate/verify/stripe/return, where Stripe's hosted page sends the
// browser back: verified → back to the page; processing → a waiting page that refreshes itself
// (the webhook or a later look finishes it); requires_input → the reason and a retry.
func (p *Portal) stripeReturn(w http.ResponseWriter, r *http.Request) {
	l := lang(r)
	s, err := p.Sessions.Open(r, secure(r), p.Now())
	if err != nil {
		p.writeFail(w, r, "login_required", "/")
		return
	}
	var id string
	var pend pending
	found := false
	if ids := p.pendingList(r.Context(), "vs", s.ID); len(ids) > 0 {
		id = ids[len(ids)-1]
		data, ok, _ := p.States.Get(r.Context(), "vs:"+id)
		found = ok && json.Unmarshal(data, &pend) == nil
	}
	if !found {
		// Already finished (by the webhook, or another tab): use the record.
		if ns := p.refreshFromRecord(r.Context(), s); ns != nil {
			p.setSession(w, r, ns)
			http.Redirect(w, r, "/", http.StatusFound)
			return
		}
		p.renderProblem(w, r, "verification_unknown", "", Prefix+"verify?need=document")
		return
	}
	retry := Prefix + "verify?" + url.Values{"need": {"document"}, "rd": {pend.RD}}.Encode()
	ctx, cancel := context.WithTimeout(r.Context(), p.providerTimeout())
	defer cancel()
	vs, err := p.Verify.Stripe.Client.Retrieve(ctx, id)
	if err != nil {
		code := providerCode(err)
		p.renderProblem(w, r, code, "", retry)
		return
	}
	switch vs.Status {
	case stripeid.StatusVerified:
		ns, code := p.acceptStripe(ctx, s, pend, vs)
		if code != "" {
			p.renderProblem(w, r, code, "", retry)
			return
		}
		p.setSession(w, r, ns)
		http.Redirect(w, r, pend.RD, http.StatusFound)
	case stripeid.StatusProcessing:
		p.render(w, http.StatusOK, "processing", p.pageData(l, "", labels["processing_title"].in(l), nil))
	case stripeid.StatusRequiresInput:
		detail := ""
		if vs.LastError != nil {
			detail = stripeReason(vs.LastError.Code, l)
		}
		p.renderProblem(w, r, "document_requires_input", detail, retry)
	default:
		p.renderProblem(w, r, "verification_cancelled", "", retry)
	}
}

// acceptStripe records a VERIFIED VerificationSession for the pending owner and, when s is the
// owner's session, returns it updated. The pending id is taken exactly once.
//
// The webhook (s nil) records the result without taking the id, so the browser's return still
// finds where to go back to; recording twice is harmless.
func (p *Portal) acceptStripe(ctx context.Context, s *session.Session, pend pending, vs *stripeid.Session) (*session.Session, string) {
	if s != nil && pend.SID != s.ID {
		return nil, "verification_not_yours"
	}
	if vs.VerifiedOutputs == nil || vs.VerifiedOutputs.DOB == nil {
		return nil, "bad_response"
	}
	birth := vs.VerifiedOutputs.DOB.String()
	if _, err := identity.ParseBirthDate(birth); err != nil {
		return nil, "bad_response"
	}
	if s != nil {
		if _, took, err := p.States.Take(ctx, "vs:"+vs.ID); err != nil || !took {
			return nil, "verification_unknown"
		}
	}
	v := identity.Verification{Kind: identity.KindDocument, Provider: "stripe_identity", At: p.Now().Unix(), BirthDate: birth}
	name := strings.TrimSpace(vs.VerifiedOutputs.FirstName + " " + vs.VerifiedOutputs.LastName)
	kept, code := p.record(ctx, pend.Subject, nil, v, map[string]string{"name": name, "birthdate": birth}, "", nil)
	if code != "" {
		return nil, code
	}
	if s == nil {
		return nil, ""
	}
	return p.applyVerification(s, v, kept), ""
}

// stripeWebhook serves POST /.idgate/webhooks/stripe. Only events with a valid Stripe-Signature
// inside the tolerance are accepted; the session is then fetched from Stripe, never taken from
// the event body.
func (p *Portal) stripeWebhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"code": "bad_request"})
		return
	}
	ev, err := stripeid.ParseWebhook(body, r.Header.Get("Stripe-Signature"), p.Verify.Stripe.WebhookSecret, p.Now())
	if err != nil {
		code := "invalid_signature"
		if errors.Is(err, stripeid.ErrStale) {
			code = "timestamp_out_of_tolerance"
		}
		p.Logger.Warn("webhook refused", zap.String("event", "webhook_refused"), zap.String("provider", "stripe_identity"), zap.String("reason", code))
		writeJSON(w, http.StatusBadRequest, map[string]string{"code": code})
		return
	}
	if ev.Type != "identity.verification_session.verified" {
		writeJSON(w, http.StatusOK, map[string]any{"received": true})
		return
	}
	id := ev.Data.Object.ID
	data, ok, err := p.States.Get(r.Context(), "vs:"+id)
	var pend pending
	if err != nil || !ok || json.Unmarshal(data, &pend) != nil {
		// Not ours, or already finished by the browser: nothing to do.
		writeJSON(w, http.StatusOK, map[string]any{"received": true})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.providerTimeout())
	defer cancel()
	vs, err := p.Verify.Stripe.Client.Retrieve(ctx, id)
	if err != nil || vs.Status != stripeid.StatusVerified {
		// Let Stripe retry later.
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"code": "provider_unavailable"})
		return
	}
	if _, code := p.acceptStripe(ctx, nil, pend, vs); code != "" && code != "verification_unknown" {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"code": code})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"received": true})
}

// stripeReason explains a Stripe last_error code to the user.
func stripeReason(code, l string) string {
	m := map[string]msg{
		"document_expired":              {"신분증의 유효기간이 지났습니다.", "The document has expired."},
		"document_unverified_other":     {"신분증을 확인할 수 없었습니다.", "The document could not be verified."},
		"document_type_not_supported":   {"이 종류의 신분증은 받지 않습니다. 여권이나 운전면허증을 사용하세요.", "This kind of document is not accepted; use a passport or driving licence."},
		"selfie_face_mismatch":          {"셀피 얼굴이 신분증 사진과 일치하지 않습니다.", "The selfie does not match the document photo."},
		"selfie_manipulated":            {"셀피를 확인할 수 없었습니다.", "The selfie could not be verified."},
		"selfie_document_missing_photo": {"신분증에서 사진을 찾을 수 없습니다.", "The document has no photo."},
		"consent_declined":              {"확인 절차에 동의하지 않았습니다.", "Consent was declined."},
		"under_supported_age":           {"지원하는 나이보다 어립니다.", "Under the supported age."},
		"abandoned":                     {"확인을 끝까지 진행하지 않았습니다.", "The verification was not finished."},
		"country_not_supported":         {"지원하지 않는 국가의 신분증입니다.", "Documents from this country are not supported."},
		"device_not_supported":          {"이 기기에서는 확인할 수 없습니다. 카메라가 있는 휴대폰을 사용하세요.", "This device is not supported; use a phone with a camera."},
	}
	if v, ok := m[code]; ok {
		return v.in(l)
	}
	return code
}
