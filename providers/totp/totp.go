// Package totp implements RFC 6238 time-based one-time passwords (HOTP, RFC 4226, over 30-second
// steps) and otpauth:// key URIs, compatible with Google Authenticator, Naver OTP-style apps and
// 1Password: SHA-1, 6 digits, 30 seconds.
//
// Verify accepts one step of clock drift either way and never the same step twice: the caller
// MUST store the returned step and pass it back as lastStep. Codes are compared in constant time.
// It is a few lines of standard HMAC, so idgate carries it instead of a dependency.
package totp

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"net/url"
	"strings"
	"time"
)

// Period is the step length; Digits the code length.
const (
	Period = 30
	Digits = 6
)

// Algorithm selects the HMAC hash.
type Algorithm string

// Algorithms RFC 6238 allows.
const (
	SHA1   Algorithm = "SHA1"
	SHA256 Algorithm = "SHA256"
	SHA512 Algorithm = "SHA512"
)

func (a Algorithm) hash() func() hash.Hash {
	switch a {
	case SHA256:
		return sha256.New
	case SHA512:
		return sha512.New
	}
	return sha1.New
}

// Step returns the time step of t.
func Step(t time.Time) int64 { return t.Unix() / Period }

// HOTP returns the RFC 4226 value for counter, with digits digits.
func HOTP(secret []byte, counter int64, digits int, alg Algorithm) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	m := hmac.New(alg.hash(), secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for i := 0; i < digits; i++ {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, v%mod)
}

// Code returns the 6-digit SHA-1 code at t.
func Code(secret []byte, t time.Time) string { return HOTP(secret, Step(t), Digits, SHA1) }

// Verify checks code against the steps around now (one step of drift either way) that are later
// than lastStep. It returns the matching step.
func Verify(secret []byte, code string, now time.Time, lastStep int64) (int64, bool) {
	code = strings.TrimSpace(strings.ReplaceAll(code, " ", ""))
	if len(code) != Digits {
		return 0, false
	}
	cur := Step(now)
	var found int64
	ok := 0
	for s := cur - 1; s <= cur+1; s++ {
		if s <= lastStep {
			continue
		}
		// Compare every candidate, so timing does not reveal which step matched.
		if subtle.ConstantTimeCompare([]byte(HOTP(secret, s, Digits, SHA1)), []byte(code)) == 1 && ok == 0 {
			found, ok = s, 1
		}
	}
	return found, ok == 1
}

// NewSecret returns a 20-byte secret (160 bits, RFC 4226's recommendation).
func NewSecret(r io.Reader) ([]byte, error) {
	b := make([]byte, 20)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("totp: randomness: %w", err)
	}
	return b, nil
}

// Base32 encodes a secret without padding, as authenticator apps expect.
func Base32(secret []byte) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
}

// URI returns the otpauth:// key URI for issuer and account.
func URI(issuer, account string, secret []byte) string {
	label := url.PathEscape(strings.ReplaceAll(issuer, ":", "")) + ":" + url.PathEscape(strings.ReplaceAll(account, ":", ""))
	q := url.Values{"secret": {Base32(secret)}, "issuer": {issuer}, "algorithm": {"SHA1"}, "digits": {"6"}, "period": {"30"}}
	return "otpauth://totp/" + label + "?" + q.Encode()
}
