// Package reqpath decides whether a request path is canonical: the one spelling that every
// upstream (Tomcat, PHP front controllers reading REQUEST_URI, routers matching the raw path,
// file servers decoding it) reads as the same path the gate chose its policy for.
//
// Why: the gate decides on a path and Caddy forwards the escaped path (URL.EscapedPath). If the
// two can be read differently ("/public/..;/members" is "/public/..;/members" to Go and
// "/members" to Tomcat), the gate can be walked around. So a non-canonical path is refused, or
// rewritten to its canonical form before anything decides on it; it never reaches an upstream.
//
// A canonical path starts with "/", has no "." or ".." segment, no empty segment (a trailing "/"
// is allowed), no ";" anywhere, no "\" and no control, space or non-ASCII byte raw, and escapes
// only the bytes that must be escaped (space, `"<>[]^{|}` and backtick, and UTF-8 beyond ASCII):
// an escape of anything else ("%2e", "%2F", "%5c", "%3b", "%25", "%3f", "%41"…) is refused, so
// double encoding cannot survive either. Decoded, it is valid UTF-8 (no overlong forms) with no
// code point that compatibility mapping turns into ".", "/", "\" or ";" (fullwidth "．／＼；"…).
//
// This package does not look at the query string (never part of the path) or at letter case
// (policies match case-insensitively; the path is forwarded as sent).
package reqpath

import (
	"strings"
	"unicode/utf8"
)

// MaxLen is the longest escaped path accepted, in bytes.
const MaxLen = 4096

// Reasons are the stable codes of a refusal, as in the JSON error code.
const (
	ReasonNotCanonical = "path_not_canonical"
	ReasonTooLong      = "path_too_long"
)

// Error says why a path is not canonical. What is for logs and tests; it never contains the path.
type Error struct {
	Reason string
	What   string
}

func (e *Error) Error() string { return "reqpath: " + e.What }

func bad(what string) *Error { return &Error{Reason: ReasonNotCanonical, What: what} }

// rawOK marks the bytes a canonical path may carry unescaped, besides "/".
var rawOK [256]bool

// escOK marks the bytes a canonical path escapes (it must escape them, and escapes nothing else).
var escOK [256]bool

func init() {
	for c := 'a'; c <= 'z'; c++ {
		rawOK[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		rawOK[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		rawOK[c] = true
	}
	for _, c := range "-._~!$&'()*+,=:@[]" {
		rawOK[c] = true
	}
	for _, c := range " \"<>[]^`{|}" {
		escOK[c] = true
	}
	for c := 0x80; c < 0x100; c++ {
		escOK[c] = true
	}
}

// Check returns nil when escaped, a path as the upstream will receive it (URL.EscapedPath()), is
// canonical, else an *Error. It does not allocate for a path without escaped non-ASCII bytes.
func Check(escaped string) error {
	if len(escaped) > MaxLen {
		return &Error{Reason: ReasonTooLong, What: "path too long"}
	}
	if escaped == "" || escaped[0] != '/' {
		return bad("not an absolute path")
	}
	segStart := 1
	highEsc := false
	for i := 1; i <= len(escaped); i++ {
		if i == len(escaped) || escaped[i] == '/' {
			seg := escaped[segStart:i]
			switch {
			case seg == "" && i < len(escaped):
				return bad("empty segment")
			case seg == "." || seg == "..":
				return bad("dot segment")
			}
			segStart = i + 1
			continue
		}
		c := escaped[i]
		switch {
		case c == '%':
			if i+2 >= len(escaped) {
				return bad("truncated escape")
			}
			hi, ok1 := unhex(escaped[i+1])
			lo, ok2 := unhex(escaped[i+2])
			if !ok1 || !ok2 {
				return bad("malformed escape")
			}
			b := hi<<4 | lo
			if !escOK[b] {
				return bad("needless or forbidden escape")
			}
			if b >= 0x80 {
				highEsc = true
			}
			i += 2
		case c == ';':
			return bad("path parameter")
		case c == '\\':
			return bad("backslash")
		case !rawOK[c]:
			return bad("character that must be escaped")
		}
	}
	if highEsc {
		return checkText(unescape(escaped))
	}
	return nil
}

// confusable lists code points that compatibility normalization (NFKC, "best fit" code pages)
// maps onto ".", "/", "\" or ";": an upstream that normalizes would see a different path.
var confusable = map[rune]bool{
	0xFF0E: true, 0xFF0F: true, 0xFF3C: true, 0xFF1B: true, // fullwidth . / \ ;
	0xFE52: true, 0xFE68: true, 0xFE54: true, // small . \ ;
	0x2024: true, 0x2025: true, 0x2026: true, // one and two dot leaders, ellipsis
	0x2215: true, 0x2216: true, 0x2044: true, 0x29F8: true, 0x29F9: true, // slashes
	0x037E: true, // Greek question mark (NFKC ";")
}

// checkText checks a decoded path's text: valid UTF-8 and no confusable code point.
func checkText(p string) error {
	if !utf8.ValidString(p) {
		return bad("invalid UTF-8")
	}
	for _, r := range p {
		if confusable[r] {
			return bad("confusable character")
		}
	}
	return nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unescape decodes %XX escapes; the caller has validated them.
func unescape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, _ := unhex(s[i+1])
			lo, _ := unhex(s[i+2])
			b.WriteByte(hi<<4 | lo)
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Rewrite returns the canonical form of a decoded path (URL.Path): ";" parameters dropped from
// every segment (as Tomcat reads them), empty and "." segments removed, ".." resolved (never above
// the root), a trailing "/" kept. It refuses, with an *Error, what has no safe canonical form:
// control characters, "\", invalid UTF-8, confusable code points and a remaining escape (double
// encoding). The caller MUST still Check the escaped form of the result.
func Rewrite(decoded string) (string, error) {
	if len(decoded) > MaxLen {
		return "", &Error{Reason: ReasonTooLong, What: "path too long"}
	}
	for i := 0; i < len(decoded); i++ {
		c := decoded[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return "", bad("control character")
		case c == '\\':
			return "", bad("backslash")
		case c == '%' && i+2 < len(decoded):
			if _, ok := unhex(decoded[i+1]); ok {
				if _, ok := unhex(decoded[i+2]); ok {
					return "", bad("double encoding")
				}
			}
		}
	}
	if err := checkText(decoded); err != nil {
		return "", err
	}
	var out []string
	parts := strings.Split(decoded, "/")
	trailing := len(parts) > 1 && parts[len(parts)-1] == ""
	for _, seg := range parts {
		seg, _, _ = strings.Cut(seg, ";")
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	// A path whose last segment was "." or ".." names a directory, as path resolution reads it.
	if last := parts[len(parts)-1]; last == "." || last == ".." || strings.HasPrefix(last, ".;") || strings.HasPrefix(last, "..;") {
		trailing = true
	}
	p := "/" + strings.Join(out, "/")
	if trailing && p != "/" {
		p += "/"
	}
	return p, nil
}
