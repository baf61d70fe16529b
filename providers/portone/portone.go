// Package portone is a client for PortOne V2 identity verification (본인인증: phone and 통합인증
// through Danal, KCP or KG Inicis channels).
//
// PortOne sends no webhook for identity verification, so the only trustworthy answer is the one
// this client fetches server-side with the API secret; the browser SDK's result is never trusted.
// It returns personal data (name, phone, CI, DI): the caller MUST NOT log it and MUST hash the CI.
package portone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/idgate/idgate/providers"
)

// Production endpoints.
const (
	DefaultAPIBase = "https://api.portone.io"
	DefaultSDKURL  = "https://cdn.portone.io/v2/browser-sdk.js"
)

const name = "portone"

// Statuses of an identity verification.
const (
	StatusReady    = "READY"
	StatusVerified = "VERIFIED"
	StatusFailed   = "FAILED"
)

// CodeNotFound is the error code for an identity verification PortOne does not know.
const CodeNotFound = "verification_not_found"

// Config configures a Client.
type Config struct {
	StoreID    string
	ChannelKey string
	APISecret  string
	// APIBase overrides https://api.portone.io.
	APIBase    string
	HTTPClient *http.Client
}

// Client fetches identity verifications. Safe for concurrent use.
type Client struct{ cfg Config }

// New returns a Client.
func New(cfg Config) (*Client, error) {
	switch {
	case cfg.StoreID == "":
		return nil, errors.New("portone: store_id is required")
	case cfg.ChannelKey == "":
		return nil, errors.New("portone: channel_key is required")
	case cfg.APISecret == "":
		return nil, errors.New("portone: api_secret is required")
	case cfg.HTTPClient == nil:
		return nil, errors.New("portone: an HTTP client with a timeout is required")
	}
	if cfg.APIBase == "" {
		cfg.APIBase = DefaultAPIBase
	}
	cfg.APIBase = strings.TrimRight(cfg.APIBase, "/")
	return &Client{cfg: cfg}, nil
}

// StoreID and ChannelKey are public values the browser SDK needs.
func (c *Client) StoreID() string    { return c.cfg.StoreID }
func (c *Client) ChannelKey() string { return c.cfg.ChannelKey }

// IdentityVerification is PortOne's answer for one verification id.
type IdentityVerification struct {
	Status           string    `json:"status"`
	ID               string    `json:"id"`
	Channel          *Channel  `json:"channel"`
	VerifiedCustomer *Customer `json:"verifiedCustomer"`
	VerifiedAt       time.Time `json:"verifiedAt"`
	Failure          *Failure  `json:"failure"`
	CustomData       string    `json:"customData"`
}

// Channel is the channel a verification went through.
type Channel struct {
	Type       string `json:"type"` // LIVE or TEST
	PGProvider string `json:"pgProvider"`
}

// Customer is the verified person. Only Name is always present; BirthDate is present for V2.
type Customer struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Operator    string `json:"operator"`
	PhoneNumber string `json:"phoneNumber"`
	BirthDate   string `json:"birthDate"`
	Gender      string `json:"gender"`
	IsForeigner *bool  `json:"isForeigner"`
	CI          string `json:"ci"`
	DI          string `json:"di"`
}

// Failure says why a verification failed. PGMessage comes from the carrier or PG and is shown to
// the user as is; it carries no personal data.
type Failure struct {
	Reason    string `json:"reason"`
	PGCode    string `json:"pgCode"`
	PGMessage string `json:"pgMessage"`
}

type apiError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// IdentityVerification fetches GET /identity-verifications/{id}?storeId=… .
func (c *Client) IdentityVerification(ctx context.Context, id string) (*IdentityVerification, error) {
	u := c.cfg.APIBase + "/identity-verifications/" + url.PathEscape(id) + "?storeId=" + url.QueryEscape(c.cfg.StoreID)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, providers.Errorf(name, providers.CodeMisconfigured, false, err, "bad api_base")
	}
	req.Header.Set("Authorization", "PortOne "+c.cfg.APISecret)
	req.Header.Set("Accept", "application/json")
	status, body, err := providers.Do(c.cfg.HTTPClient, name, req, 256<<10)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		var ae apiError
		_ = json.Unmarshal(body, &ae)
		switch {
		case status == http.StatusNotFound || ae.Type == "IDENTITY_VERIFICATION_NOT_FOUND":
			return nil, providers.Errorf(name, CodeNotFound, false, nil, "PortOne does not know this verification")
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			return nil, providers.Errorf(name, providers.CodeMisconfigured, false, nil, "PortOne refused the API secret or store (%s)", ae.Type)
		}
		return nil, providers.Status(name, status)
	}
	var iv IdentityVerification
	if err := json.Unmarshal(body, &iv); err != nil {
		return nil, providers.Errorf(name, providers.CodeBadResponse, true, err, "unreadable identity verification")
	}
	switch iv.Status {
	case StatusReady, StatusFailed:
	case StatusVerified:
		if iv.VerifiedCustomer == nil || iv.VerifiedCustomer.Name == "" {
			return nil, providers.Errorf(name, providers.CodeBadResponse, true, nil, "VERIFIED without a verified customer")
		}
	default:
		return nil, providers.Errorf(name, providers.CodeBadResponse, true, nil, "unknown status %q", iv.Status)
	}
	if iv.ID != id {
		return nil, providers.Errorf(name, providers.CodeBadResponse, false, nil, "PortOne answered for another verification id")
	}
	return &iv, nil
}

// ProviderName names the channel that verified, for records and assertions ("portone:danal").
func (iv *IdentityVerification) ProviderName() string {
	if iv.Channel == nil || iv.Channel.PGProvider == "" {
		return name
	}
	return fmt.Sprintf("%s:%s", name, strings.ToLower(iv.Channel.PGProvider))
}
