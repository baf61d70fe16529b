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
	ReasonLoginRequired       Reason = "login_required"
	ReasonProviderNotAccepted Reason = "provider_not_accepted"
	ReasonPhoneRequired       Reason = "phone_required"
	ReasonDocumentRequired    Reason = "document_required"
	ReasonAdultRequired       Reason = "adult_required"
	ReasonMFARequired         Reason = "mfa_required"
)

// Decision is the outcome of evaluating a policy for one identity at one instant.
type Decision struct {
	Met    bool
	Reason Reason
	// Unmet is the first requirement not satisfied (empty when Met).
	Unmet Requirement
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
			return Decision{Reason: ReasonPhoneRequired, Unmet: ReqPhone}
		case ReqDocument:
			return Decision{Reason: ReasonDocumentRequired, Unmet: ReqDocument}
		case ReqAdult:
			return Decision{Reason: ReasonAdultRequired, Unmet: ReqAdult}
		case ReqMFA:
			return Decision{Reason: ReasonMFARequired, Unmet: ReqMFA}
		}
	}
	return Decision{Met: true, Reason: ReasonOK}
}
