// Package naver is a client for Naver Login (네이버 로그인) on both of its surfaces: the classic
// OAuth 2.0 API under /oauth2.0/ and the OpenID Connect API under /oauth2/ (ID token verified with
// go-oidc, PKCE S256).
//
// Both surfaces read the profile from /v1/nid/me; the subject is always "naver:" + the profile
// id, so switching surfaces keeps every subject. Profile fields are self-declared: a birthyear or
// age band from Naver never proves adulthood. The client keeps no tokens.
package naver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/idgate/idgate/internal/identity"
	"github.com/idgate/idgate/providers"
)

// Production endpoints, used where Config leaves a field empty.
const (
	DefaultAuthorizeURL = "https://nid.naver.com/oauth2.0/authorize"
	DefaultTokenURL     = "https://nid.naver.com/oauth2.0/token"
	DefaultProfileURL   = "https://openapi.naver.com/v1/nid/me"
	DefaultIssuer       = "https://nid.naver.com"
)

const name = "naver"

// Config configures a Client.
type Config struct {
	ClientID     string
	ClientSecret string
	// AuthorizeURL, TokenURL and ProfileURL override the classic endpoints.
	AuthorizeURL string
	TokenURL     string
	ProfileURL   string
	// OIDC selects the OpenID Connect surface; its endpoints come from Issuer's discovery.
	OIDC   bool
	Issuer string
	// HTTPClient is used for every call; it MUST have a timeout.
	HTTPClient *http.Client
}

// Client talks to Naver. It is safe for concurrent use.
type Client struct {
	cfg Config
	// profileSet is true when the profile URL was configured; otherwise the OIDC surface takes
	// it from discovery's userinfo_endpoint.
	profileSet bool

	mu       sync.Mutex
	provider *oidc.Provider
}

// New returns a Client; it makes no network call (OIDC discovery happens on first use).
func New(cfg Config) (*Client, error) {
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("naver: client_id and client_secret are required")
	}
	if cfg.HTTPClient == nil {
		return nil, errors.New("naver: an HTTP client with a timeout is required")
	}
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	profileSet := cfg.ProfileURL != ""
	def(&cfg.AuthorizeURL, DefaultAuthorizeURL)
	def(&cfg.TokenURL, DefaultTokenURL)
	def(&cfg.ProfileURL, DefaultProfileURL)
	def(&cfg.Issuer, DefaultIssuer)
	return &Client{cfg: cfg, profileSet: profileSet}, nil
}

// Name returns "naver".
func (c *Client) Name() string { return name }

// UsesPKCE reports whether the surface supports PKCE and nonce (the OIDC one does).
func (c *Client) UsesPKCE() bool { return c.cfg.OIDC }

func (c *Client) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, c.cfg.HTTPClient)
}

// discover fetches the OIDC discovery document once; a failure is retried on the next login.
func (c *Client) discover(ctx context.Context) (*oidc.Provider, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider != nil {
		return c.provider, nil
	}
	p, err := oidc.NewProvider(c.ctx(ctx), c.cfg.Issuer)
	if err != nil {
		return nil, providers.Transport(name, fmt.Errorf("OIDC discovery: %w", err))
	}
	c.provider = p
	return p, nil
}

// AuthURL returns the authorization URL the browser is sent to.
func (c *Client) AuthURL(ctx context.Context, req providers.AuthRequest) (string, error) {
	q := url.Values{
		"response_type": {"code"},
		"client_id":     {c.cfg.ClientID},
		"redirect_uri":  {req.RedirectURI},
		"state":         {req.State},
	}
	base := c.cfg.AuthorizeURL
	if c.cfg.OIDC {
		p, err := c.discover(ctx)
		if err != nil {
			return "", err
		}
		base = p.Endpoint().AuthURL
		q.Set("scope", "openid")
		if req.Nonce != "" {
			q.Set("nonce", req.Nonce)
		}
		if req.CodeVerifier != "" {
			q.Set("code_challenge", providers.S256(req.CodeVerifier))
			q.Set("code_challenge_method", "S256")
		}
	}
	return base + sep(base) + q.Encode(), nil
}

func sep(u string) string {
	if strings.Contains(u, "?") {
		return "&"
	}
	return "?"
}

// tokenResponse is Naver's token answer; expires_in arrives as a string ("3600") in practice.
type tokenResponse struct {
	AccessToken      string          `json:"access_token"`
	RefreshToken     string          `json:"refresh_token"`
	TokenType        string          `json:"token_type"`
	ExpiresIn        json.RawMessage `json:"expires_in"`
	IDToken          string          `json:"id_token"`
	Error            string          `json:"error"`
	ErrorDescription string          `json:"error_description"`
}

// Exchange trades the callback's code for a token, fetches the profile and returns the login.
func (c *Client) Exchange(ctx context.Context, cb providers.Callback) (*identity.Login, error) {
	tokenURL := c.cfg.TokenURL
	var p *oidc.Provider
	if c.cfg.OIDC {
		var err error
		if p, err = c.discover(ctx); err != nil {
			return nil, err
		}
		tokenURL = p.Endpoint().TokenURL
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {c.cfg.ClientID},
		"client_secret": {c.cfg.ClientSecret},
		"code":          {cb.Code},
		"state":         {cb.State},
	}
	if c.cfg.OIDC {
		form.Set("redirect_uri", cb.RedirectURI)
		if cb.CodeVerifier != "" {
			form.Set("code_verifier", cb.CodeVerifier)
		}
	}
	tok, err := c.token(ctx, tokenURL, form)
	if err != nil {
		return nil, err
	}
	if c.cfg.OIDC {
		if err := c.verifyIDToken(ctx, p, tok.IDToken, cb.Nonce); err != nil {
			return nil, err
		}
	}
	profileURL := c.cfg.ProfileURL
	if p != nil && !c.profileSet && p.UserInfoEndpoint() != "" {
		profileURL = p.UserInfoEndpoint()
	}
	prof, err := c.profile(ctx, profileURL, tok.AccessToken)
	if err != nil {
		return nil, err
	}
	claims := map[string]string{}
	for k, v := range prof {
		if k != "id" && identity.IsProfileClaim(k) && v != "" {
			claims[k] = v
		}
	}
	return &identity.Login{
		Provider: name,
		Subject:  name + ":" + prof["id"],
		AuthTime: time.Now(),
		AMR:      []string{name},
		Claims:   claims,
	}, nil
}

func (c *Client) token(ctx context.Context, tokenURL string, form url.Values) (*tokenResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, providers.Errorf(name, providers.CodeMisconfigured, false, err, "bad token URL")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	status, body, err := providers.Do(c.cfg.HTTPClient, name, req, 64<<10)
	if err != nil {
		return nil, err
	}
	var tok tokenResponse
	jsonErr := json.Unmarshal(body, &tok)
	// Naver answers errors with HTTP 200 too: the error field decides, whatever the status.
	if jsonErr == nil && tok.Error != "" {
		return nil, tokenError(tok.Error, status)
	}
	if status != http.StatusOK {
		return nil, providers.Status(name, status)
	}
	if jsonErr != nil || tok.AccessToken == "" {
		return nil, providers.Errorf(name, providers.CodeBadResponse, true, jsonErr, "token response without access_token")
	}
	if _, err := parseExpiresIn(tok.ExpiresIn); err != nil {
		return nil, providers.Errorf(name, providers.CodeBadResponse, true, err, "token response")
	}
	return &tok, nil
}

func tokenError(code string, status int) error {
	switch code {
	case "invalid_request", "invalid_grant":
		// "no valid data in session": the code is unknown, reused or expired.
		return providers.Errorf(name, providers.CodeInvalidGrant, false, nil, "the login code was invalid, expired or already used")
	case "invalid_client", "unauthorized_client", "unsupported_response_type":
		return providers.Errorf(name, providers.CodeMisconfigured, false, nil, "Naver rejected the client credentials (%s)", code)
	case "server_error":
		return providers.Errorf(name, providers.CodeUnavailable, true, nil, "Naver reported server_error")
	}
	return providers.Errorf(name, providers.CodeBadResponse, false, nil, "unexpected token error (HTTP %d)", status)
}

// parseExpiresIn accepts "3600" and 3600.
func parseExpiresIn(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 {
		return 0, nil
	}
	var n json.Number
	s := strings.Trim(string(raw), `"`)
	n = json.Number(s)
	v, err := n.Int64()
	if err != nil || v < 0 {
		return 0, fmt.Errorf("expires_in %q is not a number of seconds", s)
	}
	return time.Duration(v) * time.Second, nil
}

func (c *Client) verifyIDToken(ctx context.Context, p *oidc.Provider, raw, nonce string) error {
	if raw == "" {
		return providers.Errorf(name, providers.CodeInvalidIDToken, false, nil, "token response without id_token")
	}
	tok, err := p.Verifier(&oidc.Config{ClientID: c.cfg.ClientID}).Verify(c.ctx(ctx), raw)
	if err != nil {
		return providers.Errorf(name, providers.CodeInvalidIDToken, false, err, "ID token failed verification")
	}
	// Whether Naver echoes nonce is not documented; when it does, it must match.
	if tok.Nonce != "" && tok.Nonce != nonce {
		return providers.Errorf(name, providers.CodeInvalidIDToken, false, nil, "ID token nonce does not match")
	}
	return nil
}

type profileResponse struct {
	ResultCode string            `json:"resultcode"`
	Message    string            `json:"message"`
	Response   map[string]string `json:"response"`
}

// Profile fetches /v1/nid/me. It fails on resultcode != "00" or a missing response object,
// whatever the HTTP status (some integrators see error bodies with 200).
func (c *Client) Profile(ctx context.Context, accessToken string) (map[string]string, error) {
	return c.profile(ctx, c.cfg.ProfileURL, accessToken)
}

func (c *Client) profile(ctx context.Context, profileURL, accessToken string) (map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, profileURL, nil)
	if err != nil {
		return nil, providers.Errorf(name, providers.CodeMisconfigured, false, err, "bad profile URL")
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	status, body, err := providers.Do(c.cfg.HTTPClient, name, req, 64<<10)
	if err != nil {
		return nil, err
	}
	var pr profileResponse
	if err := json.Unmarshal(body, &pr); err != nil {
		if status != http.StatusOK {
			return nil, providers.Status(name, status)
		}
		return nil, providers.Errorf(name, providers.CodeBadResponse, true, err, "unreadable profile response")
	}
	switch {
	case pr.ResultCode == "00" && pr.Response != nil && pr.Response["id"] != "":
		return pr.Response, nil
	case pr.ResultCode == "024" || pr.ResultCode == "028":
		return nil, providers.Errorf(name, providers.CodeInvalidToken, false, nil, "Naver rejected the access token (resultcode %s)", pr.ResultCode)
	case pr.ResultCode == "403" || status == http.StatusForbidden:
		return nil, providers.Errorf(name, providers.CodeForbidden, false, nil, "the app lacks permission for the Naver profile API")
	case status >= 500 || pr.ResultCode == "500":
		return nil, providers.Errorf(name, providers.CodeUnavailable, true, nil, "Naver profile API failed (HTTP %d)", status)
	}
	return nil, providers.Errorf(name, providers.CodeBadResponse, false, nil, "profile response without an id (resultcode %q)", pr.ResultCode)
}
