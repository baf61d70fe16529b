package navertest_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/idgate/idgate/providers"
	"github.com/idgate/idgate/providers/naver"
	"github.com/idgate/idgate/providers/naver/navertest"
)

const redirect = "http://127.0.0.1:1/.idgate/callback/naver"

func setup(t *testing.T, oidc bool) (*navertest.Server, *naver.Client) {
	t.Helper()
	srv := navertest.NewServer("jyvqXeaVOVmV", "527300A0_COq1_XV33cf")
	t.Cleanup(srv.Close)
	c, err := naver.New(naver.Config{
		ClientID: "jyvqXeaVOVmV", ClientSecret: "527300A0_COq1_XV33cf",
		AuthorizeURL: srv.URL() + "/oauth2.0/authorize", TokenURL: srv.URL() + "/oauth2.0/token",
		ProfileURL: srv.URL() + "/v1/nid/me", OIDC: oidc, Issuer: srv.URL(),
		HTTPClient: &http.Client{Timeout: 2 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// authorize drives the browser leg and returns the callback query.
func authorize(t *testing.T, c *naver.Client, req providers.AuthRequest) url.Values {
	t.Helper()
	u, err := c.AuthURL(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := noFollow.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query()
}

func login(t *testing.T, c *naver.Client, pkce bool) (*providers.Callback, url.Values) {
	req := providers.AuthRequest{State: "st-1", RedirectURI: redirect}
	if pkce {
		req.Nonce, req.CodeVerifier = "n-1", "verifier-verifier-verifier-verifier-123456"
	}
	q := authorize(t, c, req)
	return &providers.Callback{Code: q.Get("code"), State: q.Get("state"), RedirectURI: redirect, Nonce: req.Nonce, CodeVerifier: req.CodeVerifier}, q
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Code != code {
		t.Fatalf("error = %v, want provider code %s", err, code)
	}
}

func TestClassicLogin(t *testing.T) {
	srv, c := setup(t, false)
	srv.SetKnobs(navertest.Knobs{AutoApprove: "kim"})
	cb, q := login(t, c, false)
	if q.Get("state") != "st-1" {
		t.Fatalf("state not echoed: %v", q)
	}
	l, err := c.Exchange(context.Background(), *cb)
	if err != nil {
		t.Fatal(err)
	}
	if l.Subject != "naver:CwcmtlCsh9RL2AS_gK-m_ET1UrQsTzcmer_RYWLJt7o" || l.Claims["name"] != "김민준" || l.Claims["birthyear"] != "1990" || l.Claims["mobile_e164"] != "+821012345678" {
		t.Fatalf("login = %+v", l)
	}
	// The code is single use: Naver answers HTTP 200 with an error body.
	_, err = c.Exchange(context.Background(), *cb)
	wantCode(t, err, providers.CodeInvalidGrant)
}

func TestExpiresInAsNumberToo(t *testing.T) {
	srv, c := setup(t, false)
	srv.SetKnobs(navertest.Knobs{AutoApprove: "park", ExpiresInNumber: true})
	cb, _ := login(t, c, false)
	l, err := c.Exchange(context.Background(), *cb)
	if err != nil {
		t.Fatal(err)
	}
	if _, has := l.Claims["email"]; has || l.Claims["nickname"] != "park***" {
		t.Fatalf("declined fields must be absent: %+v", l.Claims)
	}
}

func TestOIDCLoginWithPKCE(t *testing.T) {
	srv, c := setup(t, true)
	srv.SetKnobs(navertest.Knobs{AutoApprove: "lee"})
	cb, _ := login(t, c, true)
	l, err := c.Exchange(context.Background(), *cb)
	if err != nil {
		t.Fatal(err)
	}
	if l.Subject != "naver:Lx8f0Q2vS0h1bB3kT9nE7rY4uW6iP5oA1zC2dF3gH4j" {
		t.Fatalf("subject = %s", l.Subject)
	}
	// A wrong verifier fails PKCE.
	cb, _ = login(t, c, true)
	cb.CodeVerifier = "another-verifier-another-verifier-another-1"
	_, err = c.Exchange(context.Background(), *cb)
	wantCode(t, err, providers.CodeInvalidGrant)
}

func TestOIDCTokenChecks(t *testing.T) {
	for _, k := range []navertest.Knobs{{AutoApprove: "kim", BadNonce: true}, {AutoApprove: "kim", WrongAudience: true}} {
		srv, c := setup(t, true)
		srv.SetKnobs(k)
		cb, _ := login(t, c, true)
		_, err := c.Exchange(context.Background(), *cb)
		wantCode(t, err, providers.CodeInvalidIDToken)
	}
}

func TestErrors(t *testing.T) {
	type errCase struct {
		name  string
		knobs navertest.Knobs
		code  string
	}
	for _, ec := range []errCase{
		{"token endpoint reports server_error with 200", navertest.Knobs{TokenError: "server_error"}, providers.CodeUnavailable},
		{"token endpoint reports invalid_client with 200", navertest.Knobs{TokenError: "unauthorized_client"}, providers.CodeMisconfigured},
		{"token endpoint down", navertest.Knobs{TokenStatus: 503}, providers.CodeUnavailable},
		{"profile 024 with 401", navertest.Knobs{ProfileResultCode: "024"}, providers.CodeInvalidToken},
		{"profile 024 with 200", navertest.Knobs{ProfileResultCode: "024", ProfileErrorsWith200: true}, providers.CodeInvalidToken},
		{"profile 028", navertest.Knobs{ProfileResultCode: "028"}, providers.CodeInvalidToken},
		{"profile 403", navertest.Knobs{ProfileResultCode: "403"}, providers.CodeForbidden},
		{"profile 500", navertest.Knobs{ProfileResultCode: "500"}, providers.CodeUnavailable},
		{"profile 404 with 200", navertest.Knobs{ProfileResultCode: "404", ProfileErrorsWith200: true}, providers.CodeBadResponse},
		{"expired token", navertest.Knobs{ExpireTokens: true}, providers.CodeInvalidToken},
	} {
		t.Run(ec.name, func(t *testing.T) {
			srv, c := setup(t, false)
			srv.SetKnobs(navertest.Knobs{AutoApprove: "kim"})
			cb, _ := login(t, c, false)
			ec.knobs.AutoApprove = "kim"
			srv.SetKnobs(ec.knobs)
			_, err := c.Exchange(context.Background(), *cb)
			wantCode(t, err, ec.code)
		})
	}
}

func TestSlowNaverTimesOut(t *testing.T) {
	srv, c := setup(t, false)
	srv.SetKnobs(navertest.Knobs{AutoApprove: "kim"})
	cb, _ := login(t, c, false)
	srv.SetKnobs(navertest.Knobs{Delay: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.Exchange(ctx, *cb)
	wantCode(t, err, providers.CodeUnavailable)
}

func TestDenyConsent(t *testing.T) {
	srv, c := setup(t, false)
	srv.SetKnobs(navertest.Knobs{Deny: true})
	q := authorize(t, c, providers.AuthRequest{State: "s", RedirectURI: redirect})
	if q.Get("error") != "access_denied" || q.Get("state") != "s" || q.Get("code") != "" {
		t.Fatalf("deny callback = %v", q)
	}
	wantCode(t, providers.CallbackError("naver", q.Get("error"), q.Get("error_description")), providers.CodeAccessDenied)
}

func TestTokenAcceptsQueryParameters(t *testing.T) {
	srv, c := setup(t, false)
	srv.SetKnobs(navertest.Knobs{AutoApprove: "kim"})
	cb, _ := login(t, c, false)
	// Naver's official samples send everything in the query string of a GET.
	u := srv.URL() + "/oauth2.0/token?" + url.Values{"grant_type": {"authorization_code"}, "client_id": {"jyvqXeaVOVmV"},
		"client_secret": {"527300A0_COq1_XV33cf"}, "code": {cb.Code}, "state": {cb.State}}.Encode()
	resp, err := http.Get(u)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET token: %v %v", resp, err)
	}
	resp.Body.Close()
	// delete always answers success.
	resp, err = http.Get(srv.URL() + "/oauth2.0/token?grant_type=delete&client_id=jyvqXeaVOVmV&client_secret=527300A0_COq1_XV33cf&access_token=bogus%2B&service_provider=NAVER")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("delete: %v %v", resp, err)
	}
	resp.Body.Close()
}
