package policy

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
)

// Set is an immutable set of policies with a path index.
//
// Match costs a map lookup per distinct prefix length plus the few glob patterns, not a scan of
// every policy: sites with hundreds of policy files pay the same as sites with three.
type Set struct {
	byName     map[string]*Policy
	policies   []*Policy
	exact      map[string]*Policy
	prefix     map[string]*Policy
	prefixLens []int // distinct prefix lengths, longest first
	globs      []globEntry
	forwarded  []string // every header name any policy forwards, canonical
	claims     map[string]bool
	lines      map[string]int // pattern (lower case) → its line, for findings
}

type globEntry struct {
	pattern string
	kind    byte // 's' suffix, 'c' contains, 'g' glob
	lit     int  // literal characters, for specificity
	policy  *Policy
}

// where returns "file:line" of pattern pat of p.
func (s *Set) where(p *Policy, pat string) string {
	if l, ok := s.lines[pat]; ok {
		return p.File + ":" + itoa(l)
	}
	return p.File + ":" + itoa(p.Line)
}

// checkPattern validates a path pattern at load time.
func checkPattern(p string) error {
	switch {
	case p == "":
		return errors.New("empty path")
	case p != "*" && !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "*"):
		return errors.New("a path must start with / or *")
	case strings.Contains(p, "%"):
		return errors.New("percent-escaped patterns are not supported; write the decoded path")
	case strings.Contains(p, "//"):
		return errors.New("paths are matched with merged slashes; remove the //")
	case strings.ContainsAny(p, "{}\\"):
		return errors.New("placeholders and backslashes are not supported in policy paths")
	}
	for _, c := range p {
		if c < 0x20 || c == 0x7f {
			return errors.New("control characters are not allowed")
		}
	}
	if _, err := path.Match(strings.ToLower(p), "/"); err != nil {
		return fmt.Errorf("bad glob: %v", err)
	}
	return nil
}

func newSet(pols []*Policy) (*Set, []error) {
	s := &Set{
		byName:   map[string]*Policy{},
		policies: pols,
		exact:    map[string]*Policy{},
		prefix:   map[string]*Policy{},
		claims:   map[string]bool{},
		lines:    map[string]int{},
	}
	var errs []error
	owner := map[string]*Policy{}
	lens := map[int]bool{}
	headers := map[string]bool{}
	for _, p := range pols {
		s.byName[p.Name] = p
		for _, c := range p.Forward.Claims {
			s.claims[c] = true
		}
		for _, h := range p.Forward.Headers {
			s.claims[h.Claim] = true
			if !headers[h.Name] {
				headers[h.Name] = true
				s.forwarded = append(s.forwarded, h.Name)
			}
		}
		for i, raw := range p.Paths {
			pat := strings.ToLower(raw)
			line := p.Line
			if i < len(p.pathLines) {
				line = p.pathLines[i]
			}
			if prev, ok := owner[pat]; ok {
				if prev == p {
					errs = append(errs, &Error{File: p.File, Line: line, Msg: fmt.Sprintf("path %q is listed twice", raw)})
				} else {
					errs = append(errs, &Error{File: p.File, Line: line,
						Msg: fmt.Sprintf("path %q is also claimed by policy %q (%s); two policies cannot tie on a path", raw, prev.Name, prev.File)})
				}
				continue
			}
			owner[pat] = p
			s.lines[pat] = line
			stars := strings.Count(pat, "*")
			switch {
			case stars == 0:
				s.exact[pat] = p
			case pat == "*":
				s.prefix[""] = p
				lens[0] = true
			case stars == 1 && strings.HasSuffix(pat, "*"):
				pre := pat[:len(pat)-1]
				s.prefix[pre] = p
				lens[len(pre)] = true
			case stars == 1 && strings.HasPrefix(pat, "*"):
				s.globs = append(s.globs, globEntry{pattern: pat[1:], kind: 's', lit: len(pat) - 1, policy: p})
			case stars == 2 && strings.HasPrefix(pat, "*") && strings.HasSuffix(pat, "*"):
				s.globs = append(s.globs, globEntry{pattern: pat[1 : len(pat)-1], kind: 'c', lit: len(pat) - 2, policy: p})
			default:
				s.globs = append(s.globs, globEntry{pattern: pat, kind: 'g', lit: len(pat) - stars, policy: p})
			}
		}
	}
	for l := range lens {
		s.prefixLens = append(s.prefixLens, l)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(s.prefixLens)))
	// Among glob-like patterns the one with more literal characters is more specific; ties are
	// broken by pattern text so the choice never depends on file order.
	sort.SliceStable(s.globs, func(i, j int) bool {
		if s.globs[i].lit != s.globs[j].lit {
			return s.globs[i].lit > s.globs[j].lit
		}
		return s.globs[i].pattern < s.globs[j].pattern
	})
	sort.Strings(s.forwarded)
	return s, errs
}

// Get returns the policy named name.
func (s *Set) Get(name string) (*Policy, bool) {
	p, ok := s.byName[name]
	return p, ok
}

// Policies returns every policy in load order. The caller MUST NOT modify them.
func (s *Set) Policies() []*Policy { return s.policies }

// ForwardedHeaders returns every header name any policy forwards (canonical form). The gate strips
// all of them from every request, whichever policy applies.
func (s *Set) ForwardedHeaders() []string { return s.forwarded }

// UsesClaim reports whether any policy forwards claim c (as a claim or a header).
func (s *Set) UsesClaim(c string) bool { return s.claims[c] }

// CleanPath normalizes a decoded request path the way Caddy's path matcher does: lower case,
// merged slashes, dot segments resolved, trailing slash kept. The result is what upstreams that
// resolve ".." themselves will serve, so a policy cannot be sidestepped with "/public/../adult".
func CleanPath(p string) string {
	p = strings.ToLower(p)
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	if !needsClean(p) {
		return p
	}
	c := path.Clean(p)
	if c != "/" && strings.HasSuffix(p, "/") {
		c += "/"
	}
	return c
}

func needsClean(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && i+1 < len(p) && (p[i+1] == '/' || p[i+1] == '.') {
			return true
		}
	}
	return false
}

// Match returns the policy governing a request path (decoded, as in URL.Path), or nil when no
// policy covers it. The most specific pattern wins: an exact path, then the longest prefix, then
// suffix, substring and glob patterns by their number of literal characters.
func (s *Set) Match(reqPath string) *Policy {
	return s.match(CleanPath(reqPath)).pol
}

// matched is how a cleaned path found its policy: by an exact pattern, a prefix pattern of
// prefixLen bytes (0 for the catch-all "*"), or a suffix, substring or glob pattern.
type matched struct {
	pol       *Policy
	prefix    bool
	prefixLen int
	glob      *globEntry
}

// match finds the policy of a cleaned path and how. Match and Explain share it, so that what is
// explained is what is enforced.
func (s *Set) match(p string) matched {
	if pol, ok := s.exact[p]; ok {
		return matched{pol: pol}
	}
	for _, l := range s.prefixLens {
		if l > len(p) {
			continue
		}
		if pol, ok := s.prefix[p[:l]]; ok {
			return matched{pol: pol, prefix: true, prefixLen: l}
		}
	}
	for i := range s.globs {
		if g := &s.globs[i]; g.matches(p) {
			return matched{pol: g.policy, glob: g}
		}
	}
	return matched{}
}

func (g *globEntry) matches(p string) bool {
	switch g.kind {
	case 's':
		return strings.HasSuffix(p, g.pattern)
	case 'c':
		return strings.Contains(p, g.pattern)
	}
	ok, _ := path.Match(g.pattern, p)
	return ok
}
