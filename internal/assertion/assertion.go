// Package assertion signs the identity assertion (the X-Idgate-Assertion JWT) and publishes the
// JWKS that verifies it.
//
// Signing costs tens of microseconds, so each Issuer (one per signing key) caches every signed
// assertion by Key (session version, policy, request origin) and re-signs only when the cached one
// is past half its lifetime. A cache hit allocates nothing. The caller builds the claims, issuer
// and audience; this package adds iss, aud, iat, exp and the kid.
package assertion

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/idgate/idgate/internal/hotmap"
	"github.com/idgate/idgate/internal/keys"
)

// Issuer signs assertions with the newest key and lists every kept key in its JWKS.
type Issuer struct {
	// TTL is the assertion lifetime. Default: 5 minutes.
	TTL time.Duration

	kid    string
	method jwt.SigningMethod
	priv   crypto.Signer
	jwks   []byte
	cache  *hotmap.Map[Key, cached] // until half the assertion's lifetime
}

// NewIssuer returns an Issuer signing with signing[0]. signing MUST be newest first.
func NewIssuer(signing []keys.SigningKey, ttl time.Duration) (*Issuer, error) {
	if len(signing) == 0 {
		return nil, errors.New("assertion: no signing keys")
	}
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	// Entries are dropped once they could no longer be served, at most every half lifetime, so
	// the cache holds only the assertions of recently active sessions.
	iss := &Issuer{TTL: ttl, cache: hotmap.New[Key, cached](ttl / 2)}
	set := JWKS{Keys: []JWK{}}
	for i, k := range signing {
		s, err := k.Signer()
		if err != nil {
			return nil, err
		}
		jwk, err := publicJWK(k.KID, k.Alg, s.Public())
		if err != nil {
			return nil, err
		}
		set.Keys = append(set.Keys, jwk)
		if i == 0 {
			iss.kid, iss.priv = k.KID, s
			iss.method = jwt.SigningMethodES256
			if k.Alg == "EdDSA" {
				iss.method = jwt.SigningMethodEdDSA
			}
		}
	}
	var err error
	if iss.jwks, err = json.Marshal(set); err != nil {
		return nil, fmt.Errorf("assertion: %w", err)
	}
	return iss, nil
}

// KID returns the key ID new assertions carry.
func (i *Issuer) KID() string { return i.kid }

// JWKS returns the JSON Web Key Set of every kept public key. The caller MUST NOT modify it.
func (i *Issuer) JWKS() []byte { return i.jwks }

// Sign signs claims as they are, setting the kid header. It does not add times; see Assertion.
func (i *Issuer) Sign(claims jwt.MapClaims) (string, error) {
	t := jwt.NewWithClaims(i.method, claims)
	t.Header["kid"] = i.kid
	s, err := t.SignedString(i.priv)
	if err != nil {
		return "", fmt.Errorf("assertion: signing: %w", err)
	}
	return s, nil
}

type cached struct {
	token string
	exp   time.Time
}

// Key identifies one cached assertion. Its fields are compared, never concatenated, so that a
// lookup allocates nothing.
type Key struct {
	Session string // the session's cache key: its id and version
	Policy  string
	Host    string // the request's host when issuer or audience derive from it, else ""
	TLS     bool
}

// Assertion returns a signed assertion for k, calling build for the claims, issuer and audience
// only when no fresh one is cached. It sets iss, aud, iat and exp.
func (i *Issuer) Assertion(k Key, now time.Time, build func() (claims jwt.MapClaims, issuer, audience string)) (string, time.Time, error) {
	if c, ok := i.cache.Get(k, now); ok {
		return c.token, c.exp, nil
	}
	claims, issuer, audience := build()
	exp := now.Add(i.TTL)
	claims["iss"] = issuer
	claims["aud"] = audience
	claims["iat"] = now.Unix()
	claims["exp"] = exp.Unix()
	tok, err := i.Sign(claims)
	if err != nil {
		return "", time.Time{}, err
	}
	// Served until half its lifetime, then signed anew.
	i.cache.Set(k, cached{token: tok, exp: exp}, i.Fresh(exp), now)
	return tok, exp, nil
}

// Fresh returns until when an assertion expiring at exp is served from the cache (half its
// lifetime), after which Assertion signs a new one.
func (i *Issuer) Fresh(exp time.Time) time.Time { return exp.Add(-i.TTL / 2) }

// JWKS is a JSON Web Key Set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWK is a public JSON Web Key (EC P-256 or OKP Ed25519).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y,omitempty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

func publicJWK(kid, alg string, pub crypto.PublicKey) (JWK, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return JWK{Kty: "EC", Crv: "P-256", X: b64(pad32(k.X)), Y: b64(pad32(k.Y)), Kid: kid, Alg: alg, Use: "sig"}, nil
	case ed25519.PublicKey:
		return JWK{Kty: "OKP", Crv: "Ed25519", X: b64(k), Kid: kid, Alg: alg, Use: "sig"}, nil
	}
	return JWK{}, fmt.Errorf("assertion: unsupported public key %T", pub)
}

func pad32(n *big.Int) []byte {
	b := make([]byte, 32)
	return n.FillBytes(b)
}

// PublicKey turns a JWK back into a public key, for verifiers.
func (k JWK) PublicKey() (crypto.PublicKey, error) {
	d := base64.RawURLEncoding.DecodeString
	switch k.Kty {
	case "EC":
		x, err1 := d(k.X)
		y, err2 := d(k.Y)
		if err1 != nil || err2 != nil || k.Crv != "P-256" {
			return nil, errors.New("assertion: bad EC JWK")
		}
		pk, err := ecdsa.ParseUncompressedPublicKey(ellipticP256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, fmt.Errorf("assertion: bad EC JWK: %w", err)
		}
		return pk, nil
	case "OKP":
		x, err := d(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("assertion: bad OKP JWK")
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, fmt.Errorf("assertion: unsupported kty %q", k.Kty)
}

// Keyfunc returns a jwt.Keyfunc that picks the key by kid from set and pins the algorithm.
func (set JWKS) Keyfunc() jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		for _, k := range set.Keys {
			if k.Kid == kid {
				if t.Method.Alg() != k.Alg {
					return nil, fmt.Errorf("assertion: kid %s is %s, token says %s", kid, k.Alg, t.Method.Alg())
				}
				return k.PublicKey()
			}
		}
		return nil, fmt.Errorf("assertion: unknown kid %q", kid)
	}
}
