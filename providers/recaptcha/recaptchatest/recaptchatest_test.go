package recaptchatest_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/idgate/idgate/providers"
	"github.com/idgate/idgate/providers/recaptcha"
	"github.com/idgate/idgate/providers/recaptcha/recaptchatest"
)

func setup(t *testing.T, key string) (*recaptchatest.Server, *recaptcha.Client) {
	srv := recaptchatest.NewServer("proj", "api-key", "site-key")
	t.Cleanup(srv.Close)
	c, err := recaptcha.New(recaptcha.Config{ProjectID: "proj", APIKey: key, SiteKey: "site-key", APIBase: srv.URL(), HTTPClient: &http.Client{Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func flow(t *testing.T, srv *recaptchatest.Server, c *recaptcha.Client, account string, wrongPIN bool) string {
	ctx := context.Background()
	a, err := c.Assess(ctx, recaptcha.Request{Token: srv.ExecuteToken(), ExpectedAction: "mfa", AccountID: account, Email: "u@example.com"})
	if err != nil || !a.TokenProperties.Valid {
		t.Fatalf("first assessment: %+v %v", a, err)
	}
	rt := a.RequestToken("u@example.com")
	if rt == "" || !srv.Challenge(rt) {
		t.Fatal("no request token")
	}
	pin := srv.LastPIN("u@example.com")
	if wrongPIN {
		pin = "000000x"
	}
	v, _ := srv.Verify(rt, pin)
	a, err = c.Assess(ctx, recaptcha.Request{Token: v, ExpectedAction: "mfa", AccountID: "acct", Email: "u@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return a.AccountVerification.LatestVerificationResult
}

func TestAccountVerification(t *testing.T) {
	srv, c := setup(t, "api-key")
	if got := flow(t, srv, c, "acct", false); got != recaptcha.ResultVerified {
		t.Fatalf("right PIN: %s", got)
	}
	if got := flow(t, srv, c, "acct", true); got != recaptcha.ResultNotVerified {
		t.Fatalf("wrong PIN: %s", got)
	}
	if got := flow(t, srv, c, "another-account", false); got != recaptcha.ResultVerdictMismatch {
		t.Fatalf("verdict for another account: %s", got)
	}
	srv.SetKnobs(recaptchatest.Knobs{ForceResult: recaptcha.ResultRecipientNotAllowed})
	if got := flow(t, srv, c, "acct", false); got != recaptcha.ResultRecipientNotAllowed {
		t.Fatalf("forced: %s", got)
	}
}

func TestTokenAndAPIErrors(t *testing.T) {
	srv, c := setup(t, "api-key")
	ctx := context.Background()
	tok := srv.ExecuteToken()
	c.Assess(ctx, recaptcha.Request{Token: tok, AccountID: "a", Email: "u@example.com"})
	a, _ := c.Assess(ctx, recaptcha.Request{Token: tok, AccountID: "a", Email: "u@example.com"})
	if a.TokenProperties.Valid || a.TokenProperties.InvalidReason != "DUPE" {
		t.Fatalf("reused token: %+v", a.TokenProperties)
	}
	a, _ = c.Assess(ctx, recaptcha.Request{Token: "garbage", AccountID: "a", Email: "u@example.com"})
	if a.TokenProperties.Valid || a.TokenProperties.InvalidReason != "MALFORMED" {
		t.Fatalf("garbage token: %+v", a.TokenProperties)
	}
	srv.SetKnobs(recaptchatest.Knobs{Status: 503})
	var pe *providers.Error
	if _, err := c.Assess(ctx, recaptcha.Request{Token: "x"}); !errors.As(err, &pe) || pe.Code != providers.CodeUnavailable {
		t.Fatalf("503: %v", err)
	}
	_, bad := setup(t, "wrong-key")
	if _, err := bad.Assess(ctx, recaptcha.Request{Token: "x"}); !errors.As(err, &pe) || pe.Code != providers.CodeMisconfigured {
		t.Fatalf("wrong key: %v", err)
	}
}
