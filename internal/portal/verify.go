package portal

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/idgate/idgate/internal/identity"
	"github.com/idgate/idgate/internal/session"
	"github.com/idgate/idgate/internal/store"
	"github.com/idgate/idgate/providers/portone"
	"go.uber.org/zap"
)

// IdentityVerifier fetches a PortOne identity verification server-side.
type IdentityVerifier interface {
	IdentityVerification(ctx context.Context, id string) (*portone.IdentityVerification, error)
}

// PortOne configures phone verification (본인인증) through PortOne.
type PortOne struct {
	Client     IdentityVerifier
	StoreID    string
	ChannelKey string
	SDKURL     string
}

// Verification holds what phone and document verification need. A nil *Verification disables
// the verification endpoints.
type Verification struct {
	PortOne *PortOne
	Stripe  *Stripe
	Records store.Records
	// HashCI returns the keyed hash of a CI; the raw CI is never stored or logged.
	HashCI func(ci string) string
	// BindCI refuses a verification whose CI hash differs from the one bound to the account.
	BindCI bool
	// PendingTTL is how long an issued verification id stays pending (recoverable). Default: 1h.
	PendingTTL time.Duration
}

// pending is what idgate keeps for an identityVerificationId it issued.
type pending struct {
	SID     string `json:"sid"`
	Subject string `json:"sub"`
	RD      string `json:"rd"`
	Created int64  `json:"t"`
}

const maxPendingPerSession = 5

func (p *Portal) pendingTTL() time.Duration {
	if p.Verify != nil && p.Verify.PendingTTL > 0 {
		return p.Verify.PendingTTL
	}
	return time.Hour
}

func (p *Portal) requireSession(w http.ResponseWriter, r *http.Request) (*session.Session, bool) {
	s, err := p.Sessions.Open(r, secure(r), p.Now())
	if err != nil {
		writeProblem(w, r, "login_required", "", lang(r))
		return nil, false
	}
	return s, true
}

func readJSON(r *http.Request, v any) error {
	return json.NewDecoder(io.LimitReader(r.Body, 8<<10)).Decode(v)
}

// verifyPage serves GET /.idgate/verify/phone: it first recovers verifications this session
// finished while the browser was away, then shows the page that starts a new one.
func (p *Portal) verifyPage(w http.ResponseWriter, r *http.Request) {
	l := lang(r)
	rd, _ := SafeRedirect(r.URL.Query().Get("rd"))
	need := r.URL.Query().Get("need")
	phone := p.Verify != nil && p.Verify.PortOne != nil && need != "document"
	document := p.stripeEnabled() && need != "phone"
	if !phone && !document {
		p.fail(w, r, "requirement_unavailable", "", nil)
		return
	}
	s, err := p.Sessions.Open(r, secure(r), p.Now())
	if err != nil {
		http.Redirect(w, r, Prefix+"login?"+url.Values{"rd": {r.URL.RequestURI()}}.Encode(), http.StatusFound)
		return
	}
	if p.Verify.PortOne != nil {
		if ns, prd, ok := p.recoverPending(r, s); ok {
			p.setSession(w, r, ns)
			if prd == "" {
				prd = rd
			}
			http.Redirect(w, r, prd, http.StatusFound)
			return
		}
	}
	// A verification finished elsewhere (a Stripe webhook, another device) since this login.
	if ns := p.refreshFromRecord(r.Context(), s); ns != nil {
		p.setSession(w, r, ns)
		http.Redirect(w, r, rd, http.StatusFound)
		return
	}
	nonce, _ := session.RandomID(p.rand(), 16)
	lead := labels["verify_lead_phone"]
	switch need {
	case "adult":
		lead = labels["verify_lead_adult"]
	case "document":
		lead = labels["verify_lead_document"]
	}
	cfg := map[string]string{"rd": rd, "working": labels["verify_working"].in(l), "failed": labels["verify_failed"].in(l)}
	sdkOrigin := ""
	if phone {
		cfg["sdkUrl"] = p.Verify.PortOne.SDKURL
		if u, err := url.Parse(p.Verify.PortOne.SDKURL); err == nil {
			sdkOrigin = u.Scheme + "://" + u.Host
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// The PortOne SDK loads its own scripts and carrier windows, so this page allows scripts
	// from the SDK's origin (and what it loads) while inline code needs the nonce. The document
	// button's form is answered with a redirect to Stripe's hosted page, which form-action must
	// allow (browsers check it on the redirect too).
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'nonce-"+nonce+"' 'strict-dynamic' "+sdkOrigin+
		"; style-src 'self' 'unsafe-inline'; img-src * data:; frame-src * ; connect-src 'self' "+sdkOrigin+"; form-action 'self'"+p.formActionOrigins()+"; frame-ancestors 'none'; base-uri 'none'")
	d := p.pageData(l, "", labels["verify_title"].in(l), map[string]any{"Lead": lead.in(l), "Nonce": nonce, "Config": cfg,
		"Phone": phone, "Document": document, "RD": rd})
	if err := pages.ExecuteTemplate(w, "verify_phone", d); err != nil {
		p.Logger.Error("rendering page", zap.Error(err))
	}
}

// recoverPending asks PortOne about ids issued to s that are still pending. PortOne sends no
// webhook for identity verification, so this is how a verification finished while the browser
// was lost (closed popup, app switch, network drop) still counts.
func (p *Portal) recoverPending(r *http.Request, s *session.Session) (*session.Session, string, bool) {
	ids := p.pendingIDs(r.Context(), s.ID)
	for i := len(ids) - 1; i >= 0; i-- {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		ns, rd, code, _ := p.acceptPortOne(ctx, r, s, ids[i])
		cancel()
		if code == "" {
			p.Logger.Info("verification recovered", zap.String("event", "verification_recovered"), zap.String("subject_hash", p.SubjectHash(s.Subject)))
			return ns, rd, true
		}
	}
	return nil, "", false
}

// addPending records verification id (kind "iv" for PortOne, "vs" for Stripe) as issued to s.
func (p *Portal) addPending(ctx context.Context, kind, id string, s *session.Session, rd string, ttl time.Duration) error {
	data, _ := json.Marshal(pending{SID: s.ID, Subject: s.Subject, RD: rd, Created: p.Now().Unix()})
	if err := p.States.Put(ctx, kind+":"+id, data, ttl); err != nil {
		return err
	}
	ids := append(p.pendingList(ctx, kind, s.ID), id)
	if len(ids) > maxPendingPerSession {
		ids = ids[len(ids)-maxPendingPerSession:]
	}
	list, _ := json.Marshal(ids)
	return p.States.Put(ctx, kind+"s:"+s.ID, list, ttl)
}

func (p *Portal) pendingIDs(ctx context.Context, sid string) []string {
	return p.pendingList(ctx, "iv", sid)
}

func (p *Portal) pendingList(ctx context.Context, kind, sid string) []string {
	data, ok, err := p.States.Get(ctx, kind+"s:"+sid)
	if err != nil || !ok {
		return nil
	}
	var ids []string
	_ = json.Unmarshal(data, &ids)
	return ids
}

// portoneStart serves POST /.idgate/verify/portone/start: it issues an identityVerificationId
// bound to this session.
func (p *Portal) portoneStart(w http.ResponseWriter, r *http.Request) {
	if !SameOrigin(r) {
		writeProblem(w, r, "cross_origin", "", lang(r))
		return
	}
	s, ok := p.requireSession(w, r)
	if !ok {
		return
	}
	var body struct {
		RD string `json:"rd"`
	}
	_ = readJSON(r, &body)
	rd, _ := SafeRedirect(body.RD)
	rnd, err := session.RandomID(p.rand(), 18)
	if err != nil {
		writeProblem(w, r, "store_unavailable", "", lang(r))
		return
	}
	id := "idgate-" + rnd
	if err := p.addPending(r.Context(), "iv", id, s, rd, p.pendingTTL()); err != nil {
		writeProblem(w, r, "store_unavailable", "", lang(r))
		return
	}
	po := p.Verify.PortOne
	writeJSON(w, http.StatusOK, map[string]string{
		"identityVerificationId": id, "storeId": po.StoreID, "channelKey": po.ChannelKey,
		"redirectUrl": origin(r) + Prefix + "verify/portone/return",
	})
}

// portoneComplete serves POST /.idgate/verify/portone/complete {identityVerificationId}.
func (p *Portal) portoneComplete(w http.ResponseWriter, r *http.Request) {
	l := lang(r)
	if !SameOrigin(r) {
		writeProblem(w, r, "cross_origin", "", l)
		return
	}
	s, ok := p.requireSession(w, r)
	if !ok {
		return
	}
	var body struct {
		ID string `json:"identityVerificationId"`
	}
	if err := readJSON(r, &body); err != nil || body.ID == "" || len(body.ID) > 128 {
		writeProblem(w, r, "verification_unknown", "", l)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.providerTimeout())
	defer cancel()
	ns, rd, code, detail := p.acceptPortOne(ctx, r, s, body.ID)
	if code != "" {
		p.writeVerifyProblem(w, r, code, detail, l)
		return
	}
	p.setSession(w, r, ns)
	writeJSON(w, http.StatusOK, map[string]any{"verified": true, "rd": rd})
}

// portoneReturn serves GET /.idgate/verify/portone/return, where the SDK's redirect mode lands.
func (p *Portal) portoneReturn(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id := q.Get("identityVerificationId")
	s, err := p.Sessions.Open(r, secure(r), p.Now())
	if err != nil {
		p.fail(w, r, "login_required", "/", nil)
		return
	}
	retry := Prefix + "verify/phone"
	if data, ok, _ := p.States.Get(r.Context(), "iv:"+id); ok {
		var pend pending
		if json.Unmarshal(data, &pend) == nil {
			retry += "?" + url.Values{"rd": {pend.RD}}.Encode()
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.providerTimeout())
	defer cancel()
	ns, rd, code, detail := p.acceptPortOne(ctx, r, s, id)
	if code != "" {
		if code == "verification_incomplete" && q.Get("code") != "" {
			code = "verification_cancelled"
		}
		if wantsJSON(r) {
			p.writeVerifyProblem(w, r, code, detail, lang(r))
			return
		}
		p.renderProblem(w, r, code, detail, retry)
		return
	}
	p.setSession(w, r, ns)
	http.Redirect(w, r, rd, http.StatusFound)
}

// acceptPortOne accepts id for session s only if idgate issued it to s, it was never consumed,
// and PortOne itself, asked server-side, says VERIFIED. It returns the updated session and the
// page to return to, or a problem code.
func (p *Portal) acceptPortOne(ctx context.Context, r *http.Request, s *session.Session, id string) (*session.Session, string, string, string) {
	data, ok, err := p.States.Get(ctx, "iv:"+id)
	if err != nil {
		return nil, "", "store_unavailable", ""
	}
	var pend pending
	if !ok || json.Unmarshal(data, &pend) != nil {
		return nil, "", "verification_unknown", ""
	}
	if pend.SID != s.ID {
		p.Logger.Warn("verification id used by another session", zap.String("event", "verification_refused"), zap.String("reason", "verification_not_yours"), zap.String("subject_hash", p.SubjectHash(s.Subject)))
		return nil, "", "verification_not_yours", ""
	}
	iv, err := p.Verify.PortOne.Client.IdentityVerification(ctx, id)
	if err != nil {
		code := providerCode(err)
		p.Logger.Warn("verification error", zap.String("event", "verification_failed"), zap.String("provider", "portone"), zap.String("reason", code), zap.Error(err))
		return nil, "", code, ""
	}
	switch iv.Status {
	case portone.StatusReady:
		return nil, "", "verification_incomplete", ""
	case portone.StatusFailed:
		detail := ""
		if iv.Failure != nil {
			detail = iv.Failure.PGMessage
			if detail == "" {
				detail = iv.Failure.Reason
			}
		}
		p.Logger.Info("verification failed", zap.String("event", "verification_failed"), zap.String("provider", iv.ProviderName()), zap.String("reason", "provider_failed"), zap.String("subject_hash", p.SubjectHash(s.Subject)))
		return nil, "", "verification_failed", detail
	}
	vc := iv.VerifiedCustomer
	if _, err := identity.ParseBirthDate(vc.BirthDate); err != nil {
		return nil, "", "bad_response", ""
	}
	// Single use: of two concurrent completions only one takes the id.
	if _, took, err := p.States.Take(ctx, "iv:"+id); err != nil || !took {
		return nil, "", "verification_unknown", ""
	}
	ciHash := ""
	if vc.CI != "" {
		ciHash = p.Verify.HashCI(vc.CI)
	}
	v := identity.Verification{Kind: identity.KindPhone, Provider: iv.ProviderName(), At: p.Now().Unix(), BirthDate: vc.BirthDate}
	verified := map[string]string{"name": vc.Name, "birthdate": vc.BirthDate, "gender": strings.ToLower(vc.Gender),
		"phone_number": vc.PhoneNumber, "ci_hash": ciHash, "di": vc.DI}
	if vc.IsForeigner != nil {
		verified["is_foreigner"] = strconv.FormatBool(*vc.IsForeigner)
	}
	var contacts map[string]string
	if p.MFA != nil && p.MFA.SMS != nil && vc.PhoneNumber != "" {
		// The verified phone is where SMS codes go; kept only because SMS step-up is on.
		contacts = map[string]string{"phone": vc.PhoneNumber}
	}
	kept, code := p.record(ctx, s.Subject, s, v, verified, ciHash, contacts)
	if code != "" {
		return nil, "", code, ""
	}
	return p.applyVerification(s, v, kept), pend.RD, "", ""
}

var errCIMismatch = errors.New("portal: verification by another person than the one bound")

// record writes verification v (and the verified claims a policy forwards) to the durable
// record of subject. It returns the kept claims, or a problem code.
//
// contacts (where one-time codes go) are set only as contactChangeAllowed says for session s,
// which may be nil only when contacts is.
func (p *Portal) record(ctx context.Context, subject string, s *session.Session, v identity.Verification, verified map[string]string, ciHash string, contacts map[string]string) (map[string]string, string) {
	kept := p.KeepClaims(verified)
	var notify func()
	var refused bool
	// One atomic update: a concurrent verification, TOTP step or recovery code of the same
	// subject is never lost (no last-writer-wins).
	_, err := p.Verify.Records.Update(ctx, subject, func(rec *store.Record) error {
		notify, refused = nil, false
		if p.Verify.BindCI && rec.CIHash != "" && ciHash != "" && rec.CIHash != ciHash {
			return errCIMismatch
		}
		rec.Verified = (&identity.Identity{Verified: rec.Verified}).WithVerification(v)
		prevCI := rec.CIHash
		if ciHash != "" && rec.CIHash == "" {
			rec.CIHash = ciHash
		}
		rec.Claims = merge(rec.Claims, kept)
		if ph := contacts["phone"]; ph != "" && s != nil && ph != rec.Contacts["phone"] {
			if old := rec.Contacts["phone"]; p.contactChangeAllowed(s, old, prevCI, ciHash) {
				notify = func() { p.notifyContactChange(ctx, subject, "phone", old) }
				rec.Contacts = merge(rec.Contacts, map[string]string{"phone": ph})
			} else {
				refused = true
			}
		}
		rec.Updated = p.Now().UTC()
		return nil
	})
	if err == errCIMismatch {
		p.Logger.Warn("verification by another person", zap.String("event", "verification_refused"), zap.String("reason", "ci_mismatch"), zap.String("subject_hash", p.SubjectHash(subject)))
		return nil, "ci_mismatch"
	}
	if err != nil {
		p.Logger.Error("storing verification record", zap.Error(err))
		return nil, "store_unavailable"
	}
	if refused {
		p.Logger.Warn("contact change refused", zap.String("event", "contact_change_refused"), zap.String("channel", "phone"), zap.String("subject_hash", p.SubjectHash(subject)))
	}
	if notify != nil {
		notify()
	}
	if ciHash != "" {
		if subs, err := p.Verify.Records.LinkCI(ctx, ciHash, subject); err == nil && len(subs) > 1 {
			p.Logger.Warn("one person behind several accounts", zap.String("event", "ci_shared"), zap.Int("accounts", len(subs)), zap.String("subject_hash", p.SubjectHash(subject)))
		}
	}
	p.Logger.Info("verification", zap.String("event", "verification"), zap.String("kind", v.Kind), zap.String("provider", v.Provider), zap.String("outcome", "verified"), zap.String("subject_hash", p.SubjectHash(subject)))
	return kept, ""
}

// applyVerification returns a copy of s with v and the kept claims, as a new session version.
func (p *Portal) applyVerification(s *session.Session, v identity.Verification, kept map[string]string) *session.Session {
	ns := s.Clone()
	ns.Verified = ns.Identity.WithVerification(v)
	ns.Claims = merge(ns.Claims, kept)
	ns.Version = p.Now().UnixNano()
	return ns
}

// refreshFromRecord brings into s verifications the durable record has and s lacks (finished by
// a webhook, or on another device since this login). It returns nil when nothing is newer.
func (p *Portal) refreshFromRecord(ctx context.Context, s *session.Session) *session.Session {
	rec, err := p.Verify.Records.Get(ctx, s.Subject)
	if err != nil || rec == nil {
		return nil
	}
	ns := s.Clone()
	changed := false
	for _, v := range rec.Verified {
		if cur := ns.Latest(v.Kind); cur == nil || cur.At < v.At {
			ns.Verified = ns.Identity.WithVerification(v)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	ns.Claims = merge(ns.Claims, p.KeepClaims(rec.Claims))
	ns.Version = p.Now().UnixNano()
	return ns
}

func merge(dst, src map[string]string) map[string]string {
	if len(src) == 0 {
		return dst
	}
	out := make(map[string]string, len(dst)+len(src))
	for k, v := range dst {
		out[k] = v
	}
	for k, v := range src {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

// setSession seals s into the session cookie.
func (p *Portal) setSession(w http.ResponseWriter, r *http.Request, s *session.Session) {
	sec := secure(r)
	v, err := p.Sessions.Seal(session.Name(sec), s)
	if err != nil {
		p.Logger.Error("sealing session", zap.Error(err))
		return
	}
	http.SetCookie(w, p.Sessions.Cookie(sec, v, s, p.Now()))
}

// loadRecord adds the durable verification record of a fresh login to its identity, so a person
// verified on another device or before a restart is not asked again.
func (p *Portal) loadRecord(ctx context.Context, id *identity.Identity) {
	if p.Verify == nil || p.Verify.Records == nil {
		return
	}
	rec, err := p.Verify.Records.Get(ctx, id.Subject)
	if err != nil {
		p.Logger.Error("loading verification record", zap.Error(err))
		return
	}
	if rec == nil {
		return
	}
	id.Verified = rec.Verified
	id.Claims = merge(id.Claims, p.KeepClaims(rec.Claims))
}

func (p *Portal) writeVerifyProblem(w http.ResponseWriter, r *http.Request, code, detail, l string) {
	code, pr := problemOf(code)
	body := map[string]any{"code": code, "message": pr.what.in(l), "action": pr.todo.in(l), "retryable": pr.retry}
	if detail != "" {
		body["detail"] = detail
	}
	writeJSON(w, pr.status, body)
}

func (p *Portal) renderProblem(w http.ResponseWriter, r *http.Request, code, detail, retry string) {
	l := lang(r)
	code, pr := problemOf(code)
	if !pr.retry {
		retry = ""
	}
	p.render(w, pr.status, "error", p.pageData(l, code, pr.title.in(l), map[string]any{"RetryURL": retry, "Detail": detail}))
}
