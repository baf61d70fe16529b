package policy

import (
	"testing"
	"time"

	"github.com/idgate/idgate/internal/identity"
)

func adultPolicy(t *testing.T, body string) *Policy {
	t.Helper()
	s := mustLoad(t, map[string]string{"a.yaml": body})
	p, _ := s.Get("a")
	return p
}

func verified(kind, birth string, at time.Time) *identity.Identity {
	return &identity.Identity{Subject: "naver:1", Provider: "naver",
		Verified: []identity.Verification{{Kind: kind, Provider: "portone:danal", At: at.Unix(), BirthDate: birth}}}
}

type evalCase struct {
	name string
	pol  string
	id   *identity.Identity
	now  time.Time
	want Reason
}

func (c evalCase) run(t *testing.T) {
	p := adultPolicy(t, c.pol)
	if got := Evaluate(p, c.id, c.now); got.Reason != c.want {
		t.Fatalf("Evaluate = %s, want %s", got.Reason, c.want)
	}
}

func TestAdultAndVerificationWindows(t *testing.T) {
	adult := "paths: [/a/*]\nrequire:\n  adult: {within: 365d}\n"
	phone := "paths: [/a/*]\nrequire:\n  phone: {within: 30d}\n"
	intl := "paths: [/a/*]\nrequire:\n  adult: {age_rule: international}\n"
	v := time.Date(2026, 3, 1, 10, 0, 0, 0, identity.KST)
	day := 24 * time.Hour
	for _, c := range []evalCase{
		{"no verification", adult, &identity.Identity{Subject: "naver:1", Provider: "naver"}, v, ReasonAdultRequired},
		{"Naver's self-declared birthyear never counts", adult, &identity.Identity{Subject: "naver:1", Provider: "naver", Claims: map[string]string{"birthyear": "1980", "age": "40-49"}}, v, ReasonAdultRequired},
		{"verified adult", adult, verified("phone", "1990-01-01", v), v.Add(day), ReasonOK},
		{"verification 364 days old", adult, verified("phone", "1990-01-01", v), v.Add(364 * day), ReasonOK},
		{"verification exactly 365 days old has expired", adult, verified("phone", "1990-01-01", v), v.Add(365 * day), ReasonAdultRequired},
		{"verification 366 days old", adult, verified("phone", "1990-01-01", v), v.Add(366 * day), ReasonAdultRequired},
		{"verification slightly in the future (clock skew)", adult, verified("phone", "1990-01-01", v), v.Add(-2 * time.Minute), ReasonOK},
		{"verification far in the future is not trusted", adult, verified("phone", "1990-01-01", v), v.Add(-time.Hour), ReasonAdultRequired},
		{"minor born 1 January 2008 in 2026", adult, verified("phone", "2008-01-01", v), v, ReasonUnderage},
		{"minor born 31 December 2008 in 2026", adult, verified("phone", "2008-12-31", v), v, ReasonUnderage},
		{"born 31 December 2007: adult in 2026 by the Korean rule", adult, verified("phone", "2007-12-31", v), v, ReasonOK},
		{"born 31 December 2007: not adult by full years in March 2026", intl, verified("phone", "2007-12-31", v), v, ReasonUnderage},
		{"document verification counts for adult", adult, verified("document", "1985-05-05", v), v, ReasonOK},
		{"a verification without birth date does not prove age", adult, verified("phone", "", v), v, ReasonAdultRequired},
		{"phone within its window", phone, verified("phone", "", v), v.Add(29 * day), ReasonOK},
		{"phone outside its window", phone, verified("phone", "", v), v.Add(30 * day), ReasonPhoneRequired},
		{"document does not satisfy phone", phone, verified("document", "1990-01-01", v), v, ReasonPhoneRequired},
	} {
		t.Run(c.name, c.run)
	}
}

func TestAdultUsesTheFreshestVerification(t *testing.T) {
	p := adultPolicy(t, "paths: [/a/*]\nrequire:\n  adult: {}\n")
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, identity.KST)
	id := &identity.Identity{Subject: "naver:1", Provider: "naver", Verified: []identity.Verification{
		{Kind: "phone", At: now.Add(-400 * 24 * time.Hour).Unix(), BirthDate: "1990-01-01"},
		{Kind: "document", At: now.Add(-24 * time.Hour).Unix(), BirthDate: "1990-01-01"},
	}}
	d := Evaluate(p, id, now)
	if !d.Met || d.AdultBy == nil || d.AdultBy.Kind != "document" {
		t.Fatalf("decision = %+v", d)
	}
}

func TestMFAFreshnessAndMethods(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, identity.KST)
	p := adultPolicy(t, "paths: [/a/*]\nrequire:\n  mfa: {within: 10m, methods: [totp, email]}\n")
	with := func(method string, ago time.Duration) *identity.Identity {
		return &identity.Identity{Subject: "naver:1", Provider: "naver", MFA: &identity.MFA{Method: method, At: now.Add(-ago).Unix()}}
	}
	for _, c := range []struct {
		name string
		id   *identity.Identity
		want Reason
	}{
		{"no step-up", &identity.Identity{Subject: "naver:1", Provider: "naver"}, ReasonMFARequired},
		{"fresh totp", with("totp", 9*time.Minute), ReasonOK},
		{"a recovery code counts as totp", with("recovery", time.Minute), ReasonOK},
		{"exactly at the window's edge", with("totp", 10*time.Minute), ReasonMFARequired},
		{"just inside the window", with("totp", 10*time.Minute-time.Second), ReasonOK},
		{"a method the policy does not accept", with("sms", time.Minute), ReasonMFARequired},
		{"email accepted", with("email", time.Minute), ReasonOK},
	} {
		if got := Evaluate(p, c.id, now); got.Reason != c.want {
			t.Errorf("%s: %s, want %s", c.name, got.Reason, c.want)
		}
	}
}
