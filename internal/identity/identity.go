// Package identity is the identity model shared by providers, sessions, policies and assertions.
//
// It holds no secrets and does no I/O. A Login is what a login provider proved; an Identity is what
// a session carries between requests. Profile claims a provider returns are kept only when a policy
// forwards them (see policy.Set.ProfileClaims); the caller MUST filter before sealing a session.
package identity

import "time"

// Login is what a login provider proved about a visitor at one moment.
//
// Subject is already namespaced by provider ("naver:<id>", "kakao:<sub>"). Claims holds profile
// fields as strings (name, email, birthyear…); they are self-declared by the provider's user and
// never count as verified facts (a Naver birthyear never satisfies an adult requirement).
type Login struct {
	Provider string
	Subject  string
	AuthTime time.Time
	AMR      []string
	Claims   map[string]string
}

// Identity is the state of a signed-in visitor as carried by the session cookie.
type Identity struct {
	Subject  string            `json:"sub"`
	Provider string            `json:"prv"`
	AuthTime int64             `json:"at"`
	AMR      []string          `json:"amr,omitempty"`
	Claims   map[string]string `json:"c,omitempty"`
	// Verified holds the latest verification of each kind (phone, document).
	Verified []Verification `json:"vf,omitempty"`
	// MFA is the latest completed second factor (step-up), nil when none.
	MFA *MFA `json:"mfa,omitempty"`
}

// MFA is a completed second factor: its method (totp, recovery, email, sms, recaptcha) and time.
type MFA struct {
	Method string `json:"m"`
	At     int64  `json:"t"`
}

// Verification kinds.
const (
	KindPhone    = "phone"
	KindDocument = "document"
)

// Verification is a fact a verification provider established, with its time.
//
// BirthDate is the verified date of birth (yyyy-mm-dd); it is the only input of the adult rule.
// At is when idgate accepted the provider's VERIFIED answer, in Unix seconds.
type Verification struct {
	Kind      string `json:"k"`
	Provider  string `json:"p"`
	At        int64  `json:"t"`
	BirthDate string `json:"b,omitempty"`
}

// Latest returns the latest verification of kind, or nil.
func (id *Identity) Latest(kind string) *Verification {
	if id == nil {
		return nil
	}
	var best *Verification
	for i := range id.Verified {
		v := &id.Verified[i]
		if v.Kind == kind && (best == nil || v.At > best.At) {
			best = v
		}
	}
	return best
}

// WithVerification returns the verifications of id with v replacing any earlier one of its kind.
func (id *Identity) WithVerification(v Verification) []Verification {
	out := []Verification{v}
	for _, o := range id.Verified {
		if o.Kind != v.Kind {
			out = append(out, o)
		}
	}
	return out
}

// Anonymous reports whether the identity has no subject.
func (id *Identity) Anonymous() bool { return id == nil || id.Subject == "" }

// AuthTimeT returns the authentication time as a time.Time.
func (id *Identity) AuthTimeT() time.Time { return time.Unix(id.AuthTime, 0) }

// ProfileClaims lists the profile claim names a login provider may return. Any of them is PII or
// self-declared; none reaches an upstream unless a policy lists it.
var ProfileClaims = []string{
	"name", "email", "nickname", "gender", "age", "birthday", "birthyear",
	"mobile", "mobile_e164", "profile_image", "picture", "email_verified",
}

// IsProfileClaim reports whether name is one of ProfileClaims.
func IsProfileClaim(name string) bool {
	for _, c := range ProfileClaims {
		if c == name {
			return true
		}
	}
	return false
}
