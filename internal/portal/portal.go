// Package portal serves idgate's endpoints under /.idgate/ (login, provider callbacks, logout,
// session, JWKS) as a JSON API with HTML pages on top, and writes challenges for gated requests.
//
// It owns the OAuth state (random, bound to the browser by a cookie, single use, short lived) and
// turns provider errors into pages and stable JSON codes. It never logs tokens, codes or profile
// data; subjects appear in logs only as keyed hashes.
package portal

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/idgate/idgate/internal/identity"
	"github.com/idgate/idgate/internal/session"
	"github.com/idgate/idgate/internal/store"
	"github.com/idgate/idgate/policy"
	"github.com/idgate/idgate/providers"
	"go.uber.org/zap"
)

// Prefix is where the portal lives on every gated site.
const Prefix = "/.idgate/"

//go:embed html/pages.html
var pagesFS embed.FS

var pages = template.Must(template.ParseFS(pagesFS, "html/pages.html"))

// LoginProvider is a login provider as the portal uses it.
type LoginProvider interface {
	Name() string
	AuthURL(ctx context.Context, req providers.AuthRequest) (string, error)
	Exchange(ctx context.Context, cb providers.Callback) (*identity.Login, error)
}

// pkceProvider is implemented by providers that may not support PKCE and nonce.
type pkceProvider interface{ UsesPKCE() bool }

// PolicyMatcher finds the policy of a path (to list the providers a login page offers).
type PolicyMatcher interface {
	Match(path string) *policy.Policy
}

// Revoker records a revoked session until its expiry.
type Revoker interface {
	Revoke(ctx context.Context, id string, until time.Time) error
}

// ProviderInfo describes a configured login provider for the login page.
type ProviderInfo struct {
	Provider LoginProvider
	// Label is the display name for generic providers ("Google"); Naver and Kakao use their brand text.
	Label string
	// Style is "naver", "kakao" or "" (neutral button).
	Style string
}

// Portal serves /.idgate/*. Create it with all fields set; it is safe for concurrent use.
type Portal struct {
	Providers   map[string]ProviderInfo
	Order       []string // display order of Providers
	Sessions    *session.Manager
	States      store.Ephemeral
	Revocations Revoker
	Policies    PolicyMatcher
	// KeepClaims filters profile claims before they are sealed into the session.
	KeepClaims func(map[string]string) map[string]string
	// JWKS returns the current JSON Web Key Set.
	JWKS func() []byte
	// SubjectHash returns a keyed hash of a subject for logs.
	SubjectHash func(string) string
	Logger      *zap.Logger
	Now         func() time.Time
	Rand        io.Reader
	// StateTTL bounds how long a login may take. Default: 10 minutes.
	StateTTL time.Duration
	// ProviderTimeout bounds each provider call. Default: 15 seconds.
	ProviderTimeout time.Duration
	// LoginRate bounds logins started per client address per 10 minutes (each keeps state
	// server-side until it completes or expires). Default: 300; negative disables.
	LoginRate int
	// LoginLimit bounds logins started per 10 minutes from all addresses together, so that many
	// addresses cannot fill the store either. Default: 10000; negative disables.
	LoginLimit int
	// StateKey authenticates the login-binding cookie, so that only a value idgate issued is
	// accepted. It MUST be secret; the same on every instance.
	StateKey []byte
	// Verify enables phone verification (nil: no verification endpoints).
	Verify *Verification
	// MFA enables step-up (nil: no /.idgate/mfa endpoints).
	MFA *MFA
}

// stateRecord is what the portal keeps server-side for one login in flight.
type stateRecord struct {
	Provider string `json:"p"`
	RD       string `json:"rd"`
	Nonce    string `json:"n,omitempty"`
	Verifier string `json:"v,omitempty"`
	Binding  []byte `json:"b"`
	Redirect string `json:"r"`
}

func (p *Portal) stateTTL() time.Duration {
	if p.StateTTL > 0 {
		return p.StateTTL
	}
	return 10 * time.Minute
}

func secure(r *http.Request) bool { return r.TLS != nil }

func bindingCookieName(sec bool) string {
	if sec {
		return "__Host-idgate_state"
	}
	return "idgate_state"
}

// ServeHTTP serves a request whose path starts with Prefix.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "same-origin")
	rest := strings.TrimPrefix(r.URL.Path, Prefix)
	switch {
	case rest == "login":
		p.allow(w, r, p.login, http.MethodGet, http.MethodHead)
	case strings.HasPrefix(rest, "callback/"):
		p.allow(w, r, func(w http.ResponseWriter, r *http.Request) { p.callback(w, r, strings.TrimPrefix(rest, "callback/")) }, http.MethodGet)
	case rest == "logout":
		p.allow(w, r, p.logout, http.MethodGet, http.MethodPost)
	case rest == "verify" || rest == "verify/phone":
		p.allow(w, r, p.verifyPage, http.MethodGet, http.MethodHead)
	case rest == "verify/portone/start" && p.Verify != nil && p.Verify.PortOne != nil:
		p.allow(w, r, p.portoneStart, http.MethodPost)
	case rest == "verify/portone/complete" && p.Verify != nil && p.Verify.PortOne != nil:
		p.allow(w, r, p.portoneComplete, http.MethodPost)
	case rest == "verify/portone/return" && p.Verify != nil && p.Verify.PortOne != nil:
		p.allow(w, r, p.portoneReturn, http.MethodGet)
	case rest == "verify/stripe/start" && p.stripeEnabled():
		p.allow(w, r, p.stripeStart, http.MethodPost)
	case rest == "verify/stripe/return" && p.stripeEnabled():
		p.allow(w, r, p.stripeReturn, http.MethodGet)
	case rest == "webhooks/stripe" && p.stripeEnabled():
		p.allow(w, r, p.stripeWebhook, http.MethodPost)
	case rest == "mfa":
		p.allow(w, r, p.mfaPage, http.MethodGet, http.MethodHead)
	case rest == "mfa/totp/enroll":
		p.allow(w, r, p.totpEnroll, http.MethodPost)
	case rest == "mfa/totp/confirm":
		p.allow(w, r, p.totpConfirm, http.MethodPost)
	case rest == "mfa/totp/verify":
		p.allow(w, r, p.totpVerify, http.MethodPost)
	case rest == "mfa/totp/remove":
		p.allow(w, r, p.totpRemove, http.MethodPost)
	case rest == "mfa/recovery":
		p.allow(w, r, p.recoveryVerify, http.MethodPost)
	case rest == "mfa/otp/send":
		p.allow(w, r, p.otpSend, http.MethodPost)
	case rest == "mfa/otp/verify":
		p.allow(w, r, p.otpVerify, http.MethodPost)
	case rest == "mfa/recaptcha/start":
		p.allow(w, r, p.recaptchaStart, http.MethodPost)
	case rest == "mfa/recaptcha/verify":
		p.allow(w, r, p.recaptchaVerify, http.MethodPost)
	case rest == "session":
		p.allow(w, r, p.session, http.MethodGet, http.MethodHead)
	case rest == "jwks.json":
		p.allow(w, r, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "public, max-age=300")
			w.Write(p.JWKS())
		}, http.MethodGet, http.MethodHead)
	default:
		p.fail(w, r, "not_found", "", nil)
	}
}

func (p *Portal) allow(w http.ResponseWriter, r *http.Request, h http.HandlerFunc, methods ...string) {
	for _, m := range methods {
		if r.Method == m {
			h(w, r)
			return
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	p.fail(w, r, "method_not_allowed", "", nil)
}

// wantsJSON reports whether the client is an API client rather than a browser navigation.
func wantsJSON(r *http.Request) bool {
	if mode := r.Header.Get("Sec-Fetch-Mode"); mode != "" && mode != "navigate" {
		return true
	}
	if r.Header.Get("X-Requested-With") != "" {
		return true
	}
	accept := r.Header.Get("Accept")
	if strings.Contains(accept, "text/html") {
		return false
	}
	return strings.Contains(accept, "json") || r.Method != http.MethodGet && r.Method != http.MethodHead || accept != ""
}

type providerLink struct {
	Name, Label, Style, URL string
}

func (p *Portal) loginLinks(l, rd string) []providerLink {
	pol := p.Policies.Match(pathOnly(rd))
	var out []providerLink
	for _, name := range p.Order {
		if pol != nil && !pol.Public && !pol.Accepts(name) {
			continue
		}
		info := p.Providers[name]
		label := fmt.Sprintf(labels["other_button"].in(l), info.Label)
		switch info.Style {
		case "naver":
			label = labels["naver_button"].in(l)
		case "kakao":
			label = labels["kakao_button"].in(l)
		}
		out = append(out, providerLink{Name: name, Label: label, Style: info.Style,
			URL: Prefix + "login?" + url.Values{"provider": {name}, "rd": {rd}}.Encode()})
	}
	return out
}

// providerLabel is a provider's name for people: 네이버/Naver, 카카오/Kakao, else its label.
func (p *Portal) providerLabel(name string) string {
	switch info := p.Providers[name]; info.Style {
	case "naver":
		return "NAVER"
	case "kakao":
		return "Kakao"
	default:
		if info.Label != "" {
			return info.Label
		}
		return name
	}
}

func pathOnly(rd string) string {
	path, _, _ := strings.Cut(rd, "?")
	if u, err := url.PathUnescape(path); err == nil {
		return u
	}
	return path
}

func (p *Portal) login(w http.ResponseWriter, r *http.Request) {
	rd, _ := SafeRedirect(r.URL.Query().Get("rd"))
	name := r.URL.Query().Get("provider")
	l := lang(r)
	if name == "" {
		links := p.loginLinks(l, rd)
		if wantsJSON(r) {
			out := []map[string]string{}
			for _, k := range links {
				out = append(out, map[string]string{"name": k.Name, "label": k.Label, "login_url": k.URL})
			}
			writeJSON(w, http.StatusOK, map[string]any{"providers": out, "rd": rd})
			return
		}
		// Someone signed in with a provider this page does not accept (a Kakao user on a
		// Naver-only page) is told so, with the accepted logins, not a generic "please log in".
		code, detail := "", ""
		if sess, err := p.Sessions.Open(r, secure(r), p.Now()); err == nil {
			if pol := p.Policies.Match(pathOnly(rd)); pol != nil && !pol.Public && !pol.Accepts(sess.Provider) {
				code = "provider_not_accepted"
				var names []string
				for _, k := range links {
					names = append(names, p.providerLabel(k.Name))
				}
				detail = fmt.Sprintf(labels["accepts_only"].in(l), strings.Join(names, ", "))
			}
		}
		p.render(w, http.StatusOK, "login", p.pageData(l, code, labels["login_title"].in(l), map[string]any{"Providers": links, "Detail": detail}))
		return
	}
	info, ok := p.Providers[name]
	if !ok {
		p.fail(w, r, "unknown_provider", rd, nil)
		return
	}
	if pol := p.Policies.Match(pathOnly(rd)); pol != nil && !pol.Public && !pol.Accepts(name) {
		p.fail(w, r, "provider_not_accepted", rd, nil)
		return
	}
	allowed, err := p.allowLogin(r)
	if err != nil {
		// The store is down or slow: it cannot keep this login's state either.
		p.fail(w, r, "store_unavailable", rd, err)
		return
	}
	if !allowed {
		p.Logger.Warn("login rate exceeded", zap.String("event", "login_rate_limited"))
		w.Header().Set("Retry-After", "600")
		p.fail(w, r, "too_many_logins", rd, nil)
		return
	}
	sec := secure(r)
	bind, fresh, err := p.binding(r, sec)
	if err != nil {
		p.fail(w, r, "store_unavailable", rd, err)
		return
	}
	state, err := session.RandomID(p.rand(), 32)
	if err != nil {
		p.fail(w, r, "store_unavailable", rd, err)
		return
	}
	rec := stateRecord{Provider: name, RD: rd, Redirect: origin(r) + Prefix + "callback/" + name}
	sum := sha256.Sum256([]byte(bind))
	rec.Binding = sum[:]
	if pk, ok := info.Provider.(pkceProvider); !ok || pk.UsesPKCE() {
		if rec.Nonce, err = session.RandomID(p.rand(), 24); err == nil {
			rec.Verifier, err = session.RandomID(p.rand(), 48)
		}
		if err != nil {
			p.fail(w, r, "store_unavailable", rd, err)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.providerTimeout())
	defer cancel()
	authURL, err := info.Provider.AuthURL(ctx, providers.AuthRequest{State: state, Nonce: rec.Nonce, CodeVerifier: rec.Verifier, RedirectURI: rec.Redirect})
	if err != nil {
		p.providerFail(w, r, name, rd, err)
		return
	}
	data, _ := json.Marshal(rec)
	if err := p.States.Put(r.Context(), "state:"+state, data, p.stateTTL()); err != nil {
		p.fail(w, r, "store_unavailable", rd, err)
		return
	}
	if fresh {
		http.SetCookie(w, &http.Cookie{Name: bindingCookieName(sec), Value: bind, Path: "/", HttpOnly: true, Secure: sec,
			SameSite: http.SameSiteLaxMode, MaxAge: int(p.stateTTL() / time.Second)})
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]string{"authorize_url": authURL})
		return
	}
	http.Redirect(w, r, authURL, http.StatusFound)
}

// allowLogin counts a login start for the client address and for all addresses together (a
// botnet must not fill the store either). Why: each start keeps an OAuth state
// server-side for 10 minutes; without a bound one client could fill the store.
// A store failure is returned: the login could not keep its state anyway, and failing here
// spares a second store timeout.
func (p *Portal) allowLogin(r *http.Request) (bool, error) {
	for _, b := range []struct {
		key   string
		limit int
	}{{"loginrate:" + ClientIP(r), orDefault(p.LoginRate, 300)}, {"loginrate:*", orDefault(p.LoginLimit, 10000)}} {
		if b.limit < 0 {
			continue
		}
		n, err := p.States.Incr(r.Context(), b.key, p.stateTTL())
		if err != nil || n > int64(b.limit) {
			return false, err
		}
	}
	return true, nil
}

func orDefault(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

type clientIPKey struct{}

// WithClientIP records the client address the server determined (Caddy's client_ip, which
// honours trusted_proxies) for the portal's per-client bounds.
func WithClientIP(r *http.Request, ip string) *http.Request {
	if ip == "" {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), clientIPKey{}, ip))
}

// ClientIP returns the address recorded by WithClientIP, else the connection's.
func ClientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientIPKey{}).(string); ok {
		return ip
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// binding returns the browser's login-binding secret, creating one when absent or not one idgate
// issued. Several logins in flight in one browser (tabs) share it; each has its own state.
//
// Why the MAC: a value the client chose (planted over plain HTTP or from a sibling domain) must
// never become a binding, or an attacker could bind a victim's browser to the attacker's login.
func (p *Portal) binding(r *http.Request, sec bool) (string, bool, error) {
	if c, err := r.Cookie(bindingCookieName(sec)); err == nil && p.bindingValid(c.Value, sec) {
		return c.Value, false, nil
	}
	v, err := session.RandomID(p.rand(), 24)
	if err != nil {
		return "", false, err
	}
	return v + "." + p.bindingMAC(v, sec), true, nil
}

// processStateKey keys bindings when Portal.StateKey is unset (a single process, tests).
var processStateKey = func() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}()

func (p *Portal) stateKey() []byte {
	if len(p.StateKey) > 0 {
		return p.StateKey
	}
	return processStateKey
}

func (p *Portal) bindingMAC(v string, sec bool) string {
	m := hmac.New(sha256.New, p.stateKey())
	m.Write([]byte(bindingCookieName(sec)))
	m.Write([]byte{0})
	m.Write([]byte(v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// bindingValid reports whether value is a binding idgate issued for this cookie name.
func (p *Portal) bindingValid(value string, sec bool) bool {
	v, mac, ok := strings.Cut(value, ".")
	if !ok || len(v) != 32 || len(value) > 64 {
		return false
	}
	return hmac.Equal([]byte(mac), []byte(p.bindingMAC(v, sec)))
}

func (p *Portal) callback(w http.ResponseWriter, r *http.Request, name string) {
	q := r.URL.Query()
	info, ok := p.Providers[name]
	if !ok {
		p.fail(w, r, "unknown_provider", "/", nil)
		return
	}
	state := q.Get("state")
	if state == "" || len(state) > 128 {
		p.fail(w, r, "state_invalid", "/", nil)
		return
	}
	// Take makes the state single use: a replayed callback finds nothing.
	data, found, err := p.States.Take(r.Context(), "state:"+state)
	if err != nil {
		p.fail(w, r, "store_unavailable", "/", err)
		return
	}
	var rec stateRecord
	if !found || json.Unmarshal(data, &rec) != nil || rec.Provider != name {
		p.fail(w, r, "state_invalid", "/", nil)
		return
	}
	sec := secure(r)
	c, err := r.Cookie(bindingCookieName(sec))
	if err != nil || !p.bindingValid(c.Value, sec) {
		p.fail(w, r, "state_mismatch", rec.RD, nil)
		return
	}
	sum := sha256.Sum256([]byte(c.Value))
	if subtle.ConstantTimeCompare(sum[:], rec.Binding) != 1 {
		p.fail(w, r, "state_mismatch", rec.RD, nil)
		return
	}
	if e := q.Get("error"); e != "" {
		p.providerFail(w, r, name, rec.RD, providers.CallbackError(name, e, q.Get("error_description")))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.providerTimeout())
	defer cancel()
	login, err := info.Provider.Exchange(ctx, providers.Callback{Code: q.Get("code"), State: state, RedirectURI: rec.Redirect, Nonce: rec.Nonce, CodeVerifier: rec.Verifier})
	if err != nil {
		p.providerFail(w, r, name, rec.RD, err)
		return
	}
	// A subject is forwarded in headers and assertions: one with control characters (an OIDC
	// sub with CR/LF) or beyond 255 bytes is refused here, never passed on. Profile claims with
	// control characters are dropped.
	if !cleanText(login.Subject, 255) {
		p.providerFail(w, r, name, rec.RD, &providers.Error{Provider: name, Code: providers.CodeBadResponse, Err: errors.New("subject with control characters or too long")})
		return
	}
	for k, v := range login.Claims {
		if !cleanText(v, 1024) {
			delete(login.Claims, k)
		}
	}
	now := p.Now()
	// A new login replaces any previous session in this browser; the old one is revoked.
	if old, err := p.Sessions.Open(r, sec, now); err == nil {
		_ = p.Revocations.Revoke(r.Context(), old.ID, time.Unix(old.Expires, 0))
	}
	id := identity.Identity{
		Subject: login.Subject, Provider: login.Provider, AuthTime: login.AuthTime.Unix(),
		AMR: login.AMR, Claims: p.KeepClaims(login.Claims),
	}
	p.loadRecord(r.Context(), &id)
	p.loadContacts(r.Context(), login.Claims, login.Subject)
	s, err := p.Sessions.New(id, now)
	if err != nil {
		p.fail(w, r, "store_unavailable", rec.RD, err)
		return
	}
	v, err := p.Sessions.Seal(session.Name(sec), s)
	if err != nil {
		p.fail(w, r, "store_unavailable", rec.RD, err)
		return
	}
	http.SetCookie(w, p.Sessions.Cookie(sec, v, s, now))
	p.Logger.Info("login", zap.String("event", "login"), zap.String("provider", name), zap.String("subject_hash", p.SubjectHash(login.Subject)))
	http.Redirect(w, r, rec.RD, http.StatusFound)
}

// cleanText reports whether s is valid UTF-8 of at most max bytes without control characters.
func cleanText(s string, max int) bool {
	if s == "" || len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f || c >= 0x80 && c < 0xa0 || c == 0x2028 || c == 0x2029 {
			return false
		}
	}
	return true
}

func (p *Portal) logout(w http.ResponseWriter, r *http.Request) {
	sec := secure(r)
	now := p.Now()
	s, err := p.Sessions.Open(r, sec, now)
	signedIn := err == nil
	l := lang(r)
	if r.Method == http.MethodGet {
		rd, _ := SafeRedirect(r.URL.Query().Get("rd"))
		p.render(w, http.StatusOK, "logout", p.pageData(l, "", labels["logout_title"].in(l), map[string]any{"SignedIn": signedIn, "RD": rd}))
		return
	}
	if !SameOrigin(r) {
		p.fail(w, r, "cross_origin", "", nil)
		return
	}
	if signedIn {
		// Server-side revocation: a copy of the cookie kept elsewhere stops working too.
		if err := p.Revocations.Revoke(r.Context(), s.ID, time.Unix(s.Expires, 0)); err != nil {
			p.fail(w, r, "store_unavailable", "", err)
			return
		}
		p.Logger.Info("logout", zap.String("event", "logout"), zap.String("subject_hash", p.SubjectHash(s.Subject)))
	}
	http.SetCookie(w, session.ClearCookie(sec))
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"logged_out": true})
		return
	}
	if rd, ok := SafeRedirect(r.FormValue("rd")); ok && rd != "/" {
		http.Redirect(w, r, rd, http.StatusSeeOther)
		return
	}
	p.render(w, http.StatusOK, "logout", p.pageData(l, "", labels["logout_title"].in(l), map[string]any{"Done": true}))
}

func (p *Portal) session(w http.ResponseWriter, r *http.Request) {
	s, err := p.Sessions.Open(r, secure(r), p.Now())
	if err != nil {
		writeProblem(w, r, "no_session", "", lang(r))
		return
	}
	amr := s.AMR
	if amr == nil {
		amr = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"sub": s.Subject, "provider": s.Provider, "auth_time": s.AuthTime, "amr": amr,
		"issued_at": s.Issued, "expires_at": s.Expires, "idle_expires_at": s.Seen + int64(p.Sessions.Idle/time.Second),
	})
}

func (p *Portal) providerTimeout() time.Duration {
	if p.ProviderTimeout > 0 {
		return p.ProviderTimeout
	}
	return 15 * time.Second
}

func (p *Portal) rand() io.Reader {
	if p.Rand != nil {
		return p.Rand
	}
	return rand.Reader
}

// providerFail maps a provider error to its page or JSON code.
func (p *Portal) providerFail(w http.ResponseWriter, r *http.Request, name, rd string, err error) {
	code := providerCode(err)
	p.Logger.Warn("provider error", zap.String("event", "login_failed"), zap.String("provider", name), zap.String("reason", code), zap.Error(err))
	retry := Prefix + "login?" + url.Values{"provider": {name}, "rd": {rd}}.Encode()
	p.writeFail(w, r, code, retry)
}

// fail writes an error; retry goes back to the login page for rd.
func (p *Portal) fail(w http.ResponseWriter, r *http.Request, code, rd string, err error) {
	if err != nil {
		p.Logger.Error("portal error", zap.String("reason", code), zap.Error(err))
	}
	retry := ""
	if rd != "" {
		retry = Prefix + "login?" + url.Values{"rd": {rd}}.Encode()
	}
	p.writeFail(w, r, code, retry)
}

func (p *Portal) writeFail(w http.ResponseWriter, r *http.Request, code, retry string) {
	l := lang(r)
	code, pr := problemOf(code)
	if !pr.retry {
		retry = ""
	}
	if wantsJSON(r) {
		writeProblem(w, r, code, retry, l)
		return
	}
	p.render(w, pr.status, "error", p.pageData(l, code, pr.title.in(l), map[string]any{"RetryURL": retry}))
}

func writeProblem(w http.ResponseWriter, r *http.Request, code, retry, l string) {
	pr := problems[code]
	body := map[string]any{"code": code, "message": pr.what.in(l), "action": pr.todo.in(l), "retryable": pr.retry}
	if retry != "" {
		body["retry_url"] = retry
	}
	writeJSON(w, pr.status, body)
}

func (p *Portal) pageData(l, code, title string, extra map[string]any) map[string]any {
	t := map[string]string{}
	for k, v := range labels {
		t[k] = v.in(l)
	}
	d := map[string]any{"Lang": l, "Title": title, "T": t, "Code": code, "Detail": ""}
	if pr, ok := problems[code]; ok && code != "" {
		d["Problem"] = true
		d["What"] = pr.what.in(l)
		d["Todo"] = pr.todo.in(l)
	}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

func (p *Portal) render(w http.ResponseWriter, status int, page string, data map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, page, data); err != nil {
		p.Logger.Error("rendering page", zap.String("page", page), zap.Error(err))
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// Refuse answers a request the gate refused before deciding anything (gate.Admit's codes) with
// the code's page or JSON.
func (p *Portal) Refuse(w http.ResponseWriter, r *http.Request, code string) {
	w.Header().Set("Cache-Control", "no-store")
	p.writeFail(w, r, code, "")
}

// Challenge answers a gated request whose policy is not met: a browser navigation is sent to the
// portal step that satisfies the unmet requirement; anything else gets 401/403 JSON naming it.
func (p *Portal) Challenge(w http.ResponseWriter, r *http.Request, pol *policy.Policy, d policy.Decision) {
	l := lang(r)
	w.Header().Set("Cache-Control", "no-store")
	rd, _ := SafeRedirect(r.URL.RequestURI())
	code := string(d.Reason)
	switch d.Reason {
	case policy.ReasonLoginRequired, policy.ReasonProviderNotAccepted:
		loginURL := Prefix + "login?" + url.Values{"rd": {rd}}.Encode()
		if !wantsJSON(r) {
			http.Redirect(w, r, loginURL, http.StatusFound)
			return
		}
		pr := problems[code]
		writeJSON(w, http.StatusUnauthorized, map[string]any{
			"code": code, "requirement": string(policy.ReqLogin), "policy": pol.Name,
			"message": pr.what.in(l), "login_url": loginURL, "providers": acceptedProviders(pol, p.Order),
		})
	case policy.ReasonMFARequired:
		if p.MFA == nil {
			p.writeFail(w, r, "requirement_unavailable", "")
			return
		}
		mfaURL := Prefix + "mfa?" + url.Values{"rd": {rd}}.Encode()
		if !wantsJSON(r) {
			http.Redirect(w, r, mfaURL, http.StatusFound)
			return
		}
		methods := pol.Require.MFA.Methods
		if methods == nil {
			methods = []string{}
		}
		writeJSON(w, http.StatusUnauthorized, map[string]any{
			"code": code, "requirement": "mfa", "policy": pol.Name, "message": problems[code].what.in(l),
			"mfa_url": mfaURL, "methods": methods, "within": int(pol.Require.MFA.Within.Seconds()),
		})
	case policy.ReasonNoPolicy, policy.ReasonUnderage:
		p.writeFail(w, r, code, "")
	case policy.ReasonMethodNotAllowed:
		allow := pol.Methods
		if allow == nil {
			allow = policy.DefaultMethods
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		p.writeFail(w, r, code, "")
	case policy.ReasonPhoneRequired, policy.ReasonAdultRequired, policy.ReasonDocumentRequired:
		methods := []string{}
		if p.Verify != nil && p.Verify.PortOne != nil && d.Reason != policy.ReasonDocumentRequired {
			methods = append(methods, "phone")
		}
		if p.stripeEnabled() && d.Reason != policy.ReasonPhoneRequired {
			methods = append(methods, "document")
		}
		if len(methods) == 0 {
			p.writeFail(w, r, "requirement_unavailable", "")
			return
		}
		verifyURL := Prefix + "verify?" + url.Values{"need": {string(d.Unmet)}, "rd": {rd}}.Encode()
		if !wantsJSON(r) {
			http.Redirect(w, r, verifyURL, http.StatusFound)
			return
		}
		pr := problems[code]
		writeJSON(w, http.StatusForbidden, map[string]any{
			"code": code, "requirement": string(d.Unmet), "policy": pol.Name, "message": pr.what.in(l),
			"verify_url": verifyURL, "methods": methods,
		})
	default:
		// A requirement with no step configured here; provisioning normally rejects such policies.
		if wantsJSON(r) {
			pr := problems["requirement_unavailable"]
			writeJSON(w, http.StatusForbidden, map[string]any{"code": code, "requirement": string(d.Unmet), "policy": pol.Name, "message": pr.what.in(l)})
			return
		}
		p.render(w, http.StatusForbidden, "error", p.pageData(l, "requirement_unavailable", problems["requirement_unavailable"].title.in(l), nil))
	}
}

func acceptedProviders(pol *policy.Policy, order []string) []string {
	out := []string{}
	for _, n := range order {
		if pol.Accepts(n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// providerCode is the stable error code of a provider call's error (providers.Error), or
// provider_unavailable for anything else (timeouts, transport errors).
func providerCode(err error) string {
	var pe *providers.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return providers.CodeUnavailable
}
