package assertion

import (
	"encoding/json"
	"fmt"
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
			build := func() (jwt.MapClaims, string, string) {
				builds++
				return jwt.MapClaims{"sub": "naver:1", "amr": []string{}}, "https://shop.example", "https://shop.example"
			}
			k := Key{Session: "s1", Policy: "members", Host: "shop.example", TLS: true}
			tok, _, err := i.Assertion(k, now, build)
			if err != nil {
				t.Fatal(err)
			}
			c := verify(t, i, tok, now)
			if c["sub"] != "naver:1" || c["iat"].(float64) != float64(now.Unix()) || c["exp"].(float64) != float64(now.Add(5*time.Minute).Unix()) {
				t.Fatalf("claims = %v", c)
			}
			tok2, _, _ := i.Assertion(k, now.Add(time.Minute), build)
			if tok2 != tok || builds != 1 {
				t.Fatalf("cache miss within half the TTL (builds=%d)", builds)
			}
			// Any other session version, policy or origin is another assertion.
			for _, other := range []Key{{Session: "s2", Policy: "members", Host: "shop.example", TLS: true}, {Session: "s1", Policy: "admin", Host: "shop.example", TLS: true},
				{Session: "s1", Policy: "members", Host: "evil.example", TLS: true}, {Session: "s1", Policy: "members", Host: "shop.example"}} {
				if o, _, _ := i.Assertion(other, now.Add(time.Minute), build); o == tok {
					t.Fatalf("%+v served the assertion of %+v", other, k)
				}
			}
			builds = 1
			tok3, _, _ := i.Assertion(k, now.Add(3*time.Minute), build)
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

// The cache keeps only assertions that can still be served: entries past half their lifetime are
// swept, so idle sessions (or made-up Host headers) do not grow it without bound.
func TestAssertionCacheIsSwept(t *testing.T) {
	i, _ := issuer(t, "ES256")
	now := time.Unix(1_800_000_000, 0)
	build := func() (jwt.MapClaims, string, string) { return jwt.MapClaims{"sub": "x"}, "https://a", "https://a" }
	for n := 0; n < 100; n++ {
		i.Assertion(Key{Session: fmt.Sprint(n)}, now, build)
	}
	if got := i.cache.Len(); got != 100 {
		t.Fatalf("cached %d, want 100", got)
	}
	later := now.Add(i.TTL/2 + time.Second)
	i.Assertion(Key{Session: "new"}, later, build)
	if got := i.cache.Len(); got != 1 {
		t.Fatalf("after half the lifetime the cache holds %d assertions, want only the new one", got)
	}
}

func TestPreviousKeyStillVerifies(t *testing.T) {
	old, ks := issuer(t, "ES256")
	now := time.Now()
	tok, _, _ := old.Assertion(Key{Session: "s"}, now, func() (jwt.MapClaims, string, string) {
		return jwt.MapClaims{"sub": "x"}, "https://shop.example", "https://shop.example"
	})
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
	build := func() (jwt.MapClaims, string, string) {
		return jwt.MapClaims{"sub": "naver:1"}, "https://a", "https://a"
	}
	k := Key{Session: "s1", Policy: "members", Host: "a", TLS: true}
	i.Assertion(k, now, build)
	b.ReportAllocs()
	for n := 0; n < b.N; n++ {
		i.Assertion(k, now, build)
	}
}

func BenchmarkSign(b *testing.B) {
	i, _ := issuer(b, "ES256")
	b.ReportAllocs()
	for n := 0; n < b.N; n++ {
		i.Sign(jwt.MapClaims{"sub": "naver:1"})
	}
}
