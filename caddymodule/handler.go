package caddymodule

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/idgate/idgate/internal/gate"
	"github.com/idgate/idgate/internal/portal"
	"github.com/idgate/idgate/policy"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler is `http.handlers.idgate`: it serves the portal under /.idgate/ and gates every other
// request by its policy. It must come before the handler that serves the app (reverse_proxy,
// php_fastcgi, file_server…), at the site level so that /.idgate/ reaches it.
type Handler struct {
	// Policy names the policy for every request of this route; empty picks the best-matching
	// policy file by path.
	Policy string `json:"policy,omitempty"`

	app    *App
	policy *policy.Policy
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.idgate", New: func() caddy.Module { return new(Handler) }}
}

// Provision gets the idgate app (provisioning the defaults when there is no global block).
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	v, err := ctx.App("idgate")
	if err != nil {
		return fmt.Errorf("idgate: %w", err)
	}
	h.app = v.(*App)
	if h.Policy != "" {
		p, ok := h.app.policies.Get(h.Policy)
		if !ok {
			known := strings.Join(h.app.policies.Names(), ", ")
			if known == "" {
				known = "none; set `policies <dir>` in the global idgate block"
			}
			return fmt.Errorf("idgate: unknown policy %q (known: %s)", h.Policy, known)
		}
		h.policy = p
		return nil
	}
	if len(h.app.policies.Policies()) == 0 {
		return fmt.Errorf("idgate: no policies are loaded; set `policies <dir>` in the global idgate block, or name a policy on the directive")
	}
	return nil
}

// ServeHTTP strips identity headers, admits the request target (canonical path, invariant 11),
// then serves the portal or gates the request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	a := h.app
	gate.StripIdentityHeaders(r.Header, a.forwarded)
	gate.StripIdentityTrailers(r, a.forwarded)
	adm := gate.Admit(r, a.rewritePaths)
	if adm.Code != "" {
		a.metrics.Decision("none", adm.Code)
		if ce := h.logger.Check(zapcore.DebugLevel, "refused target"); ce != nil {
			ce.Write(zap.String("reason", adm.Code))
		}
		a.portal.Refuse(w, r, adm.Code)
		return nil
	}
	if adm.Rewritten {
		r = withOriginalTarget(r)
	}
	if adm.Portal {
		ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
		a.portal.ServeHTTP(w, portal.WithClientIP(r, ip))
		return nil
	}
	res := a.gate.Decide(r, h.policy, time.Now())
	if res.Cookie != nil {
		http.SetCookie(w, res.Cookie)
	}
	if res.Err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, res.Err)
	}
	if res.Refused != "" {
		a.metrics.Decision(res.Policy.Name, res.Refused)
		a.portal.Refuse(w, r, res.Refused)
		return nil
	}
	name := "none"
	if res.Policy != nil {
		name = res.Policy.Name
	}
	a.metrics.Decision(name, string(res.Decision.Reason))
	if !res.Decision.Met {
		a.metrics.Challenges.WithLabelValues(string(res.Decision.Unmet)).Inc()
		switch res.Decision.Reason {
		case policy.ReasonNoPolicy, policy.ReasonUnderage:
			// Refusals (not challenges) are security events.
			sub := ""
			if res.Session != nil {
				sub = a.subjectHash(res.Session.Subject)
			}
			a.audit.Info("refused", zap.String("event", "refusal"), zap.String("reason", string(res.Decision.Reason)), zap.String("policy", name), zap.String("subject_hash", sub))
		default:
			if ce := h.logger.Check(zapcore.DebugLevel, "challenge"); ce != nil {
				ce.Write(zap.String("reason", string(res.Decision.Reason)), zap.String("policy", name))
			}
		}
		a.portal.Challenge(w, r, res.Policy, res.Decision)
		return nil
	}
	// The session cookie is idgate's business only: it never reaches the upstream.
	gate.StripOwnCookies(r.Header)
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if res.Session == nil {
		// Unset identity placeholders read as empty, never as their literal {…} text.
		repl.Map(emptyIdentityPlaceholder)
		return next.ServeHTTP(w, r)
	}
	// One allocation carries the decision for the lazy placeholders and the header values.
	al := &allowed{claims: res.Claims(), sub: res.Session.Subject}
	vals := al.vals[:]
	if len(res.Headers) > len(vals) {
		vals = make([]string, len(res.Headers))
	}
	for i, kv := range res.Headers {
		vals[i] = kv[1]
		r.Header[kv[0]] = vals[i : i+1 : i+1] // names are canonical already
	}
	// One lazy provider instead of a Set per claim: placeholders are resolved only if something
	// (header_up, a log) asks for them.
	repl.Map(al.placeholder)
	return next.ServeHTTP(&privateWriter{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: w}}, r)
}

// withOriginalTarget makes Caddy's copy of the original request (which php_fastcgi reads for
// REQUEST_URI and {http.request.orig_uri} for logs) carry the rewritten canonical target, so no
// handler after idgate sees the target idgate did not decide on.
func withOriginalTarget(r *http.Request) *http.Request {
	orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request)
	if !ok {
		return r
	}
	u := *r.URL
	orig.URL, orig.RequestURI = &u, r.RequestURI
	return r.WithContext(context.WithValue(r.Context(), caddyhttp.OriginalRequestCtxKey, orig))
}

// privateWriter marks what the upstream answers an identified person as private to that person
// (Cache-Control: private and Vary: Cookie), unless the upstream said how to cache it.
//
// Why: a shared cache in front of Caddy must never serve one person's page to another.
type privateWriter struct {
	caddyhttp.ResponseWriterWrapper // by value: one allocation per request, not two
	wrote                           bool
}

func (pw *privateWriter) WriteHeader(code int) {
	if !pw.wrote && code >= 200 {
		pw.wrote = true
		markPrivate(pw.Header())
	}
	pw.ResponseWriterWrapper.WriteHeader(code)
}

func (pw *privateWriter) Write(b []byte) (int, error) {
	if !pw.wrote {
		pw.WriteHeader(http.StatusOK)
	}
	return pw.ResponseWriterWrapper.Write(b)
}

func (pw *privateWriter) ReadFrom(src io.Reader) (int64, error) {
	if !pw.wrote {
		pw.WriteHeader(http.StatusOK)
	}
	return pw.ResponseWriterWrapper.ReadFrom(src)
}

func markPrivate(h http.Header) {
	if _, ok := h["Cache-Control"]; !ok {
		h["Cache-Control"] = []string{"private"}
	}
	for _, v := range h["Vary"] {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); strings.EqualFold(f, "cookie") || f == "*" {
				return
			}
		}
	}
	h.Add("Vary", "Cookie")
}

// allowed is what an allowed request keeps for its placeholders (kept small: it is allocated
// per request).
type allowed struct {
	claims gate.Claims
	sub    string
	vals   [3]string
}

// placeholder resolves {http.auth.user.id} and {idgate.<claim>}.
func (al *allowed) placeholder(key string) (any, bool) {
	if key == "http.auth.user.id" {
		return al.sub, true
	}
	if c, ok := strings.CutPrefix(key, "idgate."); ok {
		v, _ := al.claims.Claim(c)
		return v, true
	}
	return nil, false
}

// emptyIdentityPlaceholder answers "" for idgate placeholders no session filled. Values set with
// repl.Set take precedence over it.
func emptyIdentityPlaceholder(key string) (any, bool) {
	if key == "http.auth.user.id" || strings.HasPrefix(key, "idgate.") {
		return "", true
	}
	return nil, false
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
