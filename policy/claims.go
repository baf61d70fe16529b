package policy

import "github.com/idgate/idgate/internal/identity"

// BaseClaims are in every assertion and may be used by headers without listing them in claims.
var BaseClaims = []string{"sub", "provider", "auth_time", "amr", "policy"}

// FactClaims are the verification facts later requirements produce; they appear in the assertion
// when the policy requires the fact, and may be mapped to headers.
var FactClaims = []string{
	"phone_verified_at", "document_verified_at", "adult", "adult_verified_at", "mfa_at",
}

// PIIClaims are verified personal data that reach the upstream only when a policy lists them.
var PIIClaims = []string{"birthdate", "is_foreigner", "ci_hash", "di", "phone_number"}

func knownClaim(c string) bool {
	return contains(BaseClaims, c) || contains(FactClaims, c) || contains(PIIClaims, c) ||
		identity.IsProfileClaim(c)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
