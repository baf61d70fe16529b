package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// validate adapts a Caddyfile and runs Caddy's validation (what `caddy validate` does).
func validate(cf string) error {
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		return err
	}
	var c caddy.Config
	if err := json.Unmarshal(cfg, &c); err != nil {
		return err
	}
	return caddy.Validate(&c)
}

func writePolicies(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const naverBlock = `naver {
			client_id id
			client_secret secret
		}`

func caddyfile(global, site string) string {
	return "{\n\tadmin off\n\tidgate {\n\t\t" + global + "\n\t}\n}\nhttp://:0 {\n\t" + site + "\n\trespond ok\n}\n"
}

type validateCase struct {
	name     string
	policies map[string]string
	global   string
	site     string
	env      map[string]string
	want     []string
}

func (c validateCase) run(t *testing.T) {
	for k, v := range c.env {
		t.Setenv(k, v)
	}
	global := c.global
	if c.policies != nil {
		global = "policies " + writePolicies(t, c.policies) + "\n\t\t" + global
	}
	site := c.site
	if site == "" {
		site = "idgate"
	}
	err := validate(caddyfile(global, site))
	if len(c.want) == 0 {
		if err != nil {
			t.Fatalf("valid config refused: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("invalid config accepted; want %q", c.want)
	}
	for _, w := range c.want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q\ndoes not contain %q", err, w)
		}
	}
}

func TestValidateReportsEveryMistakeWithItsPlace(t *testing.T) {
	members := map[string]string{"members.yaml": "paths: [/members/*]\nrequire:\n  login: [naver]\n"}
	for _, c := range []validateCase{
		{name: "a valid config", policies: members, global: naverBlock},
		{name: "broken YAML names file and line", policies: map[string]string{"adult.yaml": "paths: [/a/*]\nrequire:\n  login: [naver\n"}, global: naverBlock,
			want: []string{"adult.yaml:"}},
		{name: "unknown policy key names file and line", policies: map[string]string{"adult.yaml": "paths: [/a/*]\nrequire:\n  login: [naver]\n  ag: {}\n"}, global: naverBlock,
			want: []string{`unknown requirement "ag"`, "adult.yaml:4"}},
		{name: "ambiguous policies", policies: map[string]string{"a.yaml": "paths: [/a/*]\nrequire: {login: true}\n", "b.yaml": "paths: [/a/*]\npublic: true\n"}, global: naverBlock,
			want: []string{"two policies cannot tie", "b.yaml:1"}},
		{name: "policy names an unconfigured provider", policies: map[string]string{"m.yaml": "paths: [/m/*]\nrequire:\n  login: [naver, kakao]\n"}, global: naverBlock,
			want: []string{`login provider "kakao"`, "m.yaml:3"}},
		{name: "requirement without a verifier", policies: map[string]string{"adult.yaml": "paths: [/adult/*]\nrequire:\n  login: [naver]\n  adult: {within: 365d}\n"}, global: naverBlock,
			want: []string{"requires adult", "adult.yaml:4"}},
		{name: "secret from an unset environment variable", policies: members,
			global: "naver {\n\t\t\tclient_id id\n\t\t\tclient_secret {env.IDGATE_TEST_UNSET_SECRET}\n\t\t}", want: []string{"client_secret", "environment variable"}},
		{name: "secret from a set environment variable", policies: members, env: map[string]string{"IDGATE_TEST_SECRET": "s3cret"},
			global: "naver {\n\t\t\tclient_id id\n\t\t\tclient_secret {env.IDGATE_TEST_SECRET}\n\t\t}"},
		{name: "unknown subdirective names the Caddyfile line", policies: members, global: naverBlock + "\n\t\tsesion {\n\t\t}",
			want: []string{`unknown idgate subdirective "sesion"`, "Caddyfile:"}},
		{name: "unknown naver subdirective", policies: members, global: "naver {\n\t\t\tclient_id id\n\t\t\tclient_secret s\n\t\t\tclient_scret x\n\t\t}",
			want: []string{`unknown naver subdirective "client_scret"`, "Caddyfile:8"}},
		{name: "missing client secret", policies: members, global: "naver {\n\t\t\tclient_id id\n\t\t}", want: []string{"client_secret"}},
		{name: "unknown policy on the directive", policies: members, global: naverBlock, site: "idgate membres", want: []string{`unknown policy "membres"`, "known: members"}},
		{name: "no policies at all", global: naverBlock, want: []string{"no policies are loaded"}},
		{name: "missing policy directory", global: "policies /nonexistent/idgate\n\t\t" + naverBlock, want: []string{"/nonexistent/idgate"}},
		{name: "bad session key", policies: members, global: naverBlock + "\n\t\tsession {\n\t\t\tkey c2hvcnQ=\n\t\t}", want: []string{"session key #1 must be 32 bytes"}},
		{name: "a glob next to a catch-all can never win (policies that protect nothing fail validation)",
			policies: map[string]string{"all.yaml": "paths: [\"*\"]\npublic: true\n", "admin.yaml": "paths:\n  - \"/admin/**\"\nrequire: {login: true}\n"}, global: naverBlock,
			want: []string{`pattern "/admin/**" can never win`, "admin.yaml:2", "unreachable"}},
		{name: "a shop glob next to a catch-all can never win",
			policies: map[string]string{"all.yaml": "paths: [\"*\"]\npublic: true\n", "shop.yaml": "paths: [\"/shop/*/admin\"]\nrequire: {login: true}\n"}, global: naverBlock,
			want: []string{`pattern "/shop/*/admin" can never win`, "shop.yaml:1"}},
		{name: "an exact path leaving its subtree to a public catch-all is a warning, an error with strict_policies",
			policies: map[string]string{"all.yaml": "paths: [\"*\"]\npublic: true\n", "admin.yaml": "paths: [/admin]\nrequire: {login: true}\n"}, global: naverBlock + "\n\t\tstrict_policies",
			want: []string{`exact path "/admin" protects only itself`, "admin.yaml:1"}},
		{name: "the same exact path without strict_policies validates", policies: map[string]string{"all.yaml": "paths: [\"*\"]\npublic: true\n", "admin.yaml": "paths: [/admin]\nrequire: {login: true}\n"}, global: naverBlock},
		{name: "noncanonical_paths takes refuse or rewrite", policies: members, global: naverBlock + "\n\t\tnoncanonical_paths clean", want: []string{"noncanonical_paths must be refuse or rewrite"}},
		{name: "bad algorithm", policies: members, global: naverBlock + "\n\t\tassertion {\n\t\t\talgorithm HS256\n\t\t}", want: []string{"ES256 or EdDSA"}},
	} {
		t.Run(c.name, c.run)
	}
}

// TestCaddyValidateCommand runs the real `caddy validate` of cmd/caddy on a broken policy.
func TestCaddyValidateCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/caddy")
	}
	bin := caddyBinary(t)
	pol := writePolicies(t, map[string]string{"adult.yaml": "name: adult\npaths: [/adult/*]\nrequire:\n  login: [naver]\n  mfa: {within: 10x}\n"})
	cf := filepath.Join(t.TempDir(), "Caddyfile")
	os.WriteFile(cf, []byte(caddyfile("policies "+pol+"\n\t\t"+naverBlock, "idgate")), 0o644)
	out, err := exec.Command(bin, "validate", "--config", cf, "--adapter", "caddyfile").CombinedOutput()
	if err == nil || !strings.Contains(string(out), filepath.Join(pol, "adult.yaml")+":5") || !strings.Contains(string(out), "unknown unit") {
		t.Fatalf("caddy validate: err=%v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(pol, "adult.yaml"), []byte("name: adult\npaths: [/adult/*]\nrequire:\n  login: [naver]\n"), 0o644)
	out, err = exec.Command(bin, "validate", "--config", cf, "--adapter", "caddyfile").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Valid configuration") {
		t.Fatalf("caddy validate on a fixed config: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "list-modules").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "http.handlers.idgate") || !strings.Contains(string(out), "\nidgate\n") {
		t.Fatalf("list-modules lacks idgate: %s", out)
	}
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// caddyBinary builds cmd/caddy once per test run.
func caddyBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "idgate-caddy-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "caddy")
		build := exec.Command("go", "build", "-o", builtBin, "./cmd/caddy")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building cmd/caddy: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func TestExplainAndLintCommands(t *testing.T) {
	bin := caddyBinary(t)
	cf := filepath.Join(t.TempDir(), "Caddyfile")
	os.WriteFile(cf, []byte(sb.Caddyfile), 0o644)
	out, err := exec.Command(bin, "idgate", "explain", "--config", cf, "--adapter", "caddyfile", "--path", "/ADULT/x/../board").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "policy adult-board") || !strings.Contains(string(out), `prefix pattern "/adult/*"`) ||
		!strings.Contains(string(out), "adult: verified birth date says 19+ (korean rule)") ||
		!strings.Contains(string(out), "refused with path_not_canonical (dot segment)") || !strings.Contains(string(out), "rewrite it becomes /ADULT/board") {
		t.Fatalf("explain: %v\n%s", err, out)
	}
	out, _ = exec.Command(bin, "idgate", "explain", "--config", cf, "--adapter", "caddyfile", "--path", "/public/%252e%252e/adult").CombinedOutput()
	if !strings.Contains(string(out), "in either noncanonical_paths mode") || strings.Contains(string(out), "policy ") {
		t.Fatalf("explain of a double-encoded path: %s", out)
	}
	out, err = exec.Command(bin, "idgate", "lint", "--config", cf, "--adapter", "caddyfile").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "0 errors") {
		t.Fatalf("lint of the demo policies: %v\n%s", err, out)
	}
	dir := writePolicies(t, map[string]string{
		"all.yaml": "paths: [\"*\"]\nrequire: {login: true}\n",
		"php.yaml": "paths: [\"*.php\"]\npublic: true\n",
	})
	out, err = exec.Command(bin, "idgate", "lint", "--policies", dir).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "unreachable") || !strings.Contains(string(out), "can never win") {
		t.Fatalf("lint of a shadowed policy: %v\n%s", err, out)
	}
}
