package policy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/internal/identity"
)

func load(t *testing.T, files map[string]string) (*Set, error) {
	t.Helper()
	var fs []File
	for name, body := range files {
		fs = append(fs, File{Name: "policies/" + name, Data: []byte(body)})
	}
	return Load(fs)
}

func mustLoad(t *testing.T, files map[string]string) *Set {
	t.Helper()
	s, err := load(t, files)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return s
}

func TestParseFullSchema(t *testing.T) {
	s := mustLoad(t, map[string]string{"adult.yaml": `
name: adult-zone
paths: ["/adult/*", "/r19"]
require:
  login: [naver, kakao]
  phone: {within: 365d}
  adult: {within: 365d}
  mfa:   {within: 10m, methods: [totp]}
forward:
  claims: [name, birthdate]
  headers:
    X-User-Id: sub
    x-user-adult: adult
`})
	p, ok := s.Get("adult-zone")
	if !ok {
		t.Fatal("policy adult-zone not found by name")
	}
	if got := fmt.Sprint(p.Require.Order); got != "[login phone adult mfa]" {
		t.Errorf("order = %s", got)
	}
	if p.Require.Phone.Within != 365*24*time.Hour || p.Require.MFA.Within != 10*time.Minute {
		t.Errorf("windows = %v %v", p.Require.Phone.Within, p.Require.MFA.Within)
	}
	if p.Require.Adult.MinAge != 19 || p.Require.Adult.AgeRule != "korean" {
		t.Errorf("adult defaults = %+v", p.Require.Adult)
	}
	if got := fmt.Sprint(s.ForwardedHeaders()); got != "[X-User-Adult X-User-Id]" {
		t.Errorf("forwarded headers = %s", got)
	}
	if !s.UsesClaim("name") || s.UsesClaim("email") {
		t.Error("UsesClaim does not reflect forward.claims")
	}
	if p.Where(ReqMFA) != "policies/adult.yaml:8" {
		t.Errorf("Where(mfa) = %s", p.Where(ReqMFA))
	}
}

type loadErrCase struct {
	name  string
	files map[string]string
	want  []string // substrings, each must appear
}

func (c loadErrCase) run(t *testing.T) {
	_, err := load(t, c.files)
	if err == nil {
		t.Fatalf("expected an error containing %q", c.want)
	}
	for _, w := range c.want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

func TestLoadErrorsNameFileAndLine(t *testing.T) {
	for _, c := range []loadErrCase{
		{"unknown top-level key names its line", map[string]string{"a.yaml": "paths: [/a]\nrequir:\n  login: true\n"},
			[]string{`unknown key "requir"`, "policies/a.yaml:2"}},
		{"unknown requirement", map[string]string{"a.yaml": "paths: [/a]\nrequire:\n  login: true\n  face: {}\n"},
			[]string{`unknown requirement "face"`, "policies/a.yaml:4"}},
		{"bad duration", map[string]string{"a.yaml": "paths: [/a]\nrequire:\n  mfa: {within: 10x}\n"},
			[]string{"unknown unit", "policies/a.yaml:3"}},
		{"bare number duration", map[string]string{"a.yaml": "paths: [/a]\nrequire:\n  phone: {within: 365}\n"},
			[]string{"missing unit", "policies/a.yaml:3"}},
		{"syntax error", map[string]string{"a.yaml": "paths: [/a\nrequire: {login: true}\n"},
			[]string{"invalid YAML", "policies/a.yaml:"}},
		{"tie between two files is a load error", map[string]string{
			"a.yaml": "paths: [/x/*]\nrequire: {login: true}\n",
			"b.yaml": "paths: [\"/X/*\"]\npublic: true\n"},
			[]string{"two policies cannot tie", `"/X/*"`, "policies/b.yaml:1"}},
		{"public with requirements", map[string]string{"a.yaml": "paths: [/a]\npublic: true\nrequire: {login: true}\n"},
			[]string{"public policy cannot have requirements"}},
		{"neither public nor require", map[string]string{"a.yaml": "paths: [/a]\n"},
			[]string{"needs require", "policies/a.yaml:1"}},
		{"unknown claim", map[string]string{"a.yaml": "paths: [/a]\nrequire: {login: true}\nforward:\n  claims: [name, shoe_size]\n"},
			[]string{`unknown claim "shoe_size"`, "policies/a.yaml:4"}},
		{"reserved header", map[string]string{"a.yaml": "paths: [/a]\nrequire: {login: true}\nforward:\n  headers:\n    X-Idgate-User: sub\n"},
			[]string{"reserved", "policies/a.yaml:5"}},
		{"duplicate key", map[string]string{"a.yaml": "paths: [/a]\npaths: [/b]\nrequire: {login: true}\n"},
			[]string{"duplicate key", "policies/a.yaml:2"}},
		{"relative path", map[string]string{"a.yaml": "paths: [adult]\nrequire: {login: true}\n"},
			[]string{"must start with /", "policies/a.yaml:1"}},
		{"duplicate names", map[string]string{
			"a.yaml": "name: x\npaths: [/a]\nrequire: {login: true}\n",
			"b.yaml": "name: x\npaths: [/b]\nrequire: {login: true}\n"},
			[]string{`policy name "x" is also used`}},
		{"empty require (found by FuzzPolicyLoad)", map[string]string{"a.yaml": "paths: [/a]\nrequire: {}\n"},
			[]string{"require lists no requirement", "policies/a.yaml:2"}},
		{"min_age out of range", map[string]string{"a.yaml": "paths: [/a]\nrequire:\n  adult: {min_age: 300}\n"},
			[]string{"min_age", "policies/a.yaml:3"}},
	} {
		t.Run(c.name, c.run)
	}
}

func TestLoadReportsEveryProblemAtOnce(t *testing.T) {
	_, err := load(t, map[string]string{
		"a.yaml": "paths: [/a]\nrequir: {}\n",
		"b.yaml": "paths: [/b]\nrequire: {login: true}\nforward: {claims: [nope]}\n",
	})
	var perrs []*Error
	for _, e := range flatten(err) {
		var pe *Error
		if errors.As(e, &pe) {
			perrs = append(perrs, pe)
		}
	}
	if len(perrs) < 3 { // unknown key, missing require, unknown claim
		t.Fatalf("want at least 3 located errors, got %d: %v", len(perrs), err)
	}
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "members.yaml"), []byte("paths: [/members/*]\nrequire: {login: [naver]}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "README.txt"), []byte("ignored"), 0o644)
	s, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Match("/members/1"); p == nil || p.Name != "members" {
		t.Fatalf("match = %+v", p)
	}
	if _, err := LoadDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no *.yaml") {
		t.Fatalf("empty dir error = %v", err)
	}
}

func TestMatchMostSpecificWins(t *testing.T) {
	s := mustLoad(t, map[string]string{
		"all.yaml":     "paths: [\"*\"]\nrequire: {login: true}\n",
		"public.yaml":  "paths: [/, /static/*, /favicon.ico]\npublic: true\n",
		"members.yaml": "paths: [/members/*]\nrequire: {login: true}\n",
		"vip.yaml":     "paths: [/members/vip/*]\nrequire: {login: [naver]}\n",
		"exact.yaml":   "paths: [/members/vip/welcome]\npublic: true\n",
		"php.yaml":     "paths: [\"*.php\"]\nrequire: {login: [kakao]}\n",
		"glob.yaml":    "paths: [\"/shop/*/admin\"]\nrequire: {login: [naver]}\n",
	})
	for path, want := range map[string]string{
		"/":                        "public",
		"/members/1":               "members",
		"/MEMBERS/1":               "members",
		"/members/vip/x":           "vip",
		"/members/vip/welcome":     "exact",
		"/members//vip/x":          "vip",
		"/static/../members/vip":   "members",
		"/public/../members/vip/y": "vip",
		"/board/list.php":          "all", // prefix "*" is more specific than suffix patterns by class
		"/shop/1/admin":            "all",
		"/favicon.ico":             "public",
	} {
		got := s.Match(path)
		if got == nil || got.Name != want {
			t.Errorf("Match(%q) = %v, want %s", path, got, want)
		}
	}
	// Without a catch-all, suffix and glob patterns apply.
	s2 := mustLoad(t, map[string]string{
		"php.yaml":  "paths: [\"*.php\"]\nrequire: {login: [kakao]}\n",
		"glob.yaml": "paths: [\"/shop/*/admin\"]\nrequire: {login: [naver]}\n",
		"sub.yaml":  "paths: [\"*secret*\"]\nrequire: {login: true}\n",
	})
	for path, want := range map[string]string{
		"/board/list.php": "php",
		"/shop/1/admin":   "glob",
		"/a/secret/b":     "sub",
		"/nothing":        "",
	} {
		got := s2.Match(path)
		name := ""
		if got != nil {
			name = got.Name
		}
		if name != want {
			t.Errorf("Match(%q) = %q, want %q", path, name, want)
		}
	}
}

func TestEvaluate(t *testing.T) {
	s := mustLoad(t, map[string]string{
		"m.yaml": "paths: [/m/*]\nrequire: {login: [naver]}\n",
		"p.yaml": "paths: [/p/*]\npublic: true\n",
		"a.yaml": "paths: [/a/*]\nrequire: {adult: {}}\n",
	})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	naver := &identity.Identity{Subject: "naver:1", Provider: "naver"}
	kakao := &identity.Identity{Subject: "kakao:1", Provider: "kakao"}
	m, _ := s.Get("m")
	p, _ := s.Get("p")
	a, _ := s.Get("a")
	cases := []struct {
		pol  *Policy
		id   *identity.Identity
		want Reason
	}{
		{nil, naver, ReasonNoPolicy},
		{p, nil, ReasonPublic},
		{m, nil, ReasonLoginRequired},
		{m, &identity.Identity{}, ReasonLoginRequired},
		{m, kakao, ReasonProviderNotAccepted},
		{m, naver, ReasonOK},
		{a, nil, ReasonLoginRequired},
		{a, kakao, ReasonAdultRequired},
	}
	for _, c := range cases {
		if got := Evaluate(c.pol, c.id, now); got.Reason != c.want {
			t.Errorf("Evaluate(%v, %v) = %v, want %v", c.pol, c.id, got.Reason, c.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"365d": 365 * 24 * time.Hour, "10m": 10 * time.Minute, "90s": 90 * time.Second,
		"1d12h": 36 * time.Hour, " 2h ": 2 * time.Hour,
	} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "10", "d", "-1d", "1w", "0s", "99999999999999999d", "1.5h"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", bad)
		}
	}
}

func benchSet(b *testing.B, n int) *Set {
	var fs []File
	for i := 0; i < n; i++ {
		fs = append(fs, File{Name: fmt.Sprintf("p%d.yaml", i),
			Data: []byte(fmt.Sprintf("paths: [\"/section%d/*\", \"/page%d\", \"/area/%d/sub/*\"]\nrequire: {login: true}\n", i, i, i))})
	}
	s, err := Load(fs)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkMatch shows that matching does not slow down with the number of policy files.
func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{10, 1000} {
		s := benchSet(b, n)
		b.Run(fmt.Sprintf("policies=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if s.Match("/area/7/sub/deeper/page.html") == nil {
					b.Fatal("no match")
				}
			}
		})
	}
}

func TestPolicyMethodsAndHopByHopHeaders(t *testing.T) {
	for name, body := range map[string]string{
		"methods: [] would refuse every request": "paths: [/a/*]\nmethods: []\nrequire: {login: true}\n",
		"CONNECT is never let through":           "paths: [/a/*]\nmethods: [GET, CONNECT]\nrequire: {login: true}\n",
		"mfa methods: [] would accept no method": "paths: [/a/*]\nrequire: {login: true, mfa: {methods: []}}\n",
		"invalid header name \"Upgrade\"":        "paths: [/a/*]\nrequire: {login: true}\nforward:\n  headers: {Upgrade: sub}\n",
		"invalid header name \"TE\"":             "paths: [/a/*]\nrequire: {login: true}\nforward:\n  headers: {TE: sub}\n",
	} {
		_, err := Load([]File{{Name: "a.yaml", Data: []byte(body)}})
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "a.yaml:") {
			t.Errorf("%q: %v", body, err)
		}
	}
	set, err := Load([]File{{Name: "dav.yaml", Data: []byte("paths: [/dav/*]\nmethods: [get, PROPFIND]\nrequire: {login: true}\n")}, {Name: "p.yaml", Data: []byte("paths: [/p/*]\npublic: true\n")}})
	if err != nil {
		t.Fatal(err)
	}
	dav, _ := set.Get("dav")
	p, _ := set.Get("p")
	if !dav.AllowsMethod("PROPFIND") || !dav.AllowsMethod("GET") || dav.AllowsMethod("POST") || !p.AllowsMethod("DELETE") || p.AllowsMethod("TRACE") || p.AllowsMethod("PROPFIND") {
		t.Fatal("methods: wrong AllowsMethod")
	}
}
