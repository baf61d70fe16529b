// Package oidc logs visitors in through any OpenID Connect provider (Kakao, Google, Keycloak…)
// with go-oidc: discovery on first use, authorization code with PKCE S256 and nonce, ID token
// verification against the provider's JWKS.
//
// The subject is "<name>:<sub>". Profile claims (name, nickname, email, picture) are
// self-declared and kept only for policies that forward them. It keeps no tokens.
package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/idgate/idgate/internal/identity"
	"github.com/idgate/idgate/providers"
	"golang.org/x/oauth2"
)

// Config configures a Client.
type Config struct {
	// Name namespaces subjects and names the provider in policies ("kakao").
	Name         string
	Issuer       string
	ClientID     string
	ClientSecret string
	// Scopes default to openid; "openid" is always included.
	Scopes []string
	// HTTPClient is used for every call; it MUST have a timeout.
	HTTPClient *http.Client
}

// Client is a login provider on one OpenID Connect issuer. Safe for concurrent use.
type Client struct {
	cfg Config

	mu       sync.Mutex
	provider *gooidc.Provider
	oauth    *oauth2.Config
}

// New returns a Client; it makes no network call.
func New(cfg Config) (*Client, error) {
	switch {
	case cfg.Name == "":
		return nil, errors.New("oidc: a provider name is required")
	case cfg.Issuer == "":
		return nil, fmt.Errorf("oidc %s: issuer is required", cfg.Name)
	case cfg.ClientID == "":
		return nil, fmt.Errorf("oidc %s: client_id is required", cfg.Name)
	case cfg.HTTPClient == nil:
		return nil, fmt.Errorf("oidc %s: an HTTP client with a timeout is required", cfg.Name)
	}
	scopes := []string{gooidc.ScopeOpenID}
	for _, s := range cfg.Scopes {
		if s != gooidc.ScopeOpenID {
			scopes = append(scopes, s)
		}
	}
	cfg.Scopes = scopes
	return &Client{cfg: cfg}, nil
}

// Name returns the configured provider name.
func (c *Client) Name() string { return c.cfg.Name }

// UsesPKCE is always true: PKCE and nonce are sent to every OIDC provider.
func (c *Client) UsesPKCE() bool { return true }

func (c *Client) ctx(ctx context.Context) context.Context {
	return context.WithValue(gooidc.ClientContext(ctx, c.cfg.HTTPClient), oauth2.HTTPClient, c.cfg.HTTPClient)
}

func (c *Client) discover(ctx context.Context) (*gooidc.Provider, *oauth2.Config, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider != nil {
		return c.provider, c.oauth, nil
	}
	p, err := gooidc.NewProvider(c.ctx(ctx), c.cfg.Issuer)
	if err != nil {
		return nil, nil, providers.Transport(c.cfg.Name, fmt.Errorf("OIDC discovery: %w", err))
	}
	var meta struct {
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
	}
	_ = p.Claims(&meta)
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	if !has(meta.AuthMethods, "client_secret_basic") && (has(meta.AuthMethods, "client_secret_post") || len(meta.AuthMethods) == 0) {
		// Kakao and Naver want the secret in the form body.
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	if len(meta.AuthMethods) == 0 {
		ep.AuthStyle = oauth2.AuthStyleAutoDetect
	}
	c.provider = p
	c.oauth = &oauth2.Config{ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret, Endpoint: ep, Scopes: c.cfg.Scopes}
	return p, c.oauth, nil
}

func has(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// AuthURL returns the authorization URL, with nonce and PKCE S256.
func (c *Client) AuthURL(ctx context.Context, req providers.AuthRequest) (string, error) {
	_, oc, err := c.discover(ctx)
	if err != nil {
		return "", err
	}
	cfg := *oc
	cfg.RedirectURL = req.RedirectURI
	return cfg.AuthCodeURL(req.State, gooidc.Nonce(req.Nonce), oauth2.S256ChallengeOption(req.CodeVerifier)), nil
}

// Exchange redeems the code, verifies the ID token (issuer, audience, expiry, signature, nonce)
// and returns the login.
func (c *Client) Exchange(ctx context.Context, cb providers.Callback) (*identity.Login, error) {
	p, oc, err := c.discover(ctx)
	if err != nil {
		return nil, err
	}
	cfg := *oc
	cfg.RedirectURL = cb.RedirectURI
	tok, err := cfg.Exchange(c.ctx(ctx), cb.Code, oauth2.VerifierOption(cb.CodeVerifier))
	if err != nil {
		return nil, c.exchangeError(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, providers.Errorf(c.cfg.Name, providers.CodeInvalidIDToken, false, nil, "token response without id_token (is OpenID Connect enabled for the app?)")
	}
	idt, err := p.Verifier(&gooidc.Config{ClientID: c.cfg.ClientID}).Verify(c.ctx(ctx), raw)
	if err != nil {
		return nil, providers.Errorf(c.cfg.Name, providers.CodeInvalidIDToken, false, err, "ID token failed verification")
	}
	if idt.Nonce != cb.Nonce {
		return nil, providers.Errorf(c.cfg.Name, providers.CodeInvalidIDToken, false, nil, "ID token nonce does not match this login")
	}
	var all map[string]any
	if err := idt.Claims(&all); err != nil {
		return nil, providers.Errorf(c.cfg.Name, providers.CodeBadResponse, false, err, "ID token claims")
	}
	claims := map[string]string{}
	for _, k := range []string{"name", "nickname", "email", "picture", "email_verified"} {
		switch v := all[k].(type) {
		case string:
			if v != "" {
				claims[k] = v
			}
		case bool:
			claims[k] = fmt.Sprint(v)
		}
	}
	at := time.Now()
	if v, ok := all["auth_time"].(float64); ok && v > 0 {
		at = time.Unix(int64(v), 0)
	}
	return &identity.Login{
		Provider: c.cfg.Name,
		Subject:  c.cfg.Name + ":" + idt.Subject,
		AuthTime: at,
		AMR:      []string{c.cfg.Name},
		Claims:   claims,
	}, nil
}

func (c *Client) exchangeError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		switch {
		case re.ErrorCode == "invalid_grant" || re.ErrorCode == "invalid_request":
			return providers.Errorf(c.cfg.Name, providers.CodeInvalidGrant, false, nil, "the login code was invalid, expired or already used")
		case re.ErrorCode == "invalid_client" || re.ErrorCode == "unauthorized_client":
			return providers.Errorf(c.cfg.Name, providers.CodeMisconfigured, false, nil, "the provider rejected the client credentials")
		case re.Response != nil && re.Response.StatusCode >= 500:
			return providers.Status(c.cfg.Name, re.Response.StatusCode)
		}
		return providers.Errorf(c.cfg.Name, providers.CodeBadResponse, false, nil, "token endpoint error %q", re.ErrorCode)
	}
	return providers.Transport(c.cfg.Name, err)
}
