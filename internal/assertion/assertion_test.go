package assertion

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/idgate/idgate/internal/keys"
)

func issuer(t testing.TB, algs ...string) (*Issuer, []keys.SigningKey) {
	t.Helper()
	var ks []keys.SigningKey
	for _, a := range algs {
		k, err := keys.NewSigningKey(a, time.Now(), randReader())
		if err != nil {
			t.Fatal(err)
		}
		ks = append(ks, k)
	}
	i, err := NewIssuer(ks, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return i, ks
}

func verify(t *testing.T, i *Issuer, tok string, now time.Time) jwt.MapClaims {
	t.Helper()
	var set JWKS
	if err := json.Unmarshal(i.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, set.Keyfunc(), jwt.WithValidMethods([]string{"ES256", "EdDSA"}),
		jwt.WithIssuer("https://shop.example"), jwt.WithAudience("https://shop.example"), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return claims
}

func TestAssertionVerifiesWithJWKSAndIsCached(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			i, _ := issuer(t, alg, "ES256")
			now := time.Unix(1_800_000_000, 0)
			builds := 0
			build := func() jwt.MapClaims { builds++; return jwt.MapClaims{"sub": "naver:1", "amr": []string{}} }
			tok, _, err := i.Assertion("s1", "https://shop.example", "https://shop.example", now, build)
			if err != nil {
				t.Fatal(err)
			}
			c := verify(t, i, tok, now)
			if c["sub"] != "naver:1" || c["iat"].(float64) != float64(now.Unix()) || c["exp"].(float64) != float64(now.Add(5*time.Minute).Unix()) {
				t.Fatalf("claims = %v", c)
			}
			tok2, _, _ := i.Assertion("s1", "https://shop.example", "https://shop.example", now.Add(time.Minute), build)
			if tok2 != tok || builds != 1 {
				t.Fatalf("cache miss within half the TTL (builds=%d)", builds)
			}
			tok3, _, _ := i.Assertion("s1", "https://shop.example", "https://shop.example", now.Add(3*time.Minute), build)
			if tok3 == tok || builds != 2 {
				t.Fatal("stale assertion reused past half its TTL")
			}
			var set JWKS
			json.Unmarshal(i.JWKS(), &set)
			if len(set.Keys) != 2 || set.Keys[0].Kid != i.KID() {
				t.Fatalf("JWKS must list current and previous keys: %s", i.JWKS())
			}
		})
	}
}

func TestPreviousKeyStillVerifies(t *testing.T) {
	old, ks := issuer(t, "ES256")
	now := time.Now()
	tok, _, _ := old.Assertion("s", "https://shop.example", "https://shop.example", now, func() jwt.MapClaims { return jwt.MapClaims{"sub": "x"} })
	nk, _ := keys.NewSigningKey("ES256", now, randReader())
	rotated, err := NewIssuer([]keys.SigningKey{nk, ks[0]}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	verify(t, rotated, tok, now)
}

func BenchmarkAssertionCacheHit(b *testing.B) {
	i, _ := issuer(b, "ES256")
	now := time.Now()
	build := func() jwt.MapClaims { return jwt.MapClaims{"sub": "naver:1"} }
	i.Assertion("s1", "https://a", "https://a", now, build)
	b.ReportAllocs()
	for n := 0; n < b.N; n++ {
		i.Assertion("s1", "https://a", "https://a", now, build)
	}
}

func BenchmarkSign(b *testing.B) {
	i, _ := issuer(b, "ES256")
	b.ReportAllocs()
	for n := 0; n < b.N; n++ {
		i.Sign(jwt.MapClaims{"sub": "naver:1"})
	}
}
