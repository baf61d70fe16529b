package portal

import (
	"strings"

	"github.com/idgate/idgate/internal/reqpath"
)

// SafeRedirect returns rd if it is a same-site relative path, else "/".
//
// Why: rd comes from the query string; an absolute URL, a scheme-relative "//host", a "/\host"
// (which browsers treat as "//host") or a control character would turn the portal into an open
// redirect. Only "/" followed by anything but "/" or "\" passes, with no "\" or control
// character anywhere, at most 2 KiB. Its path part must be canonical under the rule the gate
// applies to request targets (invariant 11), so a redirect never lands on a path the gate would
// have read differently.
func SafeRedirect(rd string) (string, bool) {
	if rd == "" || len(rd) > 2048 || rd[0] != '/' {
		return "/", false
	}
	if len(rd) > 1 && (rd[1] == '/' || rd[1] == '\\') {
		return "/", false
	}
	for i := 0; i < len(rd); i++ {
		c := rd[i]
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "/", false
		}
	}
	p := rd
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if reqpath.Check(escapeNonASCII(p)) != nil {
		return "/", false
	}
	return rd, true
}

// escapeNonASCII percent-encodes the bytes beyond ASCII, as a browser does before sending a path.
func escapeNonASCII(p string) string {
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] >= 0x80 {
			n++
		}
	}
	if n == 0 {
		return p
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(p)+2*n)
	for i := 0; i < len(p); i++ {
		if c := p[i]; c >= 0x80 {
			b = append(b, '%', hex[c>>4], hex[c&15])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}
