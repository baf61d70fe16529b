// Package recaptcha is a client for reCAPTCHA Enterprise account verification (multi-factor by
// e-mail PIN, shared/providers.md §7): createAssessment with the account id and the e-mail
// endpoint, whose answer carries the requestToken the page challenges with, and a second
// assessment with the verdict token whose latestVerificationResult decides.
//
// The account id sent to Google is whatever the caller passes; idgate passes an HMAC of the
// subject, never the subject itself.
package recaptcha

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/idgate/idgate/providers"
)

// Defaults.
const (
	DefaultAPIBase   = "https://recaptchaenterprise.googleapis.com"
	DefaultScriptURL = "https://www.google.com/recaptcha/enterprise.js"
)

// Verification results.
const (
	ResultUnspecified           = "RESULT_UNSPECIFIED"
	ResultVerified              = "SUCCESS_USER_VERIFIED"
	ResultNotVerified           = "ERROR_USER_NOT_VERIFIED"
	ResultOnboardingIncomplete  = "ERROR_SITE_ONBOARDING_INCOMPLETE"
	ResultRecipientNotAllowed   = "ERROR_RECIPIENT_NOT_ALLOWED"
	ResultRecipientAbuseLimit   = "ERROR_RECIPIENT_ABUSE_LIMIT_EXHAUSTED"
	ResultCriticalInternal      = "ERROR_CRITICAL_INTERNAL"
	ResultCustomerQuotaExceeded = "ERROR_CUSTOMER_QUOTA_EXHAUSTED"
	ResultVerificationBypassed  = "ERROR_VERIFICATION_BYPASSED"
	ResultVerdictMismatch       = "ERROR_VERDICT_MISMATCH"
)

const name = "recaptcha"

// Config configures a Client.
type Config struct {
	ProjectID  string
	APIKey     string
	SiteKey    string
	APIBase    string
	HTTPClient *http.Client
}

// Client creates assessments. Safe for concurrent use.
type Client struct{ cfg Config }

// New returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.ProjectID == "" || cfg.APIKey == "" || cfg.SiteKey == "" {
		return nil, errors.New("recaptcha: project_id, api_key and site_key are required")
	}
	if cfg.HTTPClient == nil {
		return nil, errors.New("recaptcha: an HTTP client with a timeout is required")
	}
	if cfg.APIBase == "" {
		cfg.APIBase = DefaultAPIBase
	}
	cfg.APIBase = strings.TrimRight(cfg.APIBase, "/")
	return &Client{cfg: cfg}, nil
}

// SiteKey is the public key the page uses.
func (c *Client) SiteKey() string { return c.cfg.SiteKey }

// Request is one assessment.
type Request struct {
	Token, ExpectedAction, AccountID, Email, UserAgent, UserIP, Language string
}

// Assessment is the part of Google's answer idgate reads.
type Assessment struct {
	Name            string `json:"name"`
	TokenProperties struct {
		Valid         bool   `json:"valid"`
		InvalidReason string `json:"invalidReason"`
		Action        string `json:"action"`
		Hostname      string `json:"hostname"`
	} `json:"tokenProperties"`
	RiskAnalysis struct {
		Score   float64  `json:"score"`
		Reasons []string `json:"reasons"`
	} `json:"riskAnalysis"`
	AccountVerification struct {
		Endpoints []struct {
			EmailAddress         string `json:"emailAddress"`
			PhoneNumber          string `json:"phoneNumber"`
			RequestToken         string `json:"requestToken"`
			LastVerificationTime string `json:"lastVerificationTime"`
		} `json:"endpoints"`
		LatestVerificationResult string `json:"latestVerificationResult"`
	} `json:"accountVerification"`
}

// RequestToken returns the request token for email, or "".
func (a *Assessment) RequestToken(email string) string {
	for _, e := range a.AccountVerification.Endpoints {
		if strings.EqualFold(e.EmailAddress, email) {
			return e.RequestToken
		}
	}
	return ""
}

// Assess creates an assessment with the e-mail endpoint for account verification.
func (c *Client) Assess(ctx context.Context, r Request) (*Assessment, error) {
	body := map[string]any{
		"event": map[string]any{
			"token": r.Token, "siteKey": c.cfg.SiteKey, "expectedAction": r.ExpectedAction,
			"userAgent": r.UserAgent, "userIpAddress": r.UserIP, "userInfo": map[string]string{"accountId": r.AccountID},
		},
		"accountVerification": map[string]any{
			"endpoints": []map[string]string{{"emailAddress": r.Email}}, "languageCode": r.Language,
		},
	}
	data, _ := json.Marshal(body)
	u := c.cfg.APIBase + "/v1/projects/" + url.PathEscape(c.cfg.ProjectID) + "/assessments?key=" + url.QueryEscape(c.cfg.APIKey)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(data))
	if err != nil {
		return nil, providers.Errorf(name, providers.CodeMisconfigured, false, err, "bad api_base")
	}
	req.Header.Set("Content-Type", "application/json")
	status, out, err := providers.Do(c.cfg.HTTPClient, name, req, 256<<10)
	if err != nil {
		return nil, err
	}
	switch {
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		return nil, providers.Errorf(name, providers.CodeMisconfigured, false, nil, "Google refused the API key or project")
	case status >= 500 || status == http.StatusTooManyRequests:
		return nil, providers.Status(name, status)
	case status != http.StatusOK:
		return nil, providers.Errorf(name, providers.CodeBadResponse, false, nil, "createAssessment answered HTTP %d", status)
	}
	var a Assessment
	if err := json.Unmarshal(out, &a); err != nil || a.Name == "" {
		return nil, providers.Errorf(name, providers.CodeBadResponse, true, err, "unreadable assessment")
	}
	return &a, nil
}
