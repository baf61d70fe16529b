package policy

import (
	"errors"
	"fmt"
	"net/textproto"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Error is a problem in a policy file, located by file and line.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("policy: %s, at %s:%d", e.Msg, e.File, e.Line)
	}
	return fmt.Sprintf("policy: %s, in %s", e.Msg, e.File)
}

// LoadDir loads every *.yaml file of dir (not recursive) into a Set.
//
// It returns all problems at once, joined with errors.Join, each an *Error naming file and line.
// It does not check that login providers exist; the caller MUST do that against its configuration
// (see Set.Providers and Policy.Where).
func LoadDir(dir string) (*Set, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("policy: reading policy directory: %w", err)
	}
	var files []File
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
		files = append(files, File{Name: path, Data: data})
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("policy: no *.yaml policy files in %s", dir)
	}
	return Load(files)
}

// File is the name and content of one policy file.
type File struct {
	Name string
	Data []byte
}

// Load parses policy files and builds a Set; see LoadDir.
func Load(files []File) (*Set, error) {
	files = append([]File(nil), files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	var errs []error
	var pols []*Policy
	names := map[string]*Policy{}
	for _, f := range files {
		p, ferrs := Parse(f.Name, f.Data)
		errs = append(errs, ferrs...)
		if p == nil {
			continue
		}
		if prev, dup := names[p.Name]; dup {
			errs = append(errs, &Error{File: p.File, Line: p.Line,
				Msg: fmt.Sprintf("policy name %q is also used by %s", p.Name, prev.File)})
			continue
		}
		names[p.Name] = p
		pols = append(pols, p)
	}
	set, serrs := newSet(pols)
	errs = append(errs, serrs...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return set, nil
}

// Parse parses one policy file. It returns the policy (nil when the file is unusable) and every
// problem found in it.
func Parse(file string, data []byte) (*Policy, []error) {
	var errs []error
	fail := func(line int, format string, a ...any) {
		errs = append(errs, &Error{File: file, Line: line, Msg: fmt.Sprintf(format, a...)})
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line := 0
		var te *yaml.TypeError
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if !errors.As(err, &te) {
			// yaml.v3 syntax errors read "yaml: line N: message".
			var n int
			if _, scanErr := fmt.Sscanf(msg, "line %d:", &n); scanErr == nil {
				line = n
				if i := strings.Index(msg, ": "); i >= 0 {
					msg = msg[i+2:]
				}
			}
		}
		fail(line, "invalid YAML: %s", msg)
		return nil, errs
	}
	base := strings.TrimSuffix(filepath.Base(file), ".yaml")
	p := &Policy{Name: base, File: file, Line: 1}
	if len(doc.Content) == 0 {
		fail(1, "empty policy file")
		return nil, errs
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		fail(root.Line, "a policy file must be a mapping with paths and require (or public: true)")
		return nil, errs
	}
	p.Line = root.Line
	var requireNode *yaml.Node
	eachKey(root, fail, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			if s, ok := scalarString(v); ok && validName(s) {
				p.Name = s
			} else {
				fail(v.Line, "name must be letters, digits, '-', '_' or '.'")
			}
		case "paths":
			p.Paths, p.pathLines = parsePaths(v, fail)
		case "public":
			if v.Kind != yaml.ScalarNode || (v.Value != "true" && v.Value != "false") {
				fail(v.Line, "public must be true or false")
				return
			}
			p.Public = v.Value == "true"
		case "require":
			requireNode = v
			p.Require = parseRequire(v, fail)
		case "forward":
			p.Forward = parseForward(v, fail)
		case "methods":
			p.Methods = parseMethods(v, fail)
		default:
			fail(k.Line, "unknown key %q (known: name, paths, public, methods, require, forward)", key)
		}
	})
	if !validName(p.Name) {
		fail(p.Line, "policy name %q (from the file name) must be letters, digits, '-', '_' or '.'; set name:", p.Name)
	}
	if p.Public && requireNode != nil {
		fail(requireNode.Line, "a public policy cannot have requirements")
	}
	if p.Public && (len(p.Forward.Claims) > 0 || len(p.Forward.Headers) > 0) {
		fail(p.Line, "a public policy forwards no identity; remove forward")
	}
	if !p.Public && requireNode == nil {
		fail(p.Line, "a policy needs require (at least login) or public: true")
	}
	if requireNode != nil && len(p.Require.Order) == 0 && len(errs) == 0 {
		// An empty require would let everyone through while looking gated.
		fail(requireNode.Line, "require lists no requirement; use login: true for any signed-in visitor, or public: true")
	}
	if p.Require.Login == nil && len(p.Require.Order) > 0 {
		// Every fact belongs to a subject: verification and MFA imply login with any provider.
		p.Require.Login = []string{}
	}
	if p.Require.Login != nil && (len(p.Require.Order) == 0 || p.Require.Order[0] != ReqLogin) {
		p.Require.Order = append([]Requirement{ReqLogin}, removeReq(p.Require.Order, ReqLogin)...)
	}
	return p, errs
}

// parseMethods reads the methods a policy lets through, upper-cased.
func parseMethods(v *yaml.Node, fail failFunc) []string {
	list := stringList(v, "methods", fail)
	if list != nil && len(list) == 0 {
		fail(v.Line, "methods: [] would refuse every request; list methods or remove the key for the default (%s)", strings.Join(DefaultMethods, ", "))
		return nil
	}
	out := make([]string, 0, len(list))
	for _, m := range list {
		if !validHeaderToken(m) {
			fail(v.Line, "method %q is not an HTTP method token", m)
			continue
		}
		m = strings.ToUpper(m)
		if m == "CONNECT" {
			fail(v.Line, "CONNECT is never let through a gated site")
			continue
		}
		out = append(out, m)
	}
	return out
}

func validHeaderToken(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return s != ""
}

func removeReq(list []Requirement, r Requirement) []Requirement {
	out := list[:0:0]
	for _, v := range list {
		if v != r {
			out = append(out, v)
		}
	}
	return out
}

func validName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

type failFunc func(line int, format string, a ...any)

// eachKey walks a mapping node, reporting duplicate and non-string keys.
func eachKey(m *yaml.Node, fail failFunc, fn func(key string, k, v *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			fail(k.Line, "keys must be plain words")
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			fail(k.Line, "duplicate key %q (first at line %d)", k.Value, prev)
			continue
		}
		seen[k.Value] = k.Line
		fn(k.Value, k, v)
	}
}

func scalarString(v *yaml.Node) (string, bool) {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		return "", false
	}
	return v.Value, true
}

func stringList(v *yaml.Node, what string, fail failFunc) []string {
	if v.Kind == yaml.ScalarNode && v.Tag != "!!null" {
		return []string{v.Value}
	}
	if v.Kind != yaml.SequenceNode {
		fail(v.Line, "%s must be a list of strings", what)
		return nil
	}
	out := make([]string, 0, len(v.Content))
	for _, e := range v.Content {
		s, ok := scalarString(e)
		if !ok || s == "" {
			fail(e.Line, "%s must be a list of non-empty strings", what)
			continue
		}
		out = append(out, s)
	}
	return out
}

func parsePaths(v *yaml.Node, fail failFunc) ([]string, []int) {
	var out []string
	var lines []int
	items := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		items = v.Content
	}
	if len(items) == 0 {
		fail(v.Line, "paths must list at least one path")
	}
	for _, e := range items {
		s, ok := scalarString(e)
		if !ok {
			fail(e.Line, "paths must be a list of path patterns")
			continue
		}
		if err := checkPattern(s); err != nil {
			fail(e.Line, "path %q: %v", s, err)
			continue
		}
		out = append(out, s)
		lines = append(lines, e.Line)
	}
	return out, lines
}

func parseDurationNode(v *yaml.Node, fail failFunc) time.Duration {
	s, ok := scalarString(v)
	if !ok {
		fail(v.Line, "within must be a duration such as 365d, 12h or 10m")
		return 0
	}
	d, err := ParseDuration(s)
	if err != nil {
		fail(v.Line, "%v", err)
	}
	return d
}

func parseRequire(v *yaml.Node, fail failFunc) Require {
	r := Require{lines: map[Requirement]int{}}
	if v.Kind != yaml.MappingNode {
		fail(v.Line, "require must be a mapping (login, phone, document, adult, mfa)")
		return r
	}
	eachKey(v, fail, func(key string, k, val *yaml.Node) {
		req := Requirement(key)
		r.lines[req] = k.Line
		switch req {
		case ReqLogin:
			switch {
			case val.Kind == yaml.ScalarNode && val.Value == "true":
				r.Login = []string{}
			case val.Kind == yaml.ScalarNode && val.Value == "false":
				fail(val.Line, "login: false is not allowed; use public: true for open paths")
				return
			default:
				r.Login = stringList(val, "login", fail)
				if r.Login == nil {
					return
				}
			}
		case ReqPhone, ReqDocument:
			w := &Window{}
			parseObject(val, key, fail, func(name string, k, f *yaml.Node) {
				if name != "within" {
					fail(k.Line, "unknown key %q in %s (known: within)", name, key)
					return
				}
				w.Within = parseDurationNode(f, fail)
			})
			if w.Within == 0 {
				w.Within = 365 * 24 * time.Hour
			}
			if req == ReqPhone {
				r.Phone = w
			} else {
				r.Document = w
			}
		case ReqAdult:
			a := &Adult{Within: 365 * 24 * time.Hour, MinAge: 19, AgeRule: "korean"}
			parseObject(val, key, fail, func(name string, k, f *yaml.Node) {
				switch name {
				case "within":
					a.Within = parseDurationNode(f, fail)
				case "min_age":
					var n int
					if err := f.Decode(&n); err != nil || n < 1 || n > 120 {
						fail(f.Line, "min_age must be a whole number from 1 to 120")
						return
					}
					a.MinAge = n
				case "age_rule":
					if f.Value != "korean" && f.Value != "international" {
						fail(f.Line, "age_rule must be korean or international")
						return
					}
					a.AgeRule = f.Value
				default:
					fail(k.Line, "unknown key %q in adult (known: within, min_age, age_rule)", name)
				}
			})
			r.Adult = a
		case ReqMFA:
			m := &MFA{Within: 10 * time.Minute}
			parseObject(val, key, fail, func(name string, k, f *yaml.Node) {
				switch name {
				case "within":
					m.Within = parseDurationNode(f, fail)
				case "methods":
					m.Methods = stringList(f, "methods", fail)
					if m.Methods != nil && len(m.Methods) == 0 {
						fail(f.Line, "mfa methods: [] would accept no method; list methods or remove the key to accept every configured one")
					}
					for _, meth := range m.Methods {
						if !contains([]string{"totp", "sms", "email", "recaptcha"}, meth) {
							fail(f.Line, "unknown mfa method %q (known: totp, sms, email, recaptcha)", meth)
						}
					}
				default:
					fail(k.Line, "unknown key %q in mfa (known: within, methods)", name)
				}
			})
			r.MFA = m
		default:
			fail(k.Line, "unknown requirement %q (known: login, phone, document, adult, mfa)", key)
			return
		}
		r.Order = append(r.Order, req)
	})
	return r
}

// parseObject accepts a mapping, or an empty value / true meaning "defaults".
func parseObject(v *yaml.Node, what string, fail failFunc, fn func(name string, k, f *yaml.Node)) {
	if v.Kind == yaml.ScalarNode && (v.Tag == "!!null" || v.Value == "true") {
		return
	}
	if v.Kind != yaml.MappingNode {
		fail(v.Line, "%s must be a mapping such as {within: 365d}", what)
		return
	}
	eachKey(v, fail, fn)
}

func parseForward(v *yaml.Node, fail failFunc) Forward {
	var f Forward
	if v.Kind != yaml.MappingNode {
		fail(v.Line, "forward must be a mapping with claims and/or headers")
		return f
	}
	eachKey(v, fail, func(key string, k, val *yaml.Node) {
		switch key {
		case "claims":
			for i, c := range stringList(val, "claims", fail) {
				line := val.Line
				if val.Kind == yaml.SequenceNode {
					line = val.Content[i].Line
				}
				if !knownClaim(c) {
					fail(line, "unknown claim %q", c)
					continue
				}
				f.Claims = append(f.Claims, c)
			}
		case "headers":
			if val.Kind != yaml.MappingNode {
				fail(val.Line, "headers must map header names to claims, such as X-User-Id: sub")
				return
			}
			eachKey(val, fail, func(name string, hk, hv *yaml.Node) {
				claim, ok := scalarString(hv)
				switch {
				case !validHeaderName(name):
					fail(hk.Line, "invalid header name %q", name)
				case strings.HasPrefix(strings.ToLower(name), "x-idgate-"):
					fail(hk.Line, "header %q: X-Idgate-* names are reserved for idgate", name)
				case !ok || !knownClaim(claim):
					fail(hv.Line, "header %s: unknown claim %q", name, hv.Value)
				default:
					f.Headers = append(f.Headers, Header{Name: textproto.CanonicalMIMEHeaderKey(name), Claim: claim})
				}
			})
		default:
			fail(k.Line, "unknown key %q in forward (known: claims, headers)", key)
		}
	})
	return f
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	lower := strings.ToLower(s)
	// Headers the proxy owns, and hop-by-hop headers (RFC 9110 §7.6.1), which never reach the
	// upstream as the policy meant.
	for _, h := range []string{"host", "cookie", "authorization", "content-length", "transfer-encoding", "connection",
		"upgrade", "te", "trailer", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate", "forwarded"} {
		if lower == h {
			return false
		}
	}
	return true
}

// Names returns the sorted names of the policies in s.
func (s *Set) Names() []string {
	out := make([]string, 0, len(s.byName))
	for n := range s.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
