package policy

import (
	"strings"
	"testing"
)

func FuzzPolicyLoad(f *testing.F) {
	f.Add([]byte("paths: [/a/*]\nrequire: {login: [naver], adult: {within: 365d}}\nforward: {headers: {X-U: sub}}\n"))
	f.Add([]byte("paths: \"*\"\npublic: true\n"))
	f.Add([]byte("- a\n- b\n"))
	f.Add([]byte("paths: [/a]\nrequire: {mfa: {methods: [totp], within: 1d1h}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Load([]File{{Name: "f.yaml", Data: data}})
		if err != nil {
			if !strings.Contains(err.Error(), "f.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, p := range s.Policies() {
			if !p.Public && len(p.Require.Order) == 0 {
				t.Fatalf("loaded a non-public policy without requirements")
			}
		}
	})
}

func FuzzPathMatch(f *testing.F) {
	s, err := Load([]File{
		{Name: "a.yaml", Data: []byte("paths: [/a/*, /exact, \"*.php\", \"/g/*/x\"]\nrequire: {login: true}\n")},
		{Name: "p.yaml", Data: []byte("paths: [/public/*]\npublic: true\n")},
	})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{"/a/b", "/public/../a/b", "//a//b", "/A/B", "/exact", "/x.php", "/g/1/x", "", "a/b"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got := s.Match(p)
		// A path that cleans into /a/ must never be governed by the public policy.
		if strings.HasPrefix(CleanPath(p), "/a/") && (got == nil || got.Name != "a") {
			t.Fatalf("Match(%q) = %v, want policy a", p, got)
		}
		if CleanPath(CleanPath(p)) != CleanPath(p) {
			t.Fatalf("CleanPath not idempotent for %q", p)
		}
	})
}

func FuzzDuration(f *testing.F) {
	for _, s := range []string{"365d", "1d12h", "10m", "0s", "9999999999999999999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err == nil && d <= 0 {
			t.Fatalf("ParseDuration(%q) = %v without error", s, d)
		}
	})
}
