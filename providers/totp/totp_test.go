package totp

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"
)

// TestRFC6238Vectors checks Appendix B of RFC 6238 (8 digits, X = 30, T0 = 0).
func TestRFC6238Vectors(t *testing.T) {
	seeds := map[Algorithm][]byte{
		SHA1:   []byte("12345678901234567890"),
		SHA256: []byte("12345678901234567890123456789012"),
		SHA512: []byte("1234567890123456789012345678901234567890123456789012345678901234"),
	}
	vectors := []struct {
		t                    int64
		sha1, sha256, sha512 string
	}{
		{59, "94287082", "46119246", "90693936"},
		{1111111109, "07081804", "68084774", "25091201"},
		{1111111111, "14050471", "67062674", "99943326"},
		{1234567890, "89005924", "91819424", "93441116"},
		{2000000000, "69279037", "90698825", "38618901"},
		{20000000000, "65353130", "77737706", "47863826"},
	}
	for _, v := range vectors {
		for alg, want := range map[Algorithm]string{SHA1: v.sha1, SHA256: v.sha256, SHA512: v.sha512} {
			if got := HOTP(seeds[alg], v.t/Period, 8, alg); got != want {
				t.Errorf("%s at %d: %s, want %s", alg, v.t, got, want)
			}
		}
	}
	if got := Code(seeds[SHA1], time.Unix(59, 0)); got != "287082" {
		t.Errorf("6-digit code at 59: %s", got)
	}
}

func TestVerifyDriftAndReuse(t *testing.T) {
	secret, _ := NewSecret(rand.Reader)
	now := time.Unix(1_800_000_015, 0)
	code := Code(secret, now)
	step, ok := Verify(secret, code, now, 0)
	if !ok || step != Step(now) {
		t.Fatal("current code refused")
	}
	if _, ok := Verify(secret, code, now, step); ok {
		t.Fatal("a code was accepted twice")
	}
	if _, ok := Verify(secret, Code(secret, now.Add(-30*time.Second)), now, 0); !ok {
		t.Fatal("one step of drift back refused")
	}
	if _, ok := Verify(secret, Code(secret, now.Add(30*time.Second)), now, 0); !ok {
		t.Fatal("one step of drift ahead refused")
	}
	if _, ok := Verify(secret, Code(secret, now.Add(-60*time.Second)), now, 0); ok {
		t.Fatal("two steps of drift accepted")
	}
	// After using the current step, the previous step's code is refused too (no going back).
	prev := Code(secret, now.Add(-30*time.Second))
	if _, ok := Verify(secret, prev, now, step); ok {
		t.Fatal("an older step accepted after a newer one")
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if _, ok := Verify(secret, bad, now, 0); ok {
			t.Fatalf("%q accepted", bad)
		}
	}
}

func TestURI(t *testing.T) {
	u := URI("Example", "alice@google.com", []byte("Hello!\xDE\xAD\xBE\xEF"))
	if !strings.HasPrefix(u, "otpauth://totp/Example:alice@google.com?") || !strings.Contains(u, "secret=JBSWY3DPEHPK3PXP") || !strings.Contains(u, "issuer=Example") {
		t.Fatalf("uri = %s", u)
	}
}
