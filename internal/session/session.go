// Package session seals visitor sessions into authenticated, encrypted cookies and opens them.
//
// A cookie carries only what policies need (see identity.Identity). Sealing is AES-256-GCM with
// the cookie name as additional data, so a value cannot be moved to another cookie; several keys
// can open (rotation never logs everyone out), only the first one seals. Revocation is checked
// against a RevocationChecker the caller provides; this package does no I/O of its own.
package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/idgate/idgate/internal/hotmap"
	"github.com/idgate/idgate/internal/identity"
)

// Errors returned by Open. Callers treat all of them as "no session".
var (
	ErrNoSession = errors.New("session: no session cookie")
	ErrTampered  = errors.New("session: cookie failed authentication")
	ErrExpired   = errors.New("session: expired")
	ErrRevoked   = errors.New("session: revoked")
)

// CookieName is the session cookie's name over plain HTTP; over HTTPS it is SecureCookieName.
const (
	CookieName       = "idgate_session"
	SecureCookieName = "__Host-idgate_session"
	// maxCookieLength is the browser limit a cookie (name, value, attributes) must stay under.
	maxCookieLength = 4000
)

// Key is one session sealing key.
type Key struct {
	ID      uint32
	Secret  []byte // 32 bytes
	Created time.Time
}

// Session is the content of a session cookie.
type Session struct {
	// ID identifies the session for revocation; random, never reused.
	ID string `json:"id"`
	identity.Identity
	Issued  int64 `json:"iat"`
	Seen    int64 `json:"seen"`
	Expires int64 `json:"exp"`
	// Version changes whenever the identity in the session changes; assertion caches key on it.
	Version int64 `json:"v"`

	cacheKey string // ID and Version, computed once when the cookie is opened
	memo     *Memo  // set on sessions opened from a cookie, shared by every request presenting it
}

// Memo is a slot in which the caller of Open may remember work derived from an opened session
// (the gate keeps the headers it last forwarded for it), so that the next request with the same
// cookie finds it without a lookup in a shared cache. It lives as long as the session stays in
// the cache of opened cookies (at most a minute) and is shared by the concurrent requests that
// present that cookie: what is stored MUST be immutable and MUST NOT depend on anything but the
// session and what the caller checks before using it.
type Memo struct{ v atomic.Value }

// Load returns what was last stored, or nil.
func (m *Memo) Load() any { return m.v.Load() }

// Store replaces the memo. Every Store of one Memo MUST use the same concrete type.
func (m *Memo) Store(v any) { m.v.Store(v) }

// Memo returns the session's memo, or nil when s was not opened from a cookie (a new or cloned
// session).
func (s *Session) Memo() *Memo { return s.memo }

// CacheKey identifies this session version for caches: it changes whenever the identity does.
func (s *Session) CacheKey() string {
	if s.cacheKey != "" {
		return s.cacheKey
	}
	return s.ID + "\x00" + strconv.FormatInt(s.Version, 36) + "\x00"
}

// RevocationChecker reports whether a session ID was revoked. It MUST NOT do network I/O: it is
// called on every request.
type RevocationChecker interface {
	Revoked(id string, now time.Time) bool
}

// Manager opens and issues sessions.
type Manager struct {
	// Idle is how long a session may go unused. Default: 24h.
	Idle time.Duration
	// Absolute is how long a session lives after login, whatever its use. Default: 7 days.
	Absolute time.Duration
	// Revocations is consulted on every Open; nil means no revocation (tests only).
	Revocations RevocationChecker
	// Rand is the randomness source; nil means crypto/rand.
	Rand io.Reader

	keys atomic.Pointer[[]sealKey]
	// opened caches opened cookies for a minute: cookie value → session, one map per cookie name
	// (index 1 for SecureCookieName), because a value opens only under the name it was sealed for.
	opened [2]*hotmap.Map[string, *Session]
}

type sealKey struct {
	id   uint32
	aead cipher.AEAD
}

// NewManager returns a Manager sealing with keys[0] and opening with any of keys.
func NewManager(keys []Key, idle, absolute time.Duration, rev RevocationChecker) (*Manager, error) {
	if len(keys) == 0 {
		return nil, errors.New("session: no keys")
	}
	m := &Manager{Idle: idle, Absolute: absolute, Revocations: rev,
		opened: [2]*hotmap.Map[string, *Session]{hotmap.New[string, *Session](time.Minute), hotmap.New[string, *Session](time.Minute)}}
	if m.Idle <= 0 {
		m.Idle = 24 * time.Hour
	}
	if m.Absolute <= 0 {
		m.Absolute = 7 * 24 * time.Hour
	}
	if err := m.SetKeys(keys); err != nil {
		return nil, err
	}
	return m, nil
}

// SetKeys replaces the keys (rotation): keys[0] seals from now on, all of them open. Safe while
// serving.
func (m *Manager) SetKeys(keys []Key) error {
	if len(keys) == 0 {
		return errors.New("session: no keys")
	}
	var sk []sealKey
	for _, k := range keys {
		if len(k.Secret) != 32 {
			return fmt.Errorf("session: key %08x must be 32 bytes, got %d", k.ID, len(k.Secret))
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return fmt.Errorf("session: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return fmt.Errorf("session: %w", err)
		}
		sk = append(sk, sealKey{id: k.ID, aead: aead})
	}
	m.keys.Store(&sk)
	return nil
}

func (m *Manager) rand() io.Reader {
	if m.Rand != nil {
		return m.Rand
	}
	return rand.Reader
}

// RandomID returns n random bytes, base64url-encoded.
func RandomID(r io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("session: randomness: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// New returns a fresh session for id at now.
func (m *Manager) New(id identity.Identity, now time.Time) (*Session, error) {
	sid, err := RandomID(m.rand(), 18)
	if err != nil {
		return nil, err
	}
	t := now.Unix()
	return &Session{ID: sid, Identity: id, Issued: t, Seen: t, Expires: now.Add(m.Absolute).Unix(), Version: now.UnixNano()}, nil
}

// Name returns the cookie name for a request over HTTPS (secure) or plain HTTP.
func Name(secure bool) string {
	if secure {
		return SecureCookieName
	}
	return CookieName
}

// Seal encrypts s for the cookie called name.
func (m *Manager) Seal(name string, s *Session) (string, error) {
	plain, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("session: %w", err)
	}
	k := (*m.keys.Load())[0]
	buf := make([]byte, 4, 4+k.aead.NonceSize()+len(plain)+k.aead.Overhead())
	binary.BigEndian.PutUint32(buf, k.id)
	nonce := buf[4 : 4+k.aead.NonceSize()]
	buf = buf[:4+k.aead.NonceSize()]
	if _, err := io.ReadFull(m.rand(), nonce); err != nil {
		return "", fmt.Errorf("session: randomness: %w", err)
	}
	buf = k.aead.Seal(buf, nonce, plain, []byte(name))
	v := base64.RawURLEncoding.EncodeToString(buf)
	if len(name)+len(v)+100 > maxCookieLength {
		return "", fmt.Errorf("session: sealed session is %d bytes, over the cookie limit; forward fewer profile claims", len(v))
	}
	return v, nil
}

// Unseal authenticates and decrypts a cookie value sealed for name. It does not check expiry
// or revocation; use Open for that.
func (m *Manager) Unseal(name, value string) (*Session, error) {
	if len(value) > maxCookieLength {
		return nil, ErrTampered
	}
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < 4 {
		return nil, ErrTampered
	}
	id := binary.BigEndian.Uint32(raw)
	for _, k := range *m.keys.Load() {
		if k.id != id {
			continue
		}
		ns := k.aead.NonceSize()
		if len(raw) < 4+ns+k.aead.Overhead() {
			return nil, ErrTampered
		}
		plain, err := k.aead.Open(nil, raw[4:4+ns], raw[4+ns:], []byte(name))
		if err != nil {
			return nil, ErrTampered
		}
		var s Session
		if err := json.Unmarshal(plain, &s); err != nil || s.ID == "" || s.Subject == "" {
			return nil, ErrTampered
		}
		s.cacheKey = s.CacheKey()
		return &s, nil
	}
	// Unknown key: rotated out long ago, or never ours.
	return nil, ErrTampered
}

// Open reads the session cookie of r, authenticates it and checks expiry and revocation at now.
//
// The returned Session is shared with a short-lived cache of opened cookies: the caller MUST NOT
// modify it; use Clone first.
func (m *Manager) Open(r *http.Request, secure bool, now time.Time) (*Session, error) {
	name := Name(secure)
	value := cookieValue(r, name)
	if value == "" {
		return nil, ErrNoSession
	}
	opened := m.opened[0]
	if secure {
		opened = m.opened[1]
	}
	s, ok := opened.Get(value, now)
	if !ok {
		var err error
		if s, err = m.Unseal(name, value); err != nil {
			return nil, err
		}
		s.memo = new(Memo)
		opened.Set(value, s, now.Add(time.Minute), now)
	}
	t := now.Unix()
	if t >= s.Expires || t-s.Seen > int64(m.Idle/time.Second) {
		return nil, ErrExpired
	}
	if m.Revocations != nil && m.Revocations.Revoked(s.ID, now) {
		return nil, ErrRevoked
	}
	return s, nil
}

// cookieValue finds one cookie without parsing (and allocating) every cookie of the request.
func cookieValue(r *http.Request, name string) string {
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			if len(part) > len(name) && part[len(name)] == '=' && part[:len(name)] == name {
				return strings.Trim(part[len(name)+1:], `"`)
			}
		}
	}
	return ""
}

// Clone returns a copy of s that the caller may modify.
func (s *Session) Clone() *Session {
	c := *s
	c.cacheKey = "" // the copy will change
	c.memo = nil
	c.AMR = append([]string(nil), s.AMR...)
	if s.Claims != nil {
		c.Claims = make(map[string]string, len(s.Claims))
		for k, v := range s.Claims {
			c.Claims[k] = v
		}
	}
	return &c
}

// NeedsTouch reports whether the idle timer of s should be renewed by re-issuing the cookie. It
// is true at most once a minute (or every tenth of the idle window), so most requests set no cookie.
func (m *Manager) NeedsTouch(s *Session, now time.Time) bool {
	every := m.Idle / 10
	if every < time.Minute {
		every = time.Minute
	}
	return now.Unix()-s.Seen >= int64(every/time.Second)
}

// Cookie returns the Set-Cookie for a sealed value. MaxAge follows the absolute expiry.
func (m *Manager) Cookie(secure bool, value string, s *Session, now time.Time) *http.Cookie {
	return &http.Cookie{
		Name:     Name(secure),
		Value:    value,
		Path:     "/",
		MaxAge:   int(s.Expires - now.Unix()),
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	}
}

// ClearCookie returns a Set-Cookie that deletes the session cookie.
func ClearCookie(secure bool) *http.Cookie {
	return &http.Cookie{Name: Name(secure), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
}
