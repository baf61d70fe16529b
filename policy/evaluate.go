package policy

import (
	"time"

	"github.com/idgate/idgate/internal/identity"
)

// Reason is a stable code for a decision. The same values appear in JSON error codes, logs and
// tests; never rename one.
type Reason string

// Reasons.
const (
	ReasonOK                  Reason = "ok"
	ReasonPublic              Reason = "public"
	ReasonNoPolicy            Reason = "no_policy"
	ReasonMethodNotAllowed    Reason = "method_not_allowed"
	ReasonLoginRequired       Reason = "login_required"
	ReasonProviderNotAccepted Reason = "provider_not_accepted"
	ReasonPhoneRequired       Reason = "phone_required"
	ReasonDocumentRequired    Reason = "document_required"
	ReasonAdultRequired       Reason = "adult_required"
	ReasonUnderage            Reason = "underage"
	ReasonMFARequired         Reason = "mfa_required"
)

// ClockSkew is how far in the future a verification time may lie (instances' clocks differ).
const ClockSkew = 5 * time.Minute

// Decision is the outcome of evaluating a policy for one identity at one instant.
type Decision struct {
	Met    bool
	Reason Reason
	// Unmet is the first requirement not satisfied (empty when Met).
	Unmet Requirement
	// AdultBy is the verification that satisfied an adult requirement (nil otherwise).
	AdultBy *identity.Verification
}

// Evaluate checks the requirements of p in order against id at now.
//
// It does not consult any store; revocation and session expiry are checked before it is called.
// Requirements that need verification facts are unmet until a verifier provides those facts.
func Evaluate(p *Policy, id *identity.Identity, now time.Time) Decision {
	if p == nil {
		return Decision{Reason: ReasonNoPolicy}
	}
	if p.Public {
		return Decision{Met: true, Reason: ReasonPublic}
	}
	var adultBy *identity.Verification
	for _, r := range p.Require.Order {
		switch r {
		case ReqLogin:
			if id.Anonymous() {
				return Decision{Reason: ReasonLoginRequired, Unmet: ReqLogin}
			}
			if !p.Accepts(id.Provider) {
				return Decision{Reason: ReasonProviderNotAccepted, Unmet: ReqLogin}
			}
		case ReqPhone:
			if !Fresh(id.Latest(identity.KindPhone), p.Require.Phone.Within, now) {
				return Decision{Reason: ReasonPhoneRequired, Unmet: ReqPhone}
			}
		case ReqDocument:
			if !Fresh(id.Latest(identity.KindDocument), p.Require.Document.Within, now) {
				return Decision{Reason: ReasonDocumentRequired, Unmet: ReqDocument}
			}
		case ReqAdult:
			a := p.Require.Adult
			v := adultSource(id, a.Within, now)
			if v == nil {
				return Decision{Reason: ReasonAdultRequired, Unmet: ReqAdult}
			}
			birth, err := identity.ParseBirthDate(v.BirthDate)
			if err != nil {
				return Decision{Reason: ReasonAdultRequired, Unmet: ReqAdult}
			}
			if !identity.IsAdult(birth, now, a.MinAge, a.AgeRule) {
				return Decision{Reason: ReasonUnderage, Unmet: ReqAdult}
			}
			adultBy = v
		case ReqMFA:
			m := p.Require.MFA
			if id.MFA == nil || !Fresh(&identity.Verification{At: id.MFA.At}, m.Within, now) || !acceptsMethod(m.Methods, id.MFA.Method) {
				return Decision{Reason: ReasonMFARequired, Unmet: ReqMFA}
			}
		}
	}
	return Decision{Met: true, Reason: ReasonOK, AdultBy: adultBy}
}

// acceptsMethod reports whether a step-up by method satisfies methods (empty: any). A recovery
// code stands in for TOTP.
func acceptsMethod(methods []string, method string) bool {
	if len(methods) == 0 {
		return true
	}
	if method == "recovery" {
		method = "totp"
	}
	for _, m := range methods {
		if m == method {
			return true
		}
	}
	return false
}

// Fresh reports whether verification v exists and is younger than within at now. A verification
// exactly within old has expired; one more than ClockSkew in the future is not trusted.
func Fresh(v *identity.Verification, within time.Duration, now time.Time) bool {
	if v == nil {
		return false
	}
	at := time.Unix(v.At, 0)
	return at.Before(now.Add(ClockSkew)) && now.Sub(at) < within
}

// adultSource picks the freshest verification with a birth date that is within the window.
func adultSource(id *identity.Identity, within time.Duration, now time.Time) *identity.Verification {
	var best *identity.Verification
	for _, kind := range []string{identity.KindPhone, identity.KindDocument} {
		v := id.Latest(kind)
		if v != nil && v.BirthDate != "" && Fresh(v, within, now) && (best == nil || v.At > best.At) {
			best = v
		}
	}
	return best
}
