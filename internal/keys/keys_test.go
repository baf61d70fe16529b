package keys

import (
	"testing"
	"time"
)

func TestRotateKeepsRetiredKeysUntilTheirCookiesExpire(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := Policy{Every: 30 * 24 * time.Hour, SessionKeep: 7 * 24 * time.Hour, SigningKeep: time.Hour}
	s := &Set{}
	if changed, err := s.Rotate(t0, p, nil); err != nil || !changed || len(s.Session) != 1 || len(s.Signing) != 1 || len(s.LogHashKey) != 32 {
		t.Fatalf("first rotate: %v %v %+v", changed, err, s)
	}
	if changed, _ := s.Rotate(t0.Add(24*time.Hour), p, nil); changed {
		t.Fatal("rotated before the period")
	}
	first := s.Session[0].ID
	s.Rotate(t0.Add(31*24*time.Hour), p, nil)
	if len(s.Session) != 2 || s.Session[1].ID != first || len(s.Signing) != 2 {
		t.Fatalf("after period: %d session keys, %d signing keys", len(s.Session), len(s.Signing))
	}
	// Six days after the new key the old one must still open cookies; after eight it goes.
	s.Rotate(t0.Add(37*24*time.Hour), p, nil)
	if len(s.Session) != 2 {
		t.Fatal("retired session key dropped while its cookies can still be valid")
	}
	s.Rotate(t0.Add(39*24*time.Hour), p, nil)
	if len(s.Session) != 1 || len(s.Signing) != 1 {
		t.Fatalf("retired keys kept too long: %d, %d", len(s.Session), len(s.Signing))
	}
	data, _ := s.Marshal()
	back, err := Parse(data)
	if err != nil || back.Session[0].ID != s.Session[0].ID || back.Signing[0].KID != s.Signing[0].KID {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := Parse([]byte(`{"session":[{"id":1,"secret":"AAAA"}]}`)); err == nil {
		t.Fatal("short session key accepted")
	}
}

func TestAlgorithmChangeAddsKey(t *testing.T) {
	s := &Set{}
	now := time.Now()
	s.Rotate(now, Policy{Alg: "ES256", SigningKeep: time.Hour}, nil)
	s.Rotate(now, Policy{Alg: "EdDSA", SigningKeep: time.Hour}, nil)
	if s.Signing[0].Alg != "EdDSA" || s.Signing[1].Alg != "ES256" {
		t.Fatalf("signing keys = %+v", s.Signing)
	}
	if _, err := NewSigningKey("RS256", now, nil); err == nil {
		t.Fatal("RS256 accepted")
	}
}
