package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/idgate/idgate/caddymodule"
)

// phpVerify runs examples/verifiers/php/verify.php on tok with the sandbox's JWKS, issuer and
// audience (aud overrides the audience), with tmp as PHP's temp dir (its JWKS cache), and
// returns the claims it accepted, or nil.
func phpVerify(t *testing.T, tmp, tok, aud string) map[string]any {
	t.Helper()
	script, _ := filepath.Abs("../../examples/verifiers/php/verify.php")
	cmd := exec.Command("php", "-r", `require $argv[1]; echo json_encode(idgate_verify($argv[2], $argv[3], $argv[4], $argv[5]));`,
		"--", script, tok, sb.URL+"/.idgate/jwks.json", sb.URL, aud)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("php: %v\n%s", err, out)
	}
	var claims map[string]any
	if err := json.Unmarshal(out, &claims); err != nil {
		t.Fatalf("php printed %q", out)
	}
	return claims
}

// The PHP verifier a legacy app copies accepts idgate's assertion with nothing but the JWKS,
// refuses a forged signature, another audience and a made-up kid, and follows a key rotation.
func TestPHPVerifier(t *testing.T) {
	if _, err := exec.LookPath("php"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("php is required under CI=true (apt-get install php-cli)")
		}
		t.Skip("php not installed; apt-get install php-cli (mandatory under CI=true)")
	}
	tmp := t.TempDir()
	b := newBrowser(t)
	b.login("naver", "kim", "/vip/lounge")
	_, rep := b.report("/vip/lounge", nil)
	tok := rep.Headers["X-Idgate-Assertion"]

	claims := phpVerify(t, tmp, tok, sb.URL)
	if claims == nil || claims["sub"] != kimID || claims["policy"] != "vip-lounge" {
		t.Fatalf("PHP verifier: %v", claims)
	}
	parts := strings.Split(tok, ".")
	sig := []byte(parts[2])
	sig[10] ^= 1
	forged := parts[0] + "." + parts[1] + "." + string(sig)
	if c := phpVerify(t, tmp, forged, sb.URL); c != nil {
		t.Fatalf("PHP verifier accepted a forged signature: %v", c)
	}
	if c := phpVerify(t, tmp, tok, "https://other.example"); c != nil {
		t.Fatalf("PHP verifier accepted another audience: %v", c)
	}
	header, _ := json.Marshal(map[string]string{"alg": "ES256", "kid": "made-up", "typ": "JWT"})
	if c := phpVerify(t, tmp, base64.RawURLEncoding.EncodeToString(header)+"."+parts[1]+"."+parts[2], sb.URL); c != nil {
		t.Fatalf("PHP verifier accepted an unknown kid: %v", c)
	}

	// Keys rotate: the cached JWKS lacks the new kid, so the verifier fetches it again (at most
	// every 10 s: the cache is aged past that instead of waiting).
	v, err := caddy.ActiveContext().AppIfConfigured("idgate")
	if err != nil {
		t.Fatal(err)
	}
	if err := v.(*caddymodule.App).RefreshKeys(true); err != nil {
		t.Fatal(err)
	}
	_, rep = b.report("/vip/lounge", nil)
	rotated := rep.Headers["X-Idgate-Assertion"]
	if kidOf(t, rotated) == kidOf(t, tok) {
		t.Fatal("no new signing key after rotation")
	}
	if c := phpVerify(t, tmp, rotated, sb.URL); c != nil {
		t.Fatalf("accepted a new kid within 10 s of the last fetch: %v", c)
	}
	files, _ := filepath.Glob(filepath.Join(tmp, "idgate-jwks-*.json"))
	if len(files) != 1 {
		t.Fatalf("JWKS cache files: %v", files)
	}
	old := time.Now().Add(-11 * time.Second)
	os.Chtimes(files[0], old, old)
	if c := phpVerify(t, tmp, rotated, sb.URL); c == nil || c["sub"] != kimID {
		t.Fatalf("PHP verifier after a key rotation: %v", c)
	}
	if c := phpVerify(t, tmp, tok, sb.URL); c == nil {
		t.Fatal("an assertion signed before the rotation no longer verifies in PHP")
	}
}
