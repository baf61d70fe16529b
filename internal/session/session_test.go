package session

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/internal/identity"
)

type revoked map[string]bool

func (r revoked) Revoked(id string, _ time.Time) bool { return r[id] }

func newManager(t testing.TB, rev RevocationChecker, ks ...Key) *Manager {
	t.Helper()
	if len(ks) == 0 {
		ks = []Key{{ID: 1, Secret: bytes.Repeat([]byte{1}, 32)}}
	}
	m, err := NewManager(ks, time.Hour, 24*time.Hour, rev)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func sealed(t testing.TB, m *Manager, name string) (*Session, string) {
	t.Helper()
	s, err := m.New(identity.Identity{Subject: "naver:1", Provider: "naver", AuthTime: t0.Unix(), Claims: map[string]string{"name": "김민준"}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	v, err := m.Seal(name, s)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

func req(name, value string) *http.Request {
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Add("Cookie", "other=1; "+name+"="+value+"; x=2")
	return r
}

func TestOpenChecksLifetimesAndRevocation(t *testing.T) {
	rev := revoked{}
	m := newManager(t, rev)
	s, v := sealed(t, m, CookieName)
	got, err := m.Open(req(CookieName, v), false, t0.Add(30*time.Minute))
	if err != nil || got.Subject != "naver:1" || got.Claims["name"] != "김민준" {
		t.Fatalf("open = %+v, %v", got, err)
	}
	if _, err := m.Open(req(CookieName, v), false, t0.Add(61*time.Minute)); !errors.Is(err, ErrExpired) {
		t.Fatalf("idle expiry: %v", err)
	}
	// Touching keeps it alive past the idle window, but never past the absolute lifetime.
	touched := s.Clone()
	touched.Seen = t0.Add(50 * time.Minute).Unix()
	tv, _ := m.Seal(CookieName, touched)
	if _, err := m.Open(req(CookieName, tv), false, t0.Add(100*time.Minute)); err != nil {
		t.Fatalf("touched session: %v", err)
	}
	touched.Seen = t0.Add(24 * time.Hour).Unix()
	tv, _ = m.Seal(CookieName, touched)
	if _, err := m.Open(req(CookieName, tv), false, t0.Add(24*time.Hour)); !errors.Is(err, ErrExpired) {
		t.Fatalf("absolute expiry: %v", err)
	}
	rev[s.ID] = true
	if _, err := m.Open(req(CookieName, v), false, t0); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked: %v", err)
	}
	if _, err := m.Open(req("nope", v), false, t0); !errors.Is(err, ErrNoSession) {
		t.Fatalf("no cookie: %v", err)
	}
}

func TestTamperedAndMovedCookiesFail(t *testing.T) {
	m := newManager(t, nil)
	_, v := sealed(t, m, CookieName)
	b := []byte(v)
	for i := 0; i < len(b); i += 7 {
		c := append([]byte(nil), b...)
		if c[i] == 'A' {
			c[i] = 'B'
		} else {
			c[i] = 'A'
		}
		if _, err := m.Unseal(CookieName, string(c)); !errors.Is(err, ErrTampered) {
			t.Fatalf("flip at %d: %v", i, err)
		}
	}
	// A value sealed for one cookie name does not open under another.
	if _, err := m.Unseal(SecureCookieName, v); !errors.Is(err, ErrTampered) {
		t.Fatalf("moved cookie: %v", err)
	}
	// A cookie sealed by a key nobody has any more does not open.
	other := newManager(t, nil, Key{ID: 2, Secret: bytes.Repeat([]byte{2}, 32)})
	if _, err := other.Unseal(CookieName, v); !errors.Is(err, ErrTampered) {
		t.Fatalf("foreign key: %v", err)
	}
}

func TestRotationKeepsOldCookiesValid(t *testing.T) {
	old := Key{ID: 1, Secret: bytes.Repeat([]byte{1}, 32)}
	m1 := newManager(t, nil, old)
	_, v := sealed(t, m1, CookieName)
	m2 := newManager(t, nil, Key{ID: 9, Secret: bytes.Repeat([]byte{9}, 32)}, old)
	if _, err := m2.Unseal(CookieName, v); err != nil {
		t.Fatalf("old cookie after rotation: %v", err)
	}
	_, v2 := sealed(t, m2, CookieName)
	if _, err := m1.Unseal(CookieName, v2); err == nil {
		t.Fatal("new key sealed, yet the old-only manager opened it")
	}
}

func TestCookieAttributesAndSize(t *testing.T) {
	m := newManager(t, nil)
	s, v := sealed(t, m, SecureCookieName)
	c := m.Cookie(true, v, s, t0)
	if c.Name != "__Host-idgate_session" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
		t.Fatalf("secure cookie = %+v", c)
	}
	if c := m.Cookie(false, v, s, t0); c.Name != "idgate_session" || c.Secure {
		t.Fatalf("plain cookie = %+v", c)
	}
	// Every profile claim filled to a realistic size still fits one cookie.
	big := map[string]string{}
	for _, k := range identity.ProfileClaims {
		big[k] = strings.Repeat("가", 30)
	}
	s.Claims = big
	v, err := m.Seal(SecureCookieName, s)
	if err != nil || len(v) > 4000 {
		t.Fatalf("full session: %d bytes, %v", len(v), err)
	}
	s.Claims = map[string]string{"name": strings.Repeat("x", 5000)}
	if _, err := m.Seal(SecureCookieName, s); err == nil {
		t.Fatal("an oversized session was sealed")
	}
}

// zeros is a deterministic randomness source, so every fuzz worker seals the same value.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0
	}
	return len(p), nil
}

func FuzzCookieOpen(f *testing.F) {
	m := newManager(f, nil)
	m.Rand = zeros{}
	_, v := sealed(f, m, CookieName)
	f.Add(v)
	f.Add("")
	f.Add("AAAA")
	f.Add(strings.Repeat("A", 5000))
	f.Fuzz(func(t *testing.T, value string) {
		s, err := m.Unseal(CookieName, value)
		if err == nil && value != v {
			t.Fatalf("forged value %q opened as %+v", value, s)
		}
	})
}

func BenchmarkOpen(b *testing.B) {
	m := newManager(b, revoked{})
	_, v := sealed(b, m, CookieName)
	r := req(CookieName, v)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := m.Open(r, false, t0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnsealCold(b *testing.B) {
	m := newManager(b, nil)
	_, v := sealed(b, m, CookieName)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := m.Unseal(CookieName, v); err != nil {
			b.Fatal(err)
		}
	}
}

func TestOpenedCacheIsBoundToTheCookieName(t *testing.T) {
	m := newManager(t, nil)
	_, v := sealed(t, m, CookieName)
	if _, err := m.Open(req(CookieName, v), false, t0); err != nil {
		t.Fatal(err)
	}
	// Once opened (and cached) as idgate_session, the same value under the __Host- name is not a
	// session: the cache must not skip the AEAD's binding to the name.
	if _, err := m.Open(req(SecureCookieName, v), true, t0); !errors.Is(err, ErrTampered) {
		t.Fatalf("a value sealed for %s opened as %s: %v", CookieName, SecureCookieName, err)
	}
}
