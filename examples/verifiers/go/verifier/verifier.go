// Package verifier shows how an upstream app verifies idgate's X-Idgate-Assertion header with
// nothing but the JWKS at /.idgate/jwks.json. Copy it into your app; it depends only on
// golang-jwt.
//
//	v := verifier.New("https://shop.example.com/.idgate/jwks.json", "https://shop.example.com", "https://shop.example.com")
//	claims, err := v.Verify(r.Header.Get("X-Idgate-Assertion"))
package verifier

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Verifier checks assertions against a JWKS it fetches and refreshes when it meets an unknown kid.
type Verifier struct {
	JWKSURL  string
	Issuer   string
	Audience string
	Client   *http.Client

	mu      sync.Mutex
	keys    map[string]any
	fetched time.Time
}

// New returns a Verifier.
func New(jwksURL, issuer, audience string) *Verifier {
	return &Verifier{JWKSURL: jwksURL, Issuer: issuer, Audience: audience, Client: &http.Client{Timeout: 5 * time.Second}}
}

// Verify checks signature, algorithm, iss, aud and exp, and returns the claims.
func (v *Verifier) Verify(token string) (jwt.MapClaims, error) {
	if token == "" {
		return nil, errors.New("no assertion")
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, v.key,
		jwt.WithValidMethods([]string{"ES256", "EdDSA"}),
		jwt.WithIssuer(v.Issuer), jwt.WithAudience(v.Audience),
		jwt.WithExpirationRequired(), jwt.WithLeeway(30*time.Second))
	if err != nil {
		return nil, err
	}
	return claims, nil
}

func (v *Verifier) key(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	v.mu.Lock()
	defer v.mu.Unlock()
	if k, ok := v.keys[kid]; ok {
		return k, nil
	}
	// Unknown kid: the key may have rotated. Refetch, at most every 10 seconds.
	if time.Since(v.fetched) < 10*time.Second && v.keys != nil {
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	if err := v.fetch(); err != nil {
		return nil, err
	}
	if k, ok := v.keys[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("unknown kid %q", kid)
}

func (v *Verifier) fetch() error {
	v.fetched = time.Now()
	resp, err := v.Client.Get(v.JWKSURL)
	if err != nil {
		return fmt.Errorf("fetching JWKS: %w", err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct{ Kty, Crv, X, Y, Kid string } `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return fmt.Errorf("decoding JWKS: %w", err)
	}
	keys := map[string]any{}
	d := base64.RawURLEncoding.DecodeString
	for _, k := range set.Keys {
		x, err := d(k.X)
		if err != nil {
			continue
		}
		switch {
		case k.Kty == "EC" && k.Crv == "P-256":
			y, err := d(k.Y)
			if err != nil {
				continue
			}
			keys[k.Kid] = &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
		case k.Kty == "OKP" && k.Crv == "Ed25519" && len(x) == ed25519.PublicKeySize:
			keys[k.Kid] = ed25519.PublicKey(x)
		}
	}
	v.keys = keys
	return nil
}
