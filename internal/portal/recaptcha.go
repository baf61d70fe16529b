package portal

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"

	"github.com/idgate/idgate/providers/recaptcha"
	"go.uber.org/zap"
)

// Assessor creates reCAPTCHA Enterprise assessments.
type Assessor interface {
	Assess(ctx context.Context, r recaptcha.Request) (*recaptcha.Assessment, error)
}

// Recaptcha configures reCAPTCHA Enterprise account verification as a step-up method.
type Recaptcha struct {
	Client    Assessor
	SiteKey   string
	ScriptURL string
	// AccountKey keys the HMAC that turns a subject into the accountId Google sees.
	AccountKey []byte
}

// recaptchaResults maps every latestVerificationResult to idgate's code.
var recaptchaResults = map[string]string{
	recaptcha.ResultVerified:              "",
	recaptcha.ResultUnspecified:           "recaptcha_incomplete",
	recaptcha.ResultNotVerified:           "recaptcha_not_verified",
	recaptcha.ResultOnboardingIncomplete:  "recaptcha_onboarding_incomplete",
	recaptcha.ResultRecipientNotAllowed:   "recaptcha_recipient_not_allowed",
	recaptcha.ResultRecipientAbuseLimit:   "recaptcha_abuse_limit",
	recaptcha.ResultCriticalInternal:      "recaptcha_internal_error",
	recaptcha.ResultCustomerQuotaExceeded: "recaptcha_quota_exhausted",
	recaptcha.ResultVerificationBypassed:  "recaptcha_bypassed",
	recaptcha.ResultVerdictMismatch:       "recaptcha_verdict_mismatch",
}

func (p *Portal) recaptchaAccount(subject string) string {
	m := hmac.New(sha256.New, p.MFA.Recaptcha.AccountKey)
	m.Write([]byte(subject))
	return hex.EncodeToString(m.Sum(nil))
}

func (p *Portal) recaptchaRequest(r *http.Request, token, email string, subject string) recaptcha.Request {
	return recaptcha.Request{Token: token, ExpectedAction: "mfa", AccountID: p.recaptchaAccount(subject), Email: email,
		UserAgent: r.UserAgent(), UserIP: ClientIP(r), Language: lang(r)}
}

// recaptchaStart serves POST /.idgate/mfa/recaptcha/start {token}: the first assessment, whose
// request token the page challenges the account with.
func (p *Portal) recaptchaStart(w http.ResponseWriter, r *http.Request) {
	s, rec, _, ok := p.mfaAttempt(w, r)
	if !ok {
		return
	}
	l := lang(r)
	var body struct {
		Token string `json:"token"`
	}
	email := rec.Contacts["email"]
	if err := readJSON(r, &body); err != nil || body.Token == "" || p.MFA.Recaptcha == nil || email == "" {
		p.writeVerifyProblem(w, r, "mfa_method_unavailable", "", l)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.providerTimeout())
	defer cancel()
	a, err := p.MFA.Recaptcha.Client.Assess(ctx, p.recaptchaRequest(r, body.Token, email, s.Subject))
	if err != nil {
		p.writeVerifyProblem(w, r, providerCode(err), "", l)
		return
	}
	if !a.TokenProperties.Valid {
		p.writeVerifyProblem(w, r, "recaptcha_token_invalid", a.TokenProperties.InvalidReason, l)
		return
	}
	rt := a.RequestToken(email)
	if rt == "" {
		p.writeVerifyProblem(w, r, "recaptcha_onboarding_incomplete", "", l)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"requestToken": rt, "siteKey": p.MFA.Recaptcha.SiteKey, "to": maskEmail(email)})
}

// recaptchaVerify serves POST /.idgate/mfa/recaptcha/verify {token, rd}: the second assessment,
// with the verdict token; only SUCCESS_USER_VERIFIED steps up.
func (p *Portal) recaptchaVerify(w http.ResponseWriter, r *http.Request) {
	s, rec, _, ok := p.mfaAttempt(w, r)
	if !ok {
		return
	}
	l := lang(r)
	var body struct {
		Token string `json:"token"`
		RD    string `json:"rd"`
	}
	email := rec.Contacts["email"]
	if err := readJSON(r, &body); err != nil || body.Token == "" || p.MFA.Recaptcha == nil || email == "" {
		p.writeVerifyProblem(w, r, "mfa_method_unavailable", "", l)
		return
	}
	rd, _ := SafeRedirect(body.RD)
	ctx, cancel := context.WithTimeout(r.Context(), p.providerTimeout())
	defer cancel()
	a, err := p.MFA.Recaptcha.Client.Assess(ctx, p.recaptchaRequest(r, body.Token, email, s.Subject))
	if err != nil {
		p.writeVerifyProblem(w, r, providerCode(err), "", l)
		return
	}
	if !a.TokenProperties.Valid {
		p.failed(r.Context(), s.Subject, "recaptcha")
		p.writeVerifyProblem(w, r, "recaptcha_token_invalid", a.TokenProperties.InvalidReason, l)
		return
	}
	result := a.AccountVerification.LatestVerificationResult
	code, known := recaptchaResults[result]
	if !known {
		code = "recaptcha_incomplete"
	}
	if code != "" {
		if result == recaptcha.ResultNotVerified || result == recaptcha.ResultVerdictMismatch || result == recaptcha.ResultVerificationBypassed {
			p.failed(r.Context(), s.Subject, "recaptcha")
		}
		p.Logger.Info("recaptcha account verification", zap.String("event", "mfa_failed"), zap.String("method", "recaptcha"), zap.String("reason", result), zap.String("subject_hash", p.SubjectHash(s.Subject)))
		p.writeVerifyProblem(w, r, code, "", l)
		return
	}
	p.steppedUp(w, r, s, "recaptcha", rd, nil)
}
