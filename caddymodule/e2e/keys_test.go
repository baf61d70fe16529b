package e2e

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/golang-jwt/jwt/v5"
	"github.com/idgate/idgate/caddymodule"
	"github.com/idgate/idgate/internal/assertion"
)

func jwks(t *testing.T) assertion.JWKS {
	t.Helper()
	resp, err := http.Get(sb.URL + "/.idgate/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set assertion.JWKS
	json.NewDecoder(resp.Body).Decode(&set)
	return set
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	return parsed.Header["kid"].(string)
}

func TestKeyRotationWhileSessionsAreOpen(t *testing.T) {
	b := newBrowser(t)
	b.login("naver", freshNaverUser(t), "/members/x")
	_, rep := b.report("/members/x", nil)
	oldTok := rep.Headers["X-Idgate-Assertion"]
	oldKid := kidOf(t, oldTok)
	kept := *b.sessionCookie()

	v, err := caddy.ActiveContext().AppIfConfigured("idgate")
	if err != nil {
		t.Fatal(err)
	}
	if err := v.(*caddymodule.App).RefreshKeys(true); err != nil {
		t.Fatal(err)
	}

	// Nobody is logged out: the cookie sealed with the old key still opens.
	status, rep := browserWith(t, kept).report("/members/x", nil)
	if status != 200 {
		t.Fatalf("session lost by rotation: %d", status)
	}
	newKid := kidOf(t, rep.Headers["X-Idgate-Assertion"])
	if newKid == oldKid {
		t.Fatal("assertions still signed with the old key")
	}
	// The JWKS lists both keys, so assertions signed before the rotation still verify.
	set := jwks(t)
	kids := map[string]bool{}
	for _, k := range set.Keys {
		kids[k.Kid] = true
	}
	if !kids[oldKid] || !kids[newKid] {
		t.Fatalf("JWKS after rotation: %v", kids)
	}
	if _, err := jwt.Parse(oldTok, set.Keyfunc(), jwt.WithValidMethods([]string{"ES256"})); err != nil {
		t.Fatalf("an assertion from before the rotation no longer verifies: %v", err)
	}
	// New logins get cookies sealed with the new key, and they work.
	nb := newBrowser(t)
	nb.login("naver", freshNaverUser(t), "/members/x")
	if status, _ := nb.report("/members/x", nil); status != 200 {
		t.Fatalf("new session after rotation: %d", status)
	}
}
