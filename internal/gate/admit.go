package gate

import (
	"net/http"
	"strings"

	"github.com/idgate/idgate/internal/reqpath"
)

// Refusal codes of Admit, as in the JSON error code.
const (
	CodePathNotCanonical = reqpath.ReasonNotCanonical
	CodePathTooLong      = reqpath.ReasonTooLong
	CodeMethodNotAllowed = "method_not_allowed"
	CodeCookiesTooLarge  = "cookies_too_large"
	CodeBadHost          = "bad_host"
)

// MaxHostLen bounds the Host a request may carry: it becomes part of login state and, when the
// assertion's issuer or audience derive from the origin, of cache keys.
const MaxHostLen = 255

// Cookie bounds checked by Admit before any work: a request carries at most MaxIdgateCookies
// cookies named like idgate's and at most MaxCookieBytes of Cookie header in all.
const (
	MaxIdgateCookies = 4
	MaxCookieBytes   = 16 << 10
)

// PortalPrefix is where the portal lives; Admit refuses any other spelling of it.
const PortalPrefix = "/.idgate/"

// Admission is what Admit decided about a request target.
type Admission struct {
	// Code is empty when the request may go on, else the refusal code.
	Code string
	// Rewritten is set when Admit replaced the path with its canonical form (rewrite mode). The
	// caller MUST make every later reader of the request (Caddy's original-request copy, which
	// php_fastcgi uses for REQUEST_URI) see the new target too.
	Rewritten bool
	// Portal is set when the request is for the portal.
	Portal bool
}

// Admit checks the request target before anything decides on it (invariant 11): CONNECT and
// authority-form or asterisk-form targets are refused; a path that is not canonical (see
// reqpath) is refused, or with rewrite rewritten to its canonical form (URL.Path, RawPath and
// RequestURI) and checked again; any other letter case of the portal prefix is refused, so it is
// never passed to the upstream as an unknown path; and the cookies are bounded.
//
// It does not strip headers (StripIdentityHeaders) and does not look at the query string.
func Admit(r *http.Request, rewrite bool) Admission {
	if r.Method == http.MethodConnect || r.URL.Opaque != "" {
		return Admission{Code: CodeMethodNotAllowed}
	}
	if !validHost(r.Host) {
		return Admission{Code: CodeBadHost}
	}
	if err := reqpath.Check(r.URL.EscapedPath()); err != nil {
		e := err.(*reqpath.Error)
		if !rewrite || e.Reason != reqpath.ReasonNotCanonical || r.URL.Path == "" || r.URL.Path[0] != '/' {
			return Admission{Code: e.Reason}
		}
		c, err := reqpath.Rewrite(r.URL.Path)
		if err != nil {
			return Admission{Code: err.(*reqpath.Error).Reason}
		}
		r.URL.Path, r.URL.RawPath = c, ""
		if err := reqpath.Check(r.URL.EscapedPath()); err != nil {
			return Admission{Code: err.(*reqpath.Error).Reason}
		}
		r.RequestURI = r.URL.RequestURI()
		a := admitRest(r)
		a.Rewritten = true
		return a
	}
	return admitRest(r)
}

func admitRest(r *http.Request) Admission {
	p := r.URL.Path
	if len(p) >= len(PortalPrefix)-1 && strings.EqualFold(p[:len(PortalPrefix)-1], PortalPrefix[:len(PortalPrefix)-1]) &&
		(len(p) == len(PortalPrefix)-1 || p[len(PortalPrefix)-1] == '/') {
		if !strings.HasPrefix(p, PortalPrefix) {
			// "/.IDGATE/…" or "/.idgate": not the portal, and not the upstream's business either.
			return Admission{Code: CodePathNotCanonical}
		}
		if code := admitCookies(r); code != "" {
			return Admission{Code: code}
		}
		return Admission{Portal: true}
	}
	return Admission{Code: admitCookies(r)}
}

// admitCookies bounds the number of idgate-named cookies and the total Cookie header size.
//
// Why: every idgate cookie is parsed, maybe unsealed, on each request; a client must not make
// that work (or what is kept for it) grow with what it sends.
func admitCookies(r *http.Request) string {
	lines := r.Header["Cookie"]
	if len(lines) == 0 {
		return ""
	}
	size, n := 0, 0
	for _, l := range lines {
		size += len(l)
		n += strings.Count(l, "idgate_")
	}
	if size > MaxCookieBytes || n > MaxIdgateCookies {
		return CodeCookiesTooLarge
	}
	return ""
}

// validHost reports whether h is a host name, IPv4 or bracketed IPv6 address with an optional
// port, at most MaxHostLen bytes.
//
// Why: the Host is the client's choice; it must not bring arbitrary bytes or sizes into state.
func validHost(h string) bool {
	if h == "" || len(h) > MaxHostLen {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == ':' || c == '[' || c == ']' || c == '_') {
			return false
		}
	}
	return true
}
