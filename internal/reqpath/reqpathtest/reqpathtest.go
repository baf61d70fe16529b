// Package reqpathtest holds what tests of invariant 11 share: a table of hostile request targets
// and the ways real upstreams read a request target, so a test can check that whatever path an
// upstream serves is the path the gate chose its policy for.
//
// Usage, in a test that sends target through the gate to an upstream and gets back what the
// upstream served:
//
//	for _, target := range reqpathtest.Hostile {
//		served := reqpathtest.Tomcat(forwardedTarget) // what Tomcat would resolve
//		if set.Match(served) != appliedPolicy { t.Fatal(...) }
//	}
package reqpathtest

import (
	"strings"
)

// Hostile are request targets that make some upstream read another path than Go does: dot
// segments raw and encoded (any case, double encoded, overlong and fullwidth UTF-8), ";" path
// parameters, encoded "/" and "\", raw "\", empty segments, control characters, invalid UTF-8,
// needless escapes and other spellings of the portal prefix.
var Hostile = []string{
	"/public/../members/x", "/public/./../members/x", "/public/%2e%2e/members/x", "/public/%2E%2E/members/x",
	"/public/.%2e/members/x", "/public/%2e./members/x", "/public/%252e%252e/members/x", "/public/%25252e%25252e/members/x",
	"/public/..;/members/x", "/public/..;foo=bar/members/x", "/members;jsessionid=1/x", "/public;/../members/x",
	"/public/..;/admin/x", "/admin/..;/public/x", "/public/%3b/../members/x", "/public%2f..%2fmembers/x",
	"/public%2F..%2Fadmin/x", "/public%5c..%5cmembers/x", "/public/..%5cadmin/x", "/public/..\\admin/x",
	"/public//../admin/x", "//admin/x", "/admin//x", "/public/%00/../members/x", "/public/%0a", "/public/%7f",
	"/public/%c0%ae%c0%ae/admin/x", "/public/%e0%80%ae%e0%80%ae/admin/x", "/public/%ef%bc%8e%ef%bc%8e/admin/x",
	"/public/%ef%bc%8fadmin", "/public/%ff", "/public/%c3", "/%61dmin/x", "/%41DMIN/x", "/admin%2Fx", "/public/%3f/../admin",
	"/public/%23/../admin", "/public/%", "/public/%g0", "/public/%2", "/public/.", "/public/..", "/.", "/..",
	"/.idgate/../admin/x", "/%2eidgate/login", "/.IDGATE/login", "/.Idgate/jwks.json", "/.idgate",
	"/public/..%2fadmin/x", "/public/%2e%2e%2fadmin/x", "/public/.%252e/admin/x", "/admin;/x", "/admin/x;a=b",
	"http://localhost/public/../admin/x", "/public/\t/../admin",
}

// Canonical are ordinary targets every check must let through.
var Canonical = []string{
	"/", "/public/", "/public/x", "/members/x", "/members/x/", "/admin/x", "/static/app.v2.css",
	"/public/list.php?id=3&page=../../admin", "/public/a-b_c~d!$&'()*+,=:@", "/public/%ED%95%9C%EA%B8%80",
	"/public/file%20name.txt", "/Members/X", "/public/...", "/public/..x", "/public/x..",
}

// Tomcat returns the path Tomcat serves for an escaped request path: ";" parameters removed
// from every segment, then percent-decoded once, then dot segments resolved (so "..;" is "..").
func Tomcat(escaped string) string {
	segs := strings.Split(escaped, "/")
	for i, s := range segs {
		s, _, _ = strings.Cut(s, ";")
		segs[i] = s
	}
	return resolve(decode(strings.Join(segs, "/")))
}

// FrontController returns the path a PHP front controller routes on: REQUEST_URI's path,
// rawurldecode()d, "\" read as "/", dot segments resolved.
func FrontController(escaped string) string {
	return resolve(strings.ReplaceAll(decode(escaped), "\\", "/"))
}

// Raw returns the path a router that matches the raw request path routes on: the escaped path
// as it is, with dot segments resolved as a URL library does.
func Raw(escaped string) string { return resolve(escaped) }

// Area is the first segment of a path in lower case: what the test upstreams report serving.
func Area(p string) string {
	p = strings.TrimPrefix(p, "/")
	first, _, _ := strings.Cut(p, "/")
	return strings.ToLower(first)
}

// decode, unhex and resolve are written here independently of package reqpath on purpose: they
// model how upstreams read a target, and must not share a bug with the code under test.
func decode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if hi, ok := unhex(s[i+1]); ok {
				if lo, ok := unhex(s[i+2]); ok {
					b.WriteByte(hi<<4 | lo)
					i += 2
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
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

// resolve removes empty and "." segments and resolves ".." segments, keeping a trailing "/" (as
// RFC 3986 resolution does, also after a final "." or "..").
func resolve(p string) string {
	var out []string
	segs := strings.Split(p, "/")
	last := segs[len(segs)-1]
	dir := len(segs) > 1 && (last == "" || last == "." || last == "..")
	for _, s := range segs {
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	r := "/" + strings.Join(out, "/")
	if dir && r != "/" {
		r += "/"
	}
	return r
}
