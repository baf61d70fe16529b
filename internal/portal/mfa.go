package portal

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/idgate/idgate/internal/identity"
	"github.com/idgate/idgate/internal/session"
	"github.com/idgate/idgate/internal/store"
	"github.com/idgate/idgate/providers/otp"
	"github.com/idgate/idgate/providers/totp"
	qrcode "github.com/skip2/go-qrcode"
	"go.uber.org/zap"
)

// Sealer encrypts TOTP secrets at rest, bound to their subject.
type Sealer interface {
	Seal(plain, context []byte) ([]byte, error)
	Open(sealed, context []byte) ([]byte, error)
}

// Sender delivers one-time codes.
type Sender interface {
	Send(ctx context.Context, m otp.Message) error
}

// MFA configures step-up. A nil *MFA disables the /.idgate/mfa endpoints.
type MFA struct {
	Records store.Records
	Secrets Sealer
	// CodeKey keys the HMAC under which recovery codes are stored. It MUST be secret and stable.
	CodeKey []byte
	// Issuer labels the TOTP entry in authenticator apps.
	Issuer string
	// Email and SMS send one-time codes; nil disables the channel.
	Email, SMS Sender
	// Recaptcha enables reCAPTCHA Enterprise account verification; nil disables it.
	Recaptcha *Recaptcha
	// MaxFailures failed codes (all methods together) within Lockout lock the account for Lockout.
	MaxFailures int
	Lockout     time.Duration
	// CodeTTL, CodeAttempts and SendLimit (per SendWindow) bound e-mail and SMS codes.
	CodeTTL      time.Duration
	CodeAttempts int
	SendLimit    int
	SendWindow   time.Duration
}

// SetDefaults fills unset limits: 5 failures, 15 minute lockout, codes valid 5 minutes with 5
// attempts, 3 sends per 15 minutes, issuer "idgate". The caller MUST call it before use.
func (m *MFA) SetDefaults() {
	if m.MaxFailures == 0 {
		m.MaxFailures = 5
	}
	if m.Lockout == 0 {
		m.Lockout = 15 * time.Minute
	}
	if m.CodeTTL == 0 {
		m.CodeTTL = 5 * time.Minute
	}
	if m.CodeAttempts == 0 {
		m.CodeAttempts = 5
	}
	if m.SendLimit == 0 {
		m.SendLimit = 3
	}
	if m.SendWindow == 0 {
		m.SendWindow = 15 * time.Minute
	}
	if m.Issuer == "" {
		m.Issuer = "idgate"
	}
}

// mfaFresh is how recent a step-up must be to change the second factor itself.
const mfaFresh = 10 * time.Minute

// mfaMethods lists the methods a step-up for rd may use, in display order, and what the user can
// use right now.
type mfaView struct {
	TOTP, TOTPEnrolled, Email, SMS, Recaptcha bool
	EmailTo, SMSTo                            string
}

func (p *Portal) mfaView(ctx context.Context, rec *store.Record, rd string) mfaView {
	accepts := func(m string) bool {
		pol := p.Policies.Match(pathOnly(rd))
		if pol == nil || pol.Require.MFA == nil || len(pol.Require.MFA.Methods) == 0 {
			return true
		}
		for _, x := range pol.Require.MFA.Methods {
			if x == m {
				return true
			}
		}
		return false
	}
	v := mfaView{TOTP: accepts("totp")}
	if rec != nil {
		v.TOTPEnrolled = rec.TOTP != nil && rec.TOTP.Confirmed
		if p.MFA.Email != nil && accepts("email") && rec.Contacts["email"] != "" {
			v.Email, v.EmailTo = true, maskEmail(rec.Contacts["email"])
		}
		if p.MFA.SMS != nil && accepts("sms") && rec.Contacts["phone"] != "" {
			v.SMS, v.SMSTo = true, maskPhone(rec.Contacts["phone"])
		}
		v.Recaptcha = p.MFA.Recaptcha != nil && accepts("recaptcha") && rec.Contacts["email"] != ""
	}
	return v
}

func maskEmail(e string) string {
	user, host, ok := strings.Cut(e, "@")
	if !ok || len(user) == 0 {
		return "***"
	}
	return user[:1] + strings.Repeat("*", 3) + "@" + host
}

func maskPhone(p string) string {
	if len(p) < 4 {
		return "***"
	}
	return p[:3] + "-****-" + p[len(p)-4:]
}

// mfaSession opens the session and its record for an MFA endpoint.
func (p *Portal) mfaSession(w http.ResponseWriter, r *http.Request, post bool) (*session.Session, *store.Record, bool) {
	if p.MFA == nil {
		p.fail(w, r, "requirement_unavailable", "", nil)
		return nil, nil, false
	}
	if post && !SameOrigin(r) {
		p.writeFail(w, r, "cross_origin", "")
		return nil, nil, false
	}
	s, err := p.Sessions.Open(r, secure(r), p.Now())
	if err != nil {
		if post || wantsJSON(r) {
			p.writeFail(w, r, "login_required", "")
		} else {
			http.Redirect(w, r, Prefix+"login?"+url.Values{"rd": {r.URL.RequestURI()}}.Encode(), http.StatusFound)
		}
		return nil, nil, false
	}
	rec, err := p.MFA.Records.Get(r.Context(), s.Subject)
	if err != nil {
		p.writeFail(w, r, "store_unavailable", "")
		return nil, nil, false
	}
	if rec == nil {
		rec = &store.Record{Subject: s.Subject}
	}
	return s, rec, true
}

// mfaAttempt prepares an endpoint that checks a code: same-origin, signed in, not locked out.
func (p *Portal) mfaAttempt(w http.ResponseWriter, r *http.Request) (*session.Session, *store.Record, string, bool) {
	s, rec, ok := p.mfaSession(w, r, true)
	if !ok {
		return nil, nil, "", false
	}
	rd, _ := SafeRedirect(r.FormValue("rd"))
	if left, lk := p.locked(r.Context(), s.Subject); lk {
		p.writeLocked(w, r, left)
		return nil, nil, "", false
	}
	return s, rec, rd, true
}

// mfaPage serves GET /.idgate/mfa: the step-up page with the methods the policy accepts and the
// user can use, or enrollment when none is set up.
func (p *Portal) mfaPage(w http.ResponseWriter, r *http.Request) {
	s, rec, ok := p.mfaSession(w, r, false)
	if !ok {
		return
	}
	rd, _ := SafeRedirect(r.URL.Query().Get("rd"))
	p.renderMFA(w, r, http.StatusOK, s, rec, rd, "", "", "")
}

func (p *Portal) renderMFA(w http.ResponseWriter, r *http.Request, status int, s *session.Session, rec *store.Record, rd, code, detail, sent string) {
	// A locked account sees the lock and how long it lasts, also right after the wrong code
	// that locked it and on the step-up page afterwards, never a page that silently fails.
	if left, lk := p.locked(r.Context(), s.Subject); lk {
		p.writeLocked(w, r, left)
		return
	}
	l := lang(r)
	v := p.mfaView(r.Context(), rec, rd)
	if wantsJSON(r) {
		methods := []string{}
		if v.TOTPEnrolled {
			methods = append(methods, "totp", "recovery")
		}
		if v.Email {
			methods = append(methods, "email")
		}
		if v.SMS {
			methods = append(methods, "sms")
		}
		if v.Recaptcha {
			methods = append(methods, "recaptcha")
		}
		body := map[string]any{"methods": methods, "totp_enrollment": v.TOTP && !v.TOTPEnrolled, "rd": rd}
		if code != "" {
			pr := problems[code]
			body["code"], body["message"] = code, pr.what.in(l)
			if detail != "" {
				body["detail"] = detail
			}
			status = pr.status
		}
		writeJSON(w, status, body)
		return
	}
	d := p.pageData(l, code, labels["mfa_title"].in(l), map[string]any{"V": v, "RD": rd, "Sent": sent, "Detail": detail})
	if code != "" {
		status = problems[code].status
	}
	if !v.Recaptcha {
		p.render(w, status, "mfa", d)
		return
	}
	// The reCAPTCHA script runs on this page: allow its origin and nonce'd inline code only.
	nonce, _ := session.RandomID(p.rand(), 16)
	origin := ""
	if u, err := url.Parse(p.MFA.Recaptcha.ScriptURL); err == nil {
		origin = u.Scheme + "://" + u.Host
	}
	d["Nonce"] = nonce
	d["RecaptchaConfig"] = map[string]string{"siteKey": p.MFA.Recaptcha.SiteKey, "script": p.MFA.Recaptcha.ScriptURL, "rd": rd,
		"failed": labels["recaptcha_failed"].in(l)}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'nonce-"+nonce+"' 'strict-dynamic' "+origin+
		"; style-src 'self' 'unsafe-inline'; img-src * data:; frame-src *; connect-src 'self' "+origin+"; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, "mfa", d); err != nil {
		p.Logger.Error("rendering page", zap.Error(err))
	}
}

// locked reports a current lockout and its remaining time.
func (p *Portal) locked(ctx context.Context, subject string) (time.Duration, bool) {
	data, ok, _ := p.States.Get(ctx, "mfalock:"+subject)
	if !ok {
		return 0, false
	}
	until, _ := strconv.ParseInt(string(data), 10, 64)
	left := time.Until(time.Unix(until, 0))
	if left <= 0 {
		return 0, false
	}
	return left, true
}

// failed counts a failed code and locks the account after MaxFailures.
func (p *Portal) failed(ctx context.Context, subject, method string) {
	n, err := p.States.Incr(ctx, "mfafail:"+subject, p.MFA.Lockout)
	p.Logger.Info("step-up failed", zap.String("event", "mfa_failed"), zap.String("method", method), zap.Int64("failures", n), zap.String("subject_hash", p.SubjectHash(subject)))
	if err == nil && n >= int64(p.MFA.MaxFailures) {
		until := p.Now().Add(p.MFA.Lockout).Unix()
		p.States.Put(ctx, "mfalock:"+subject, []byte(strconv.FormatInt(until, 10)), p.MFA.Lockout)
		p.States.Take(ctx, "mfafail:"+subject)
		p.Logger.Warn("step-up locked", zap.String("event", "mfa_lockout"), zap.Duration("for", p.MFA.Lockout), zap.String("subject_hash", p.SubjectHash(subject)))
	}
}

// writeLocked answers a locked account: 429 with the time to wait.
func (p *Portal) writeLocked(w http.ResponseWriter, r *http.Request, left time.Duration) {
	l := lang(r)
	minutes := int(left.Minutes()) + 1
	detail := fmt.Sprintf(labels["mfa_wait"].in(l), minutes)
	w.Header().Set("Retry-After", strconv.Itoa(int(left.Seconds())+1))
	if wantsJSON(r) {
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"code": "mfa_locked", "message": problems["mfa_locked"].what.in(l), "retry_after": int(left.Seconds()) + 1, "detail": detail})
		return
	}
	p.render(w, http.StatusTooManyRequests, "error", p.pageData(l, "mfa_locked", problems["mfa_locked"].title.in(l), map[string]any{"Detail": detail}))
}

// steppedUp records a completed second factor in the session and goes back to rd.
func (p *Portal) steppedUp(w http.ResponseWriter, r *http.Request, s *session.Session, method, rd string, extra map[string]any) {
	p.States.Take(r.Context(), "mfafail:"+s.Subject)
	ns := s.Clone()
	now := p.Now()
	ns.MFA = &identity.MFA{Method: method, At: now.Unix()}
	ns.Version = now.UnixNano()
	p.setSession(w, r, ns)
	p.Logger.Info("step-up", zap.String("event", "mfa"), zap.String("method", method), zap.String("subject_hash", p.SubjectHash(s.Subject)))
	if extra != nil {
		if wantsJSON(r) {
			extra["rd"] = rd
			writeJSON(w, http.StatusOK, extra)
			return
		}
		l := lang(r)
		p.render(w, http.StatusOK, "recovery_codes", p.pageData(l, "", labels["recovery_title"].in(l), map[string]any{"Codes": extra["recovery_codes"], "RD": rd}))
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"mfa": true, "method": method, "rd": rd})
		return
	}
	http.Redirect(w, r, rd, http.StatusSeeOther)
}

// totpEnroll serves POST /.idgate/mfa/totp/enroll: a new, unconfirmed secret with its QR code.
// Replacing a confirmed enrollment needs a fresh step-up, so a stolen session cannot.
func (p *Portal) totpEnroll(w http.ResponseWriter, r *http.Request) {
	s, rec, ok := p.mfaSession(w, r, true)
	if !ok {
		return
	}
	rd, _ := SafeRedirect(r.FormValue("rd"))
	if rec.TOTP != nil && rec.TOTP.Confirmed && !p.freshMFA(s) {
		p.renderMFA(w, r, 0, s, rec, rd, "mfa_required", "", "")
		return
	}
	// A first authenticator needs a recent login: a session cookie stolen hours ago must not be
	// able to bind the attacker's authenticator to the account.
	if (rec.TOTP == nil || !rec.TOTP.Confirmed) && !p.freshMFA(s) && p.Now().Sub(time.Unix(s.Issued, 0)) > mfaFresh {
		l := lang(r)
		loginURL := Prefix + "login?" + url.Values{"rd": {Prefix + "mfa?" + url.Values{"rd": {rd}}.Encode()}}.Encode()
		if wantsJSON(r) {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"code": "reauth_required", "message": problems["reauth_required"].what.in(l), "login_url": loginURL})
			return
		}
		p.render(w, http.StatusUnauthorized, "error", p.pageData(l, "reauth_required", problems["reauth_required"].title.in(l), map[string]any{"RetryURL": loginURL}))
		return
	}
	// A secret scanned but not confirmed yet is kept (a mistyped first code must not throw it
	// away) until it is replaced on purpose (replace=1) or an hour has passed.
	secret, ok := p.pendingSecret(s, rec)
	if !ok || r.FormValue("replace") != "" || !p.pendingFresh(rec) {
		var err error
		if secret, err = totp.NewSecret(rand.Reader); err != nil {
			p.writeFail(w, r, "store_unavailable", "")
			return
		}
		sealed, err := p.MFA.Secrets.Seal(secret, []byte(s.Subject))
		if err != nil {
			p.writeFail(w, r, "store_unavailable", "")
			return
		}
		now := p.Now().UTC()
		if _, err := p.MFA.Records.Update(r.Context(), s.Subject, func(rec *store.Record) error {
			if rec.TOTP != nil && rec.TOTP.Confirmed {
				// Re-enrollment: the old secret keeps working until the new one is confirmed.
				rec.Contacts = merge(rec.Contacts, map[string]string{"totp_pending": base64.StdEncoding.EncodeToString(sealed),
					"totp_pending_at": strconv.FormatInt(now.Unix(), 10)})
			} else {
				rec.TOTP = &store.TOTP{Secret: sealed, Created: now}
			}
			return nil
		}); err != nil {
			p.writeFail(w, r, "store_unavailable", "")
			return
		}
	}
	account := s.Subject
	if e := s.Claims["email"]; e != "" {
		account = e
	}
	uri := totp.URI(p.MFA.Issuer, account, secret)
	png, err := qrcode.Encode(uri, qrcode.Medium, 256)
	if err != nil {
		p.writeFail(w, r, "store_unavailable", "")
		return
	}
	qr := "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]string{"otpauth_uri": uri, "secret": totp.Base32(secret), "qr": qr})
		return
	}
	l := lang(r)
	p.render(w, http.StatusOK, "totp_setup", p.pageData(l, "", labels["totp_setup_title"].in(l), map[string]any{
		"QR": template.URL(qr), "Secret": spaced(totp.Base32(secret)),
		// Built here from our own values (otpauth://totp/…): html/template would otherwise
		// replace the unknown scheme with #ZgotmplZ and phones could not tap it.
		"URI": template.URL(uri), "RD": rd}))
}

// pendingFresh reports whether the secret awaiting confirmation in rec is younger than an hour.
func (p *Portal) pendingFresh(rec *store.Record) bool {
	at := time.Time{}
	if v := rec.Contacts["totp_pending_at"]; v != "" {
		n, _ := strconv.ParseInt(v, 10, 64)
		at = time.Unix(n, 0)
	} else if rec.TOTP != nil && !rec.TOTP.Confirmed {
		at = rec.TOTP.Created
	}
	return p.Now().Sub(at) < time.Hour
}

// pendingSecret returns the secret awaiting confirmation: a re-enrollment's, else the first one's.
func (p *Portal) pendingSecret(s *session.Session, rec *store.Record) ([]byte, bool) {
	sealed := []byte(nil)
	if v := rec.Contacts["totp_pending"]; v != "" {
		sealed, _ = base64.StdEncoding.DecodeString(v)
	} else if rec.TOTP != nil && !rec.TOTP.Confirmed {
		sealed = rec.TOTP.Secret
	}
	if sealed == nil {
		return nil, false
	}
	secret, err := p.MFA.Secrets.Open(sealed, []byte(s.Subject))
	return secret, err == nil
}

// totpConfirm serves POST /.idgate/mfa/totp/confirm: the first code makes the enrollment count,
// and ten recovery codes are shown once.
func (p *Portal) totpConfirm(w http.ResponseWriter, r *http.Request) {
	s, rec, rd, ok := p.mfaAttempt(w, r)
	if !ok {
		return
	}
	secret, ok := p.pendingSecret(s, rec)
	if !ok {
		p.renderMFA(w, r, 0, s, rec, rd, "totp_not_enrolled", "", "")
		return
	}
	step, ok := totp.Verify(secret, r.FormValue("code"), p.Now(), 0)
	if !ok {
		p.failed(r.Context(), s.Subject, "totp")
		p.renderMFA(w, r, 0, s, rec, rd, "mfa_code_invalid", "", "")
		return
	}
	sealed, _ := p.MFA.Secrets.Seal(secret, []byte(s.Subject))
	codes, hashes := p.recoveryCodes(s.Subject)
	if _, err := p.MFA.Records.Update(r.Context(), s.Subject, func(rec *store.Record) error {
		rec.TOTP = &store.TOTP{Secret: sealed, Confirmed: true, LastStep: step, Recovery: hashes, Created: p.Now().UTC()}
		delete(rec.Contacts, "totp_pending")
		delete(rec.Contacts, "totp_pending_at")
		return nil
	}); err != nil {
		p.writeFail(w, r, "store_unavailable", "")
		return
	}
	p.Logger.Info("totp enrolled", zap.String("event", "mfa_enrolled"), zap.String("method", "totp"), zap.String("subject_hash", p.SubjectHash(s.Subject)))
	p.steppedUp(w, r, s, "totp", rd, map[string]any{"recovery_codes": codes})
}

// totpAttempt is mfaAttempt for someone with a confirmed TOTP authenticator; anyone else gets
// totp_not_enrolled.
func (p *Portal) totpAttempt(w http.ResponseWriter, r *http.Request) (*session.Session, *store.Record, string, bool) {
	s, rec, rd, ok := p.mfaAttempt(w, r)
	if !ok {
		return nil, nil, "", false
	}
	if rec.TOTP == nil || !rec.TOTP.Confirmed {
		p.renderMFA(w, r, 0, s, rec, rd, "totp_not_enrolled", "", "")
		return nil, nil, "", false
	}
	return s, rec, rd, true
}

// totpVerify serves POST /.idgate/mfa/totp/verify.
func (p *Portal) totpVerify(w http.ResponseWriter, r *http.Request) {
	s, rec, rd, ok := p.totpAttempt(w, r)
	if !ok {
		return
	}
	secret, err := p.MFA.Secrets.Open(rec.TOTP.Secret, []byte(s.Subject))
	if err != nil {
		p.writeFail(w, r, "store_unavailable", "")
		return
	}
	step, ok := totp.Verify(secret, r.FormValue("code"), p.Now(), rec.TOTP.LastStep)
	// Never twice: the step is claimed atomically (several requests at once) and stored durably.
	if ok {
		ok, _ = p.States.Add(r.Context(), "totpstep:"+s.Subject+":"+strconv.FormatInt(step, 10), []byte{1}, 3*totp.Period*time.Second)
	}
	if !ok {
		p.failed(r.Context(), s.Subject, "totp")
		p.renderMFA(w, r, 0, s, rec, rd, "mfa_code_invalid", "", "")
		return
	}
	_, err = p.MFA.Records.Update(r.Context(), s.Subject, func(rec *store.Record) error {
		if rec.TOTP == nil || !rec.TOTP.Confirmed || step <= rec.TOTP.LastStep {
			return errCodeUsed // removed meanwhile, or another instance accepted this step
		}
		rec.TOTP.LastStep = step
		return nil
	})
	if err == errCodeUsed {
		p.failed(r.Context(), s.Subject, "totp")
		p.renderMFA(w, r, 0, s, rec, rd, "mfa_code_invalid", "", "")
		return
	}
	if err != nil {
		p.writeFail(w, r, "store_unavailable", "")
		return
	}
	p.steppedUp(w, r, s, "totp", rd, nil)
}

// recoveryVerify serves POST /.idgate/mfa/recovery: a recovery code, used once.
func (p *Portal) recoveryVerify(w http.ResponseWriter, r *http.Request) {
	s, rec, rd, ok := p.totpAttempt(w, r)
	if !ok {
		return
	}
	code := r.FormValue("code")
	want := p.recoveryHash(s.Subject, code)
	// Codes issued before they were keyed are bare SHA-256; they keep working until used.
	sum := sha256.Sum256([]byte(normalizeRecovery(code)))
	legacy := hex.EncodeToString(sum[:])
	// The code is found and removed in one atomic update: two requests with two codes (or the
	// same one) at once each see the other's removal.
	_, err := p.MFA.Records.Update(r.Context(), s.Subject, func(rec *store.Record) error {
		idx := -1
		if rec.TOTP != nil {
			for i, h := range rec.TOTP.Recovery {
				if subtle.ConstantTimeCompare([]byte(h), []byte(want))|subtle.ConstantTimeCompare([]byte(h), []byte(legacy)) == 1 {
					idx = i
				}
			}
		}
		if idx < 0 {
			return errCodeUsed
		}
		rec.TOTP.Recovery = append(rec.TOTP.Recovery[:idx:idx], rec.TOTP.Recovery[idx+1:]...)
		return nil
	})
	if err == errCodeUsed {
		p.failed(r.Context(), s.Subject, "recovery")
		p.renderMFA(w, r, 0, s, rec, rd, "mfa_code_invalid", "", "")
		return
	}
	if err != nil {
		p.writeFail(w, r, "store_unavailable", "")
		return
	}
	p.steppedUp(w, r, s, "recovery", rd, nil)
}

// totpRemove serves POST /.idgate/mfa/totp/remove; it needs a fresh step-up.
func (p *Portal) totpRemove(w http.ResponseWriter, r *http.Request) {
	s, rec, ok := p.mfaSession(w, r, true)
	if !ok {
		return
	}
	rd, _ := SafeRedirect(r.FormValue("rd"))
	if !p.freshMFA(s) {
		p.renderMFA(w, r, 0, s, rec, rd, "mfa_required", "", "")
		return
	}
	if _, err := p.MFA.Records.Update(r.Context(), s.Subject, func(rec *store.Record) error {
		rec.TOTP = nil
		delete(rec.Contacts, "totp_pending")
		delete(rec.Contacts, "totp_pending_at")
		return nil
	}); err != nil {
		p.writeFail(w, r, "store_unavailable", "")
		return
	}
	p.Logger.Info("totp removed", zap.String("event", "mfa_removed"), zap.String("method", "totp"), zap.String("subject_hash", p.SubjectHash(s.Subject)))
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"removed": true})
		return
	}
	http.Redirect(w, r, Prefix+"mfa?"+url.Values{"rd": {rd}}.Encode(), http.StatusSeeOther)
}

func (p *Portal) freshMFA(s *session.Session) bool {
	return s.MFA != nil && p.Now().Sub(time.Unix(s.MFA.At, 0)) < mfaFresh
}

type sentCode struct {
	Hash     string `json:"h"`
	Attempts int    `json:"a"`
}

// otpSend serves POST /.idgate/mfa/otp/send (channel=email|sms).
func (p *Portal) otpSend(w http.ResponseWriter, r *http.Request) {
	s, rec, rd, ok := p.mfaAttempt(w, r)
	if !ok {
		return
	}
	channel := r.FormValue("channel")
	v := p.mfaView(r.Context(), rec, rd)
	var sender Sender
	var to string
	switch {
	case channel == "email" && v.Email:
		sender, to = p.MFA.Email, rec.Contacts["email"]
	case channel == "sms" && v.SMS:
		sender, to = p.MFA.SMS, rec.Contacts["phone"]
	default:
		p.renderMFA(w, r, 0, s, rec, rd, "mfa_method_unavailable", "", "")
		return
	}
	if n, _ := p.States.Incr(r.Context(), "otpsend:"+s.Subject, p.MFA.SendWindow); n > int64(p.MFA.SendLimit) {
		p.Logger.Warn("code sends limited", zap.String("event", "mfa_send_limited"), zap.String("method", channel), zap.String("subject_hash", p.SubjectHash(s.Subject)))
		p.renderMFA(w, r, 0, s, rec, rd, "otp_send_limited", "", "")
		return
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		p.writeFail(w, r, "store_unavailable", "")
		return
	}
	code := fmt.Sprintf("%06d", n.Int64())
	sum := sha256.Sum256([]byte(s.Subject + ":" + code))
	data, _ := json.Marshal(sentCode{Hash: hex.EncodeToString(sum[:])})
	if err := p.States.Put(r.Context(), "otp:"+s.Subject+":"+channel, data, p.MFA.CodeTTL); err != nil {
		p.writeFail(w, r, "store_unavailable", "")
		return
	}
	l := lang(r)
	text := fmt.Sprintf(labels["otp_text"].in(l), p.MFA.Issuer, code, int(p.MFA.CodeTTL.Minutes()))
	ctx, cancel := context.WithTimeout(r.Context(), p.providerTimeout())
	defer cancel()
	if err := sender.Send(ctx, otp.Message{To: to, Subject: fmt.Sprintf(labels["otp_subject"].in(l), p.MFA.Issuer), Text: text, Code: code}); err != nil {
		p.Logger.Warn("code not sent", zap.String("event", "mfa_send_failed"), zap.String("method", channel), zap.Error(err))
		p.States.Take(r.Context(), "otp:"+s.Subject+":"+channel)
		p.renderMFA(w, r, 0, s, rec, rd, "otp_send_failed", "", "")
		return
	}
	masked := v.EmailTo
	if channel == "sms" {
		masked = v.SMSTo
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"sent": true, "channel": channel, "to": masked, "expires_in": int(p.MFA.CodeTTL.Seconds())})
		return
	}
	p.renderMFA(w, r, http.StatusOK, s, rec, rd, "", "", channel)
}

// otpVerify serves POST /.idgate/mfa/otp/verify (channel, code).
func (p *Portal) otpVerify(w http.ResponseWriter, r *http.Request) {
	s, rec, ok := p.mfaSession(w, r, true)
	if !ok {
		return
	}
	rd, _ := SafeRedirect(r.FormValue("rd"))
	channel := r.FormValue("channel")
	if channel != "email" && channel != "sms" {
		p.renderMFA(w, r, 0, s, rec, rd, "mfa_method_unavailable", "", "")
		return
	}
	if left, lk := p.locked(r.Context(), s.Subject); lk {
		p.writeLocked(w, r, left)
		return
	}
	key := "otp:" + s.Subject + ":" + channel
	data, found, _ := p.States.Get(r.Context(), key)
	var sc sentCode
	if !found || json.Unmarshal(data, &sc) != nil {
		p.renderMFA(w, r, 0, s, rec, rd, "otp_expired", "", "")
		return
	}
	sum := sha256.Sum256([]byte(s.Subject + ":" + strings.TrimSpace(r.FormValue("code"))))
	if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(sc.Hash)) != 1 {
		p.failed(r.Context(), s.Subject, channel)
		sc.Attempts++
		if sc.Attempts >= p.MFA.CodeAttempts {
			p.States.Take(r.Context(), key)
			p.renderMFA(w, r, 0, s, rec, rd, "otp_attempts_exhausted", "", "")
			return
		}
		data, _ := json.Marshal(sc)
		p.States.Put(r.Context(), key, data, p.MFA.CodeTTL)
		p.renderMFA(w, r, 0, s, rec, rd, "mfa_code_invalid", "", channel)
		return
	}
	// Single use.
	if _, took, _ := p.States.Take(r.Context(), key); !took {
		p.renderMFA(w, r, 0, s, rec, rd, "otp_expired", "", "")
		return
	}
	p.steppedUp(w, r, s, channel, rd, nil)
}

// errCodeUsed and errUnchanged end a record update without writing.
var (
	errCodeUsed  = errors.New("portal: code not valid (any more)")
	errUnchanged = errors.New("portal: nothing to change")
)

// recoveryHash is what is stored for one recovery code of subject: an HMAC under MFA.CodeKey.
func (p *Portal) recoveryHash(subject, code string) string {
	m := hmac.New(sha256.New, p.MFA.CodeKey)
	m.Write([]byte(subject))
	m.Write([]byte{0})
	m.Write([]byte(normalizeRecovery(code)))
	return hex.EncodeToString(m.Sum(nil))
}

// recoveryCodes returns ten codes (shown once) and their keyed hashes (stored).
func (p *Portal) recoveryCodes(subject string) ([]string, []string) {
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
	var codes, hashes []string
	for i := 0; i < 10; i++ {
		b := make([]byte, 10)
		for j := range b {
			n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
			b[j] = alphabet[n.Int64()]
		}
		code := string(b[:5]) + "-" + string(b[5:])
		codes = append(codes, code)
		hashes = append(hashes, p.recoveryHash(subject, code))
	}
	return codes, hashes
}

func normalizeRecovery(s string) string {
	return strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(s)))
}

func spaced(s string) string {
	var b strings.Builder
	for i, c := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// contactChangeAllowed decides whether a verification may set the phone one-time codes go to
// (invariant 13). The first one needs a fresh login or a fresh step-up (a session cookie copied
// hours ago must not bind the attacker's phone); a change needs a fresh step-up, or with bind_ci
// the same person's verification (a new number of the one bound person). A verification of
// another person than the one on record never changes it.
func (p *Portal) contactChangeAllowed(s *session.Session, old, recordCI, ci string) bool {
	if recordCI != "" && ci != "" && recordCI != ci {
		return false
	}
	if p.freshMFA(s) {
		return true
	}
	if old == "" {
		return p.Now().Sub(time.Unix(s.Issued, 0)) <= mfaFresh
	}
	return p.Verify != nil && p.Verify.BindCI && recordCI != "" && recordCI == ci
}

// notifyContactChange records a change of where codes go as an audit event and tells the
// previous contact, if any. The caller has stored the change.
func (p *Portal) notifyContactChange(ctx context.Context, subject, channel, old string) {
	p.Logger.Info("contact changed", zap.String("event", "contact_changed"), zap.String("channel", channel), zap.String("subject_hash", p.SubjectHash(subject)))
	if old == "" || p.MFA == nil {
		return
	}
	sender := p.MFA.SMS
	text := "[idgate] 인증 코드를 받는 휴대폰 번호가 변경되었습니다. 본인이 아니라면 사이트 관리자에게 알려 주세요. / The phone number for your sign-in codes was changed. If this was not you, tell the site's administrator."
	if channel == "email" {
		sender = p.MFA.Email
		text = "[idgate] 인증 코드를 받는 이메일 주소가 변경되었습니다. 본인이 아니라면 사이트 관리자에게 알려 주세요. / The e-mail address for your sign-in codes was changed. If this was not you, tell the site's administrator."
	}
	if sender == nil {
		return
	}
	if err := sender.Send(context.WithoutCancel(ctx), otp.Message{To: old, Text: text}); err != nil {
		p.Logger.Warn("notifying the previous contact", zap.String("event", "contact_notify_failed"), zap.String("channel", channel), zap.Error(err))
	}
}

// loadContacts keeps, at login, the e-mail address one-time codes go to (only when the e-mail
// channel is on) in the subject's record.
func (p *Portal) loadContacts(ctx context.Context, login map[string]string, subject string) {
	if p.MFA == nil || (p.MFA.Email == nil && p.MFA.Recaptcha == nil) || login["email"] == "" {
		return
	}
	// A login is a fresh authentication at the provider, which vouches for the address.
	var old string
	_, err := p.MFA.Records.Update(ctx, subject, func(rec *store.Record) error {
		if old = rec.Contacts["email"]; old == login["email"] {
			return errUnchanged
		}
		rec.Contacts = merge(rec.Contacts, map[string]string{"email": login["email"]})
		return nil
	})
	if err == errUnchanged {
		return
	}
	if err != nil {
		p.Logger.Error("storing contact", zap.Error(err))
		return
	}
	p.notifyContactChange(ctx, subject, "email", old)
}
