package portonetest_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/providers"
	"github.com/idgate/idgate/providers/portone"
	"github.com/idgate/idgate/providers/portone/portonetest"
)

func setup(t *testing.T, secret string) (*portonetest.Server, *portone.Client) {
	t.Helper()
	srv := portonetest.NewServer("store-1", "channel-key-1", "api-secret")
	t.Cleanup(srv.Close)
	c, err := portone.New(portone.Config{StoreID: "store-1", ChannelKey: "channel-key-1", APISecret: secret, APIBase: srv.URL(),
		HTTPClient: &http.Client{Timeout: 500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func code(err error) string {
	var pe *providers.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func TestStatuses(t *testing.T) {
	srv, c := setup(t, "api-secret")
	ctx := context.Background()
	if _, err := c.IdentityVerification(ctx, "iv-unknown"); code(err) != portone.CodeNotFound {
		t.Fatalf("unknown id: %v", err)
	}
	srv.Open("iv-1")
	iv, err := c.IdentityVerification(ctx, "iv-1")
	if err != nil || iv.Status != portone.StatusReady || iv.VerifiedCustomer != nil {
		t.Fatalf("ready: %+v %v", iv, err)
	}
	srv.Complete("iv-1", "adult")
	iv, err = c.IdentityVerification(ctx, "iv-1")
	if err != nil || iv.Status != portone.StatusVerified || iv.VerifiedCustomer.BirthDate != "1990-01-01" || iv.VerifiedCustomer.CI == "" || iv.ProviderName() != "portone:danal" || iv.VerifiedAt.IsZero() {
		t.Fatalf("verified: %+v %v", iv, err)
	}
	srv.Complete("iv-2", "failed")
	iv, err = c.IdentityVerification(ctx, "iv-2")
	if err != nil || iv.Status != portone.StatusFailed || iv.Failure == nil || iv.Failure.PGMessage == "" {
		t.Fatalf("failed: %+v %v", iv, err)
	}
	srv.Complete("iv-3", "foreigner")
	iv, _ = c.IdentityVerification(ctx, "iv-3")
	if iv.VerifiedCustomer.IsForeigner == nil || !*iv.VerifiedCustomer.IsForeigner {
		t.Fatal("foreigner flag")
	}
}

func TestPersonasFollowTheYear(t *testing.T) {
	ps := portonetest.Personas(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	got := map[string]string{}
	for _, p := range ps {
		got[p.Key] = p.BirthDate
	}
	if got["minor18"] != "2008-01-01" || got["adult19"] != "2007-12-31" {
		t.Fatalf("personas = %v", got)
	}
}

func TestErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		secret string
		knobs  portonetest.Knobs
		code   string
	}{
		{"wrong secret", "wrong", portonetest.Knobs{}, providers.CodeMisconfigured},
		{"PortOne down", "api-secret", portonetest.Knobs{Status: 503}, providers.CodeUnavailable},
		{"PortOne slow", "api-secret", portonetest.Knobs{Delay: 2 * time.Second}, providers.CodeUnavailable},
		{"malformed body", "api-secret", portonetest.Knobs{Malformed: true}, providers.CodeBadResponse},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, cl := setup(t, c.secret)
			srv.Complete("iv-1", "adult")
			srv.SetKnobs(c.knobs)
			if _, err := cl.IdentityVerification(context.Background(), "iv-1"); code(err) != c.code {
				t.Fatalf("err = %v, want %s", err, c.code)
			}
		})
	}
}

func TestSandboxPageAndSDK(t *testing.T) {
	srv, c := setup(t, "api-secret")
	resp, err := http.Get(srv.URL() + "/v2/browser-sdk.js")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("sdk: %v", err)
	}
	resp.Body.Close()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := strings.NewReader("identityVerificationId=iv-9&storeId=store-1&channelKey=channel-key-1&mode=redirect&redirectUrl=http%3A%2F%2Fapp%2Freturn&persona=minor18")
	resp, err = noFollow.Post(srv.URL()+"/sandbox/verify", "application/x-www-form-urlencoded", form)
	if err != nil || resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "http://app/return?") || !strings.Contains(resp.Header.Get("Location"), "identityVerificationId=iv-9") {
		t.Fatalf("redirect mode: %v %v", resp, err)
	}
	iv, _ := c.IdentityVerification(context.Background(), "iv-9")
	if iv.Status != portone.StatusVerified || !strings.HasSuffix(iv.VerifiedCustomer.BirthDate, "-01-01") {
		t.Fatalf("after sandbox: %+v", iv)
	}
}
