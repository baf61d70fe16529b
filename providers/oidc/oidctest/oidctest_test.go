package oidctest_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/idgate/idgate/providers"
	"github.com/idgate/idgate/providers/oidc"
	"github.com/idgate/idgate/providers/oidc/oidctest"
)

const redirect = "http://127.0.0.1:1/.idgate/callback/kakao"

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func flow(t *testing.T, srv *oidctest.Server, c *oidc.Client) error {
	t.Helper()
	req := providers.AuthRequest{State: "s1", Nonce: "n1", CodeVerifier: "v-0123456789-0123456789-0123456789-0123456789", RedirectURI: redirect}
	u, err := c.AuthURL(context.Background(), req)
	if err != nil {
		return err
	}
	resp, err := noFollow.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	if e := q.Get("error"); e != "" {
		return providers.CallbackError("kakao", e, q.Get("error_description"))
	}
	l, err := c.Exchange(context.Background(), providers.Callback{Code: q.Get("code"), State: q.Get("state"), RedirectURI: redirect, Nonce: req.Nonce, CodeVerifier: req.CodeVerifier})
	if err != nil {
		return err
	}
	if l.Subject != "kakao:1001" || l.Claims["nickname"] != "김카카오" {
		t.Fatalf("login = %+v", l)
	}
	return nil
}

func TestFlowAndFailures(t *testing.T) {
	type c struct {
		name  string
		knobs oidctest.Knobs
		code  string
	}
	for _, tc := range []c{
		{"healthy", oidctest.Knobs{}, ""},
		{"user denies", oidctest.Knobs{Deny: true}, providers.CodeAccessDenied},
		{"bad nonce", oidctest.Knobs{BadNonce: true}, providers.CodeInvalidIDToken},
		{"wrong audience", oidctest.Knobs{WrongAudience: true}, providers.CodeInvalidIDToken},
		{"wrong issuer", oidctest.Knobs{WrongIssuer: true}, providers.CodeInvalidIDToken},
		{"expired id token", oidctest.Knobs{Expired: true}, providers.CodeInvalidIDToken},
		{"no id token", oidctest.Knobs{NoIDToken: true}, providers.CodeInvalidIDToken},
		{"token endpoint 500", oidctest.Knobs{TokenStatus: 500}, providers.CodeUnavailable},
		{"invalid grant", oidctest.Knobs{TokenStatus: 400}, providers.CodeInvalidGrant},
		{"discovery down", oidctest.Knobs{DiscoveryDown: true}, providers.CodeUnavailable},
		{"slow token endpoint", oidctest.Knobs{Delay: 3 * time.Second}, providers.CodeUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := oidctest.NewServer("kakao-rest-key", "kakao-secret")
			defer srv.Close()
			tc.knobs.AutoApprove = "1001"
			srv.SetKnobs(tc.knobs)
			cl, err := oidc.New(oidc.Config{Name: "kakao", Issuer: srv.URL(), ClientID: "kakao-rest-key", ClientSecret: "kakao-secret",
				HTTPClient: &http.Client{Timeout: 500 * time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			err = flow(t, srv, cl)
			if tc.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var pe *providers.Error
			if !errors.As(err, &pe) || pe.Code != tc.code {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
		})
	}
}

func TestWrongSecretIsMisconfigured(t *testing.T) {
	srv := oidctest.NewServer("id", "secret")
	defer srv.Close()
	srv.SetKnobs(oidctest.Knobs{AutoApprove: "1001"})
	cl, _ := oidc.New(oidc.Config{Name: "kakao", Issuer: srv.URL(), ClientID: "id", ClientSecret: "wrong", HTTPClient: &http.Client{Timeout: time.Second}})
	err := flow(t, srv, cl)
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Code != providers.CodeMisconfigured {
		t.Fatalf("err = %v", err)
	}
}
