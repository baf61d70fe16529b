package policy

import (
	"fmt"
	"sort"
	"strings"
)

// Explanation says which policy governs a path and why.
type Explanation struct {
	Path    string // as cleaned for matching
	Policy  *Policy
	Pattern string // the winning pattern (lower case)
	Kind    string // exact, prefix, catch-all, suffix, substring or glob
}

// Explain is Match with the reason. It is for tools, not the hot path.
func (s *Set) Explain(reqPath string) Explanation {
	p := CleanPath(reqPath)
	e := Explanation{Path: p}
	m := s.match(p)
	switch {
	case m.pol == nil:
	case m.glob != nil:
		e.Policy, e.Pattern, e.Kind = m.pol, m.glob.display(), m.glob.kindName()
	case m.prefix && m.prefixLen == 0:
		e.Policy, e.Pattern, e.Kind = m.pol, "*", "catch-all"
	case m.prefix:
		e.Policy, e.Pattern, e.Kind = m.pol, p[:m.prefixLen]+"*", "prefix"
	default:
		e.Policy, e.Pattern, e.Kind = m.pol, p, "exact"
	}
	return e
}

func (g *globEntry) display() string {
	switch g.kind {
	case 's':
		return "*" + g.pattern
	case 'c':
		return "*" + g.pattern + "*"
	}
	return g.pattern
}

// source returns the pattern as it was written (lower case), the key of Set.lines.
func (g *globEntry) source() string {
	if g.kind == 'g' {
		return g.pattern
	}
	return g.display()
}

func (g *globEntry) kindName() string {
	switch g.kind {
	case 's':
		return "suffix"
	case 'c':
		return "substring"
	}
	return "glob"
}

// Describe renders the requirements and forwards of p for people.
func (p *Policy) Describe() string {
	var b strings.Builder
	if p.Public {
		b.WriteString("  public: anyone, no identity forwarded\n")
		return b.String()
	}
	b.WriteString("  requires (in order):\n")
	for _, r := range p.Require.Order {
		switch r {
		case ReqLogin:
			who := "any configured provider"
			if len(p.Require.Login) > 0 {
				who = strings.Join(p.Require.Login, " or ")
			}
			fmt.Fprintf(&b, "    login: %s\n", who)
		case ReqPhone:
			fmt.Fprintf(&b, "    phone: 본인인증 within %s\n", days(p.Require.Phone.Within.Hours()))
		case ReqDocument:
			fmt.Fprintf(&b, "    document: ID document within %s\n", days(p.Require.Document.Within.Hours()))
		case ReqAdult:
			a := p.Require.Adult
			fmt.Fprintf(&b, "    adult: verified birth date says %d+ (%s rule), verification within %s\n", a.MinAge, a.AgeRule, days(a.Within.Hours()))
		case ReqMFA:
			m := p.Require.MFA
			methods := "any configured method"
			if len(m.Methods) > 0 {
				methods = strings.Join(m.Methods, ", ")
			}
			fmt.Fprintf(&b, "    mfa: second factor within %s by %s\n", m.Within, methods)
		}
	}
	if len(p.Forward.Claims) > 0 {
		fmt.Fprintf(&b, "  extra assertion claims: %s\n", strings.Join(p.Forward.Claims, ", "))
	}
	for _, h := range p.Forward.Headers {
		fmt.Fprintf(&b, "  header %s: %s\n", h.Name, h.Claim)
	}
	return b.String()
}

func days(hours float64) string {
	if int(hours)%24 == 0 {
		return fmt.Sprintf("%dd", int(hours)/24)
	}
	return fmt.Sprintf("%gh", hours)
}

// Finding is one lint result.
type Finding struct {
	Severity string // error or warning
	Policy   string
	Where    string
	Message  string
}

func (f Finding) String() string {
	return fmt.Sprintf("%s: %s (%s): %s", f.Severity, f.Policy, f.Where, f.Message)
}

// strictness orders policies: public < login < verification or MFA.
func strictness(p *Policy) int {
	if p.Public {
		return 0
	}
	if len(p.Require.Order) <= 1 && len(p.Require.Login) == 0 {
		return 1
	}
	return len(p.Require.Order) + 1
}

// Lint reports patterns that can never win (shadowed), policies with no reachable pattern
// (unreachable), and more specific patterns that relax a broader policy.
func (s *Set) Lint() []Finding {
	var out []Finding
	reachable := map[*Policy]bool{}
	for _, p := range s.policies {
		reachable[p] = false
	}
	for _, pol := range s.exact {
		reachable[pol] = true
	}
	prefixes := make([]string, 0, len(s.prefix))
	for pre, pol := range s.prefix {
		reachable[pol] = true
		prefixes = append(prefixes, pre)
	}
	sort.Strings(prefixes)
	for i := range s.globs {
		g := &s.globs[i]
		lead := g.display()
		if j := strings.IndexByte(lead, '*'); j >= 0 {
			lead = lead[:j]
		}
		shadow := ""
		for _, pre := range prefixes {
			if strings.HasPrefix(lead, pre) {
				shadow = pre + "*"
				break
			}
		}
		if shadow != "" {
			out = append(out, Finding{"error", g.policy.Name, s.where(g.policy, g.source()), fmt.Sprintf("pattern %q can never win: prefix pattern %q (policy %s) matches every path it matches, and prefixes are more specific", g.display(), shadow, s.prefix[strings.TrimSuffix(shadow, "*")].Name)})
			continue
		}
		reachable[g.policy] = true
	}
	for _, p := range s.policies {
		if !reachable[p] {
			out = append(out, Finding{"error", p.Name, p.File + ":" + itoa(p.Line), "unreachable: none of its paths can ever govern a request"})
		}
	}
	// A more specific prefix under a broader one, with weaker requirements.
	for _, inner := range prefixes {
		for _, outer := range prefixes {
			if inner == outer || !strings.HasPrefix(inner, outer) {
				continue
			}
			pi, po := s.prefix[inner], s.prefix[outer]
			if pi == po {
				continue
			}
			sev, msg := "warning", fmt.Sprintf("%q narrows %q (policy %s)", inner+"*", outer+"*", po.Name)
			if strictness(pi) < strictness(po) {
				msg += " with weaker requirements: check that this exception is intended"
			}
			out = append(out, Finding{sev, pi.Name, s.where(pi, inner+"*"), msg})
		}
	}
	for ex, pi := range s.exact {
		for _, outer := range prefixes {
			if po := s.prefix[outer]; strings.HasPrefix(ex, outer) && po != pi && strictness(pi) < strictness(po) {
				out = append(out, Finding{"warning", pi.Name, s.where(pi, ex), fmt.Sprintf("exact path %q inside %q (policy %s) has weaker requirements: check that this exception is intended", ex, outer+"*", po.Name)})
			}
		}
		// An exact path protects only itself: what lies below it goes to whatever else matches.
		if pi.Public || strings.HasSuffix(ex, "/") {
			continue
		}
		below := s.match(ex + "/x")
		if below.pol != pi && (below.pol == nil || strictness(below.pol) < strictness(pi)) {
			other := "no policy (refused)"
			if below.pol != nil {
				other = "policy " + below.pol.Name
			}
			if below.pol != nil {
				out = append(out, Finding{"warning", pi.Name, s.where(pi, ex), fmt.Sprintf("exact path %q protects only itself: %q is governed by %s, with weaker requirements; list %q too to cover what lies below it", ex, ex+"/…", other, ex+"/*")})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Severity != out[j].Severity {
			return out[i].Severity == "error"
		}
		return out[i].Policy+out[i].Message < out[j].Policy+out[j].Message
	})
	return out
}
