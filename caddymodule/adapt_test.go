package caddymodule_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/idgate/idgate/caddymodule"
)

// TestCaddyfileAdapt checks testdata/*.caddyfiletest: a Caddyfile, a line of dashes, and the JSON
// `caddy adapt` must produce. UPDATE_GOLDEN=1 rewrites the JSON half.
func TestCaddyfileAdapt(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.caddyfiletest")
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cf, want, ok := strings.Cut(string(data), "\n----------\n")
			if !ok {
				t.Fatal("golden file lacks the ---------- separator")
			}
			out, warns, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), map[string]any{"filename": "Caddyfile"})
			if err != nil {
				t.Fatalf("adapt: %v", err)
			}
			if len(warns) > 0 {
				t.Errorf("warnings: %v", warns)
			}
			var pretty bytes.Buffer
			json.Indent(&pretty, out, "", "\t")
			got := pretty.String() + "\n"
			if os.Getenv("UPDATE_GOLDEN") != "" {
				os.WriteFile(f, []byte(cf+"\n----------\n"+got), 0o644)
				return
			}
			if got != want {
				t.Fatalf("adapted JSON differs.\ngot:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestCaddyfileErrors(t *testing.T) {
	for cf, want := range map[string]string{
		"{\n\tidgate {\n\t\tnaver {\n\t\t\tclient_id x\n\t\t}\n\t}\n}\n":                      "naver needs client_id and client_secret",
		"{\n\tidgate {\n\t\toidc {\n\t\t}\n\t}\n}\n":                                          "oidc needs a provider name",
		"{\n\tidgate {\n\t\toidc Kakao {\n\t\t\tissuer x\n\t\t\tclient_id y\n\t\t}\n\t}\n}\n": "must be lower-case",
		"{\n\tidgate {\n\t\tsession {\n\t\t\tidle_timeout soon\n\t\t}\n\t}\n}\n":              `invalid duration "soon"`,
		"{\n\tidgate {\n\t\tpolicies\n\t}\n}\n":                                               "wrong argument count",
		":80 {\n\tidgate a b\n}\n":                                                            "wrong argument count",
		"{\n\tidgate {\n\t\tassertion {\n\t\t\talgorithm none\n\t\t}\n\t}\n}\n":               "ES256 or EdDSA",
	} {
		_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), map[string]any{"filename": "Caddyfile"})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "Caddyfile:") {
			t.Errorf("%q: error %v, want %q with its line", cf, err, want)
		}
	}
}
