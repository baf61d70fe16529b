// Package keys holds idgate's key material as one JSON document: session sealing keys and
// assertion signing keys, each with its creation time, newest first.
//
// The document is what caddymodule keeps in Caddy's storage, so restarts keep sessions valid and
// instances sharing storage share keys. Rotate adds a new key when the newest is older than the
// rotation period and drops keys only once nothing they protected can still be valid. This
// package does no I/O; the caller loads and stores the bytes under a storage lock.
package keys

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"time"
)

// Set is the stored key document.
type Set struct {
	Session []SessionKey `json:"session"`
	Signing []SigningKey `json:"signing"`
	// LogHashKey keys the subject hashes in logs; it never rotates, so hashes stay comparable.
	LogHashKey []byte `json:"log_hash_key"`
	// CIHashKey keys the stored CI hashes; it never rotates (a new key would unlink everyone).
	CIHashKey []byte `json:"ci_hash_key"`
	// MFAKey seals TOTP secrets at rest; it never rotates.
	MFAKey []byte `json:"mfa_key"`
}

// SessionKey is a 32-byte AEAD key.
type SessionKey struct {
	ID      uint32    `json:"id"`
	Secret  []byte    `json:"secret"`
	Created time.Time `json:"created"`
}

// SigningKey is an assertion signing key, PKCS#8 PEM.
type SigningKey struct {
	KID     string    `json:"kid"`
	Alg     string    `json:"alg"`
	PEM     string    `json:"pem"`
	Created time.Time `json:"created"`
}

// Parse decodes a stored key document.
func Parse(data []byte) (*Set, error) {
	var s Set
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("keys: stored key set is corrupt: %w", err)
	}
	for _, k := range s.Session {
		if len(k.Secret) != 32 {
			return nil, fmt.Errorf("keys: stored session key %08x has %d bytes, want 32", k.ID, len(k.Secret))
		}
	}
	for _, k := range s.Signing {
		if _, err := k.Signer(); err != nil {
			return nil, err
		}
	}
	return &s, nil
}

// Marshal encodes the key document.
func (s *Set) Marshal() ([]byte, error) { return json.MarshalIndent(s, "", "  ") }

// Policy says when keys rotate and how long retired keys stay usable.
type Policy struct {
	// Every is the rotation period; 0 never rotates.
	Every time.Duration
	// SessionKeep is how long a retired session key still opens cookies (the absolute session lifetime).
	SessionKeep time.Duration
	// SigningKeep is how long a retired signing key stays in the JWKS (at least the assertion TTL).
	SigningKeep time.Duration
	// Alg is the signing algorithm for new keys: ES256 (default) or EdDSA.
	Alg string
}

// Rotate makes sure s has a current key of each kind and returns whether it changed s.
//
// A retired key is kept until Keep after its successor was created, so every cookie and assertion
// it protected has expired by the time it goes.
func (s *Set) Rotate(now time.Time, p Policy, r io.Reader) (bool, error) {
	if r == nil {
		r = rand.Reader
	}
	alg := p.Alg
	if alg == "" {
		alg = "ES256"
	}
	changed := false
	for _, k := range []*[]byte{&s.LogHashKey, &s.CIHashKey, &s.MFAKey} {
		if len(*k) == 0 {
			*k = make([]byte, 32)
			if _, err := io.ReadFull(r, *k); err != nil {
				return false, fmt.Errorf("keys: randomness: %w", err)
			}
			changed = true
		}
	}
	if len(s.Session) == 0 || (p.Every > 0 && now.Sub(s.Session[0].Created) >= p.Every) {
		k, err := NewSessionKey(now, r)
		if err != nil {
			return false, err
		}
		s.Session = append([]SessionKey{k}, s.Session...)
		changed = true
	}
	if len(s.Signing) == 0 || s.Signing[0].Alg != alg || (p.Every > 0 && now.Sub(s.Signing[0].Created) >= p.Every) {
		k, err := NewSigningKey(alg, now, r)
		if err != nil {
			return false, err
		}
		s.Signing = append([]SigningKey{k}, s.Signing...)
		changed = true
	}
	// Drop retired keys whose successor is older than the keep period.
	for i := 1; i < len(s.Session); i++ {
		if now.Sub(s.Session[i-1].Created) > p.SessionKeep {
			s.Session = s.Session[:i]
			changed = true
			break
		}
	}
	for i := 1; i < len(s.Signing); i++ {
		if now.Sub(s.Signing[i-1].Created) > p.SigningKeep {
			s.Signing = s.Signing[:i]
			changed = true
			break
		}
	}
	return changed, nil
}

// NewSessionKey generates a session key.
func NewSessionKey(now time.Time, r io.Reader) (SessionKey, error) {
	b := make([]byte, 36)
	if _, err := io.ReadFull(r, b); err != nil {
		return SessionKey{}, fmt.Errorf("keys: randomness: %w", err)
	}
	return SessionKey{ID: binary.BigEndian.Uint32(b[32:]), Secret: b[:32], Created: now.UTC()}, nil
}

// NewSigningKey generates a signing key for alg (ES256 or EdDSA).
func NewSigningKey(alg string, now time.Time, r io.Reader) (SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), r)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(r)
	default:
		return SigningKey{}, fmt.Errorf("keys: unsupported signing algorithm %q (ES256 or EdDSA)", alg)
	}
	if err != nil {
		return SigningKey{}, fmt.Errorf("keys: generating %s key: %w", alg, err)
	}
	return SigningKeyFrom(alg, priv, now)
}

// SigningKeyFrom wraps an existing private key; its kid is derived from the public key.
func SigningKeyFrom(alg string, priv crypto.Signer, now time.Time) (SigningKey, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return SigningKey{}, fmt.Errorf("keys: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return SigningKey{}, fmt.Errorf("keys: %w", err)
	}
	sum := sha256.Sum256(pub)
	return SigningKey{
		KID:     base64.RawURLEncoding.EncodeToString(sum[:12]),
		Alg:     alg,
		PEM:     string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		Created: now.UTC(),
	}, nil
}

// ParsePrivateKeyPEM reads a PKCS#8 (or SEC1 EC) private key and tells its algorithm.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, string, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, "", errors.New("keys: no PEM block found")
	}
	var key any
	var err error
	switch block.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, "", fmt.Errorf("keys: parsing private key: %w", err)
	}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, "", errors.New("keys: EC keys must use P-256 (ES256)")
		}
		return k, "ES256", nil
	case ed25519.PrivateKey:
		return k, "EdDSA", nil
	default:
		return nil, "", fmt.Errorf("keys: unsupported key type %T (want EC P-256 or Ed25519)", key)
	}
}

// Signer parses the key's PEM.
func (k SigningKey) Signer() (crypto.Signer, error) {
	s, alg, err := ParsePrivateKeyPEM([]byte(k.PEM))
	if err != nil {
		return nil, fmt.Errorf("keys: signing key %s: %w", k.KID, err)
	}
	if alg != k.Alg {
		return nil, fmt.Errorf("keys: signing key %s is %s, stored as %s", k.KID, alg, k.Alg)
	}
	return s, nil
}

// Box seals small secrets with AES-256-GCM (nonce prepended).
type Box struct{ aead cipher.AEAD }

// NewBox returns a Box for a 32-byte key.
func NewBox(key []byte) (*Box, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plain, binding it to context (for example the subject it belongs to).
func (b *Box) Seal(plain, context []byte) ([]byte, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, fmt.Errorf("keys: randomness: %w", err)
	}
	return b.aead.Seal(nonce, nonce, plain, context), nil
}

// Open decrypts a sealed value for context.
func (b *Box) Open(sealed, context []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("keys: sealed value too short")
	}
	return b.aead.Open(nil, sealed[:n], sealed[n:], context)
}
