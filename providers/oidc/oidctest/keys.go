package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"

	"github.com/golang-jwt/jwt/v5"
)

// KeySet is an RS256 signing key with its JWKS, as OIDC providers (Kakao, Naver) publish.
type KeySet struct {
	KID string
	Key *rsa.PrivateKey
}

// NewKeySet generates a 2048-bit RSA key. It panics if randomness fails.
func NewKeySet(kid string) *KeySet {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic("oidctest: " + err.Error())
	}
	return &KeySet{KID: kid, Key: k}
}

// Sign signs claims as an RS256 JWT with the kid header.
func (ks *KeySet) Sign(claims jwt.MapClaims) string {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = ks.KID
	s, err := t.SignedString(ks.Key)
	if err != nil {
		panic("oidctest: " + err.Error())
	}
	return s
}

// ServeJWKS writes the public JWKS.
func (ks *KeySet) ServeJWKS(w http.ResponseWriter, _ *http.Request) {
	pub := ks.Key.PublicKey
	b64 := base64.RawURLEncoding.EncodeToString
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": ks.KID,
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// RandomString returns a random URL-safe string of n bytes of entropy.
func RandomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("oidctest: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
