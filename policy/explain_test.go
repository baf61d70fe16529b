package policy

import (
	"strings"
	"testing"
)

func TestExplain(t *testing.T) {
	s := mustLoad(t, map[string]string{
		"adult.yaml": "name: adult-board\npaths: [/adult/*]\nrequire:\n  login: [naver]\n  adult: {within: 365d}\n  mfa: {within: 10m, methods: [totp]}\nforward:\n  claims: [birthdate]\n  headers: {X-User-Id: sub}\n",
		"php.yaml":   "paths: [\"*.php\"]\npublic: true\n",
	})
	e := s.Explain("/ADULT/../adult/x")
	if e.Policy == nil || e.Policy.Name != "adult-board" || e.Pattern != "/adult/*" || e.Kind != "prefix" || e.Path != "/adult/x" {
		t.Fatalf("explain = %+v", e)
	}
	d := e.Policy.Describe()
	for _, want := range []string{"login: naver", "adult: verified birth date says 19+ (korean rule), verification within 365d", "mfa: second factor within 10m0s by totp", "extra assertion claims: birthdate", "header X-User-Id: sub"} {
		if !strings.Contains(d, want) {
			t.Errorf("describe lacks %q:\n%s", want, d)
		}
	}
	if e := s.Explain("/x.php"); e.Kind != "suffix" || e.Pattern != "*.php" {
		t.Fatalf("suffix: %+v", e)
	}
	if e := s.Explain("/none"); e.Policy != nil {
		t.Fatalf("no policy: %+v", e)
	}
}

func TestLint(t *testing.T) {
	s := mustLoad(t, map[string]string{
		"all.yaml":   "paths: [\"*\"]\nrequire: {login: true}\n",
		"php.yaml":   "paths: [\"*.php\"]\nrequire: {login: [naver]}\n",
		"admin.yaml": "paths: [/admin/*]\nrequire:\n  login: true\n  mfa: {}\n",
		"help.yaml":  "paths: [/admin/help/*]\npublic: true\n",
		"shop.yaml":  "paths: [\"/shop/*/admin\"]\nrequire: {login: true}\n",
		"exact.yaml": "paths: [/admin/status]\npublic: true\n",
	})
	var text []string
	for _, f := range s.Lint() {
		text = append(text, f.String())
	}
	all := strings.Join(text, "\n")
	for _, want := range []string{
		`error: php (policies/php.yaml:1): pattern "*.php" can never win`,
		"error: php (policies/php.yaml:1): unreachable",
		`error: shop (policies/shop.yaml:1): pattern "/shop/*/admin" can never win`,
		`warning: help (policies/help.yaml:1): "/admin/help/*" narrows "/admin/*" (policy admin) with weaker requirements`,
		`warning: exact (policies/exact.yaml:1): exact path "/admin/status" inside "/admin/*" (policy admin) has weaker requirements`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("lint lacks %q; got:\n%s", want, all)
		}
	}
	if e := s.Explain("/anything"); e.Kind != "catch-all" || e.Pattern != "*" {
		t.Fatalf("the catch-all is not an exact pattern: %+v", e)
	}
	if clean := mustLoad(t, map[string]string{"a.yaml": "paths: [/a/*]\nrequire: {login: true}\n"}).Lint(); len(clean) != 0 {
		t.Fatalf("clean set has findings: %v", clean)
	}
}

func TestLintExactPathThatLeavesItsSubtreeToAWeakerPolicy(t *testing.T) {
	s := mustLoad(t, map[string]string{
		"all.yaml":   "paths: [\"*\"]\npublic: true\n",
		"admin.yaml": "name: admin\npaths:\n  - /admin\nrequire:\n  login: true\n  mfa: {}\n",
	})
	var got []string
	for _, f := range s.Lint() {
		got = append(got, f.String())
	}
	want := `warning: admin (policies/admin.yaml:3): exact path "/admin" protects only itself: "/admin/…" is governed by policy all, with weaker requirements; list "/admin/*" too to cover what lies below it`
	if !strings.Contains(strings.Join(got, "\n"), want) {
		t.Fatalf("lint lacks %q; got:\n%s", want, strings.Join(got, "\n"))
	}
}
