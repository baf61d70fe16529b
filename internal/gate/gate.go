// Package gate decides, for one request, whether it may reach the upstream: it strips identity
// headers the client sent, picks the policy, opens the session, evaluates the policy and, when it
// is met, builds the assertion and the headers to forward.
//
// It does no network or disk I/O: the session is in the cookie, revocations and assertions come
// from in-memory views. It writes nothing to the response; the caller turns a Result into a
// challenge (portal.Challenge) or into headers and placeholders.
package gate

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/idgate/idgate/internal/assertion"
	"github.com/idgate/idgate/internal/identity"
	"github.com/idgate/idgate/internal/session"
	"github.com/idgate/idgate/policy"
)

// AssertionHeader carries the signed identity to the upstream.
const AssertionHeader = "X-Idgate-Assertion"

// StripIdentityHeaders deletes every X-Idgate-* header and every header a policy forwards, and
// every alias of one: a name that equals it once "_" and "." are read as "-" and case is folded.
//
// Why: the upstream trusts these headers; a client must never be able to set one, even on a path
// whose policy does not forward it or when the claim it maps is absent. CGI-style upstreams (PHP's
// HTTP_X_USER_ID) read "X_User_Id" and "X-User-Id" as the same header, and Caddy forwards
// underscore names when `expected_underscore_headers` is set, so aliases go too.
func StripIdentityHeaders(h http.Header, forwarded []string) {
	for k := range h {
		if isIdentityName(k, forwarded) {
			delete(h, k)
		}
	}
}

// isIdentityName reports whether k names (or aliases) an identity or forwarded header.
func isIdentityName(k string, forwarded []string) bool {
	if len(k) >= 9 && aliasEq(k[:9], "x-idgate-") {
		return true
	}
	for _, f := range forwarded {
		if len(f) == len(k) && aliasEq(k, f) {
			return true
		}
	}
	return false
}

// aliasEq compares two header names of equal length, folding case and reading "_" and "." as "-".
func aliasEq(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		} else if x == '_' || x == '.' {
			x = '-'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		} else if y == '_' || y == '.' {
			y = '-'
		}
		if x != y {
			return false
		}
	}
	return true
}

// StripIdentityTrailers does for r's trailers what StripIdentityHeaders does for its headers:
// it deletes the declared ones now and wraps the body so that those a client sends at the end of
// it (declared or not: net/http merges them all) are deleted as the body reaches EOF, before a
// proxy copies them. It costs nothing for a request that declares no trailer (net/http then has
// nowhere shared to put them, and Caddy's reverse_proxy forwards none).
func StripIdentityTrailers(r *http.Request, forwarded []string) {
	if r.Trailer == nil || r.Body == nil {
		return
	}
	StripIdentityHeaders(r.Trailer, forwarded)
	r.Body = &trailerStripper{ReadCloser: r.Body, trailer: r.Trailer, forwarded: forwarded}
}

type trailerStripper struct {
	io.ReadCloser
	trailer   http.Header
	forwarded []string
}

func (t *trailerStripper) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if err == io.EOF {
		StripIdentityHeaders(t.trailer, t.forwarded)
	}
	return n, err
}

// StripOwnCookies removes idgate's own cookies (the session and the login binding) from the
// request before it is proxied.
//
// Why: the upstream never needs them, and a session cookie in an app's logs or in the hands of
// an app-level XSS is a stolen session. It also keeps the upstream request small.
func StripOwnCookies(h http.Header) {
	lines := h["Cookie"]
	if len(lines) == 0 {
		return
	}
	found := false
	for _, l := range lines {
		if strings.Contains(l, "idgate_") {
			found = true
			break
		}
	}
	if !found {
		return
	}
	// Common case: the only cookie is idgate's session.
	if len(lines) == 1 && !strings.Contains(lines[0], ";") {
		name, _, _ := strings.Cut(strings.TrimSpace(lines[0]), "=")
		switch name {
		case "idgate_session", "__Host-idgate_session", "idgate_state", "__Host-idgate_state":
			delete(h, "Cookie")
			return
		}
	}
	var kept []string
	for _, l := range lines {
		for _, part := range strings.Split(l, ";") {
			part = strings.TrimSpace(part)
			name, _, _ := strings.Cut(part, "=")
			switch name {
			case "idgate_session", "__Host-idgate_session", "idgate_state", "__Host-idgate_state", "":
				continue
			}
			kept = append(kept, part)
		}
	}
	if len(kept) == 0 {
		delete(h, "Cookie")
		return
	}
	h["Cookie"] = []string{strings.Join(kept, "; ")}
}

// Gate holds what a decision needs. Fields are set once; it is safe for concurrent use.
type Gate struct {
	Policies *policy.Set
	Sessions *session.Manager
	// Assertions signs; replace it with SetIssuer while serving (key rotation).
	Assertions *assertion.Issuer
	issuer     atomic.Pointer[assertion.Issuer]
	// Issuer and Audience of assertions; empty means the request's origin.
	Issuer, Audience string
	// MaxOrigins bounds the distinct origins (Host and scheme) assertions are built for within
	// ten minutes when Issuer or Audience derive from the origin. Default: 256.
	MaxOrigins int

	originsMu sync.Mutex
	origins   map[string]int64 // origin → last use (Unix seconds)
}

// admitOrigin reports whether assertions may be built for origin org at now.
//
// Why: with an origin-derived issuer or audience every Host value is a cache key and a signature;
// a client sending thousands of Host values would otherwise make the server keep and sign that
// many. Only the slow path (no remembered forward) calls it.
func (g *Gate) admitOrigin(org string, now time.Time) bool {
	max := g.MaxOrigins
	if max <= 0 {
		max = 256
	}
	t := now.Unix()
	g.originsMu.Lock()
	defer g.originsMu.Unlock()
	if g.origins == nil {
		g.origins = map[string]int64{}
	}
	if _, ok := g.origins[org]; ok {
		g.origins[org] = t
		return true
	}
	if len(g.origins) >= max {
		for k, seen := range g.origins {
			if t-seen > 600 {
				delete(g.origins, k)
			}
		}
		if len(g.origins) >= max {
			return false
		}
	}
	g.origins[org] = t
	return true
}

// SetIssuer switches to a new assertion issuer (after a key rotation). Safe while serving.
func (g *Gate) SetIssuer(i *assertion.Issuer) { g.issuer.Store(i) }

// CurrentIssuer returns the current issuer.
func (g *Gate) CurrentIssuer() *assertion.Issuer {
	if i := g.issuer.Load(); i != nil {
		return i
	}
	return g.Assertions
}

// Result is the outcome for one request.
type Result struct {
	Policy   *policy.Policy
	Decision policy.Decision
	// Session is the opened session, nil when anonymous or when the policy is public.
	Session *session.Session
	// Cookie, when set, MUST be sent: a renewed idle timer or the deletion of a dead cookie.
	Cookie *http.Cookie
	// Headers to set on the upstream request (already stripped). Shared with other requests of
	// the same session: read only.
	Headers [][2]string
	// facts met, for Claim.
	facts map[string]any
	// Err is set when the assertion could not be signed; the caller fails with 500.
	Err error
	// Refused, when set, is a refusal code the caller answers with instead of forwarding
	// (unknown_site: too many distinct origins).
	Refused string
}

// Decide evaluates r. explicit, when non-nil, is the directive's policy and bypasses matching.
// The caller MUST have stripped identity headers first.
func (g *Gate) Decide(r *http.Request, explicit *policy.Policy, now time.Time) Result {
	pol := explicit
	if pol == nil {
		pol = g.Policies.Match(r.URL.Path)
	}
	res := Result{Policy: pol}
	if pol == nil {
		res.Decision = policy.Decision{Reason: policy.ReasonNoPolicy}
		return res
	}
	if !pol.AllowsMethod(r.Method) {
		res.Decision = policy.Decision{Reason: policy.ReasonMethodNotAllowed}
		return res
	}
	if pol.Public {
		res.Decision = policy.Decision{Met: true, Reason: policy.ReasonPublic}
		return res
	}
	secure := r.TLS != nil
	s, err := g.Sessions.Open(r, secure, now)
	switch err {
	case nil:
		res.Session = s
	case session.ErrNoSession:
	default:
		// Tampered, expired or revoked: treat as anonymous and drop the dead cookie.
		res.Cookie = session.ClearCookie(secure)
	}
	var id *identity.Identity
	if s != nil {
		id = &s.Identity
	}
	res.Decision = policy.Evaluate(pol, id, now)
	if !res.Decision.Met {
		return res
	}
	if g.Sessions.NeedsTouch(s, now) {
		t := s.Clone()
		t.Seen = now.Unix()
		if v, err := g.Sessions.Seal(session.Name(secure), t); err == nil {
			res.Cookie = g.Sessions.Cookie(secure, v, t, now)
		}
	}
	g.forward(r, pol, s, now, &res)
	return res
}

// facts returns the verification facts the policy required and the session met, with their times.
func facts(pol *policy.Policy, s *session.Session, d policy.Decision) map[string]any {
	r := pol.Require
	if r.Phone == nil && r.Document == nil && r.Adult == nil && r.MFA == nil {
		return nil // login-only policies: no allocation on the hot path
	}
	out := map[string]any{}
	if pol.Require.Phone != nil {
		if v := s.Latest(identity.KindPhone); v != nil {
			out["phone_verified_at"] = v.At
		}
	}
	if pol.Require.Document != nil {
		if v := s.Latest(identity.KindDocument); v != nil {
			out["document_verified_at"] = v.At
		}
	}
	if pol.Require.Adult != nil && d.AdultBy != nil {
		out["adult"] = true
		out["adult_verified_at"] = d.AdultBy.At
	}
	if pol.Require.MFA != nil && s.MFA != nil {
		out["mfa_at"] = s.MFA.At
	}
	return out
}

// claimValue returns a claim of s as a string for headers and placeholders.
func claimValue(pol *policy.Policy, s *session.Session, fs map[string]any, c string) (string, bool) {
	if v, ok := fs[c]; ok {
		switch x := v.(type) {
		case int64:
			return strconv.FormatInt(x, 10), true
		case bool:
			return strconv.FormatBool(x), true
		}
	}
	switch c {
	case "sub":
		return s.Subject, true
	case "provider":
		return s.Provider, true
	case "auth_time":
		return strconv.FormatInt(s.AuthTime, 10), true
	case "amr":
		return strings.Join(amrOf(s), ","), true
	case "policy":
		return pol.Name, true
	}
	v, ok := s.Claims[c]
	return v, ok && v != "" && safeHeaderValue(v)
}

// amrOf lists the authentication methods of s: the login provider, then "mfa" and the step-up
// method when there was one. Never nil.
func amrOf(s *session.Session) []string {
	amr := append([]string{}, s.AMR...)
	if s.MFA != nil {
		amr = append(amr, "mfa", s.MFA.Method)
	}
	return amr
}

// safeHeaderValue refuses control characters, which no header may carry.
func safeHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 && v[i] != '\t' || v[i] == 0x7f {
			return false
		}
	}
	return true
}

// forwarded is what forward last built for one opened session (kept in its session.Memo): the
// next request of that session under the same policy, origin and signing key reuses it until the
// assertion it carries is due to be signed anew, without the shared assertion cache. It is shared
// by concurrent requests and never modified.
type forwarded struct {
	pol     *policy.Policy
	issuer  *assertion.Issuer
	host    string // the origin, when the assertion's issuer or audience derive from it
	tls     bool
	until   int64 // UnixNano; the shared cache serves the same assertion until then
	headers [][2]string
	facts   map[string]any
}

func (g *Gate) forward(r *http.Request, pol *policy.Policy, s *session.Session, now time.Time, res *Result) {
	signer := g.CurrentIssuer()
	byOrigin := g.Issuer == "" || g.Audience == ""
	memo := s.Memo()
	if memo != nil {
		if f, _ := memo.Load().(*forwarded); f != nil && f.pol == pol && f.issuer == signer && now.UnixNano() < f.until &&
			(!byOrigin || f.host == r.Host && f.tls == (r.TLS != nil)) {
			res.Headers, res.facts = f.headers, f.facts
			return
		}
	}
	fs := facts(pol, s, res.Decision)
	k := assertion.Key{Session: s.CacheKey(), Policy: pol.Name}
	if byOrigin {
		// Issuer or audience default to the request's origin, which is then part of the key.
		k.Host, k.TLS = r.Host, r.TLS != nil
		org := r.Host
		if k.TLS {
			org += "|tls"
		}
		if !g.admitOrigin(org, now) {
			res.Refused = "unknown_site"
			return
		}
	}
	tok, exp, err := signer.Assertion(k, now, func() (jwt.MapClaims, string, string) {
		org := "http://" + r.Host
		if r.TLS != nil {
			org = "https://" + r.Host
		}
		iss, aud := g.Issuer, g.Audience
		if iss == "" {
			iss = org
		}
		if aud == "" {
			aud = org
		}
		c := jwt.MapClaims{"sub": s.Subject, "provider": s.Provider, "auth_time": s.AuthTime, "amr": amrOf(s), "policy": pol.Name}
		for k, v := range fs {
			c[k] = v
		}
		for _, name := range pol.Forward.Claims {
			if _, isFact := fs[name]; isFact {
				continue
			}
			if v, ok := claimValue(pol, s, fs, name); ok {
				c[name] = v
			}
		}
		return c, iss, aud
	})
	if err != nil {
		res.Err = err
		return
	}
	res.Headers = make([][2]string, 0, 1+len(pol.Forward.Headers))
	res.Headers = append(res.Headers, [2]string{AssertionHeader, tok})
	for _, h := range pol.Forward.Headers {
		if v, ok := claimValue(pol, s, fs, h.Claim); ok {
			res.Headers = append(res.Headers, [2]string{h.Name, v})
		}
	}
	res.facts = fs
	if memo != nil {
		f := &forwarded{pol: pol, issuer: signer, until: signer.Fresh(exp).UnixNano(), headers: res.Headers, facts: fs}
		if byOrigin {
			f.host, f.tls = r.Host, r.TLS != nil
		}
		memo.Store(f)
	}
}

// Claim returns a claim the upstream may see (the base claims, the facts the policy required and
// the claims it lists), for placeholders. It is computed on demand, so requests whose
// configuration uses no placeholder pay nothing.
func (res *Result) Claim(name string) (string, bool) { return res.Claims().Claim(name) }

// Claims returns what Claim needs, small enough to keep per request for lazy placeholders.
func (res *Result) Claims() Claims {
	return Claims{pol: res.Policy, s: res.Session, facts: res.facts}
}

// Claims resolves the claims of one allowed request; see Result.Claim.
type Claims struct {
	pol   *policy.Policy
	s     *session.Session
	facts map[string]any
}

// Claim is Result.Claim.
func (c Claims) Claim(name string) (string, bool) {
	if c.s == nil || c.pol == nil {
		return "", false
	}
	allowed := contains(policy.BaseClaims, name) || contains(c.pol.Forward.Claims, name)
	if _, ok := c.facts[name]; ok {
		allowed = true
	}
	if !allowed {
		return "", false
	}
	return claimValue(c.pol, c.s, c.facts, name)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
