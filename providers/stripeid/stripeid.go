// Package stripeid is a client for Stripe Identity document verification: create a
// VerificationSession (type=document), retrieve it with verified_outputs expanded, and verify
// webhook signatures (Stripe-Signature, HMAC-SHA256 with the endpoint secret as is, 300 s).
//
// The session's url and client_secret are single-use credentials: the caller MUST NOT log or
// store them. verified_outputs hold personal data; only the date of birth is needed for age.
package stripeid

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/idgate/idgate/providers"
)

// DefaultAPIBase is Stripe's API.
const DefaultAPIBase = "https://api.stripe.com"

// Tolerance is how old a webhook timestamp may be (Stripe's default).
const Tolerance = 300 * time.Second

const name = "stripe_identity"

// Statuses of a VerificationSession.
const (
	StatusRequiresInput = "requires_input"
	StatusProcessing    = "processing"
	StatusVerified      = "verified"
	StatusCanceled      = "canceled"
)

// CodeNotFound is the error code for an unknown VerificationSession.
const CodeNotFound = "verification_not_found"

// Config configures a Client.
type Config struct {
	SecretKey  string
	APIBase    string
	HTTPClient *http.Client
}

// Client talks to Stripe Identity. Safe for concurrent use.
type Client struct{ cfg Config }

// New returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.SecretKey == "" {
		return nil, errors.New("stripe_identity: secret_key is required")
	}
	if cfg.HTTPClient == nil {
		return nil, errors.New("stripe_identity: an HTTP client with a timeout is required")
	}
	if cfg.APIBase == "" {
		cfg.APIBase = DefaultAPIBase
	}
	cfg.APIBase = strings.TrimRight(cfg.APIBase, "/")
	return &Client{cfg: cfg}, nil
}

// Session is a VerificationSession.
type Session struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"`
	Status            string            `json:"status"`
	Type              string            `json:"type"`
	URL               string            `json:"url"`
	ClientReferenceID string            `json:"client_reference_id"`
	Metadata          map[string]string `json:"metadata"`
	LastError         *LastError        `json:"last_error"`
	VerifiedOutputs   *VerifiedOutputs  `json:"verified_outputs"`
	Livemode          bool              `json:"livemode"`
}

// LastError says why a session needs input again.
type LastError struct {
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// VerifiedOutputs are the verified data; only what idgate uses is decoded.
type VerifiedOutputs struct {
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	DOB       *DOB   `json:"dob"`
}

// DOB is a date of birth.
type DOB struct {
	Day   int `json:"day"`
	Month int `json:"month"`
	Year  int `json:"year"`
}

// String formats the date as yyyy-mm-dd.
func (d *DOB) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// Create creates a document VerificationSession bound to ref (client_reference_id and metadata).
func (c *Client) Create(ctx context.Context, ref string, metadata map[string]string, returnURL string) (*Session, error) {
	form := url.Values{
		"type":                {"document"},
		"client_reference_id": {ref},
		"return_url":          {returnURL},
		"options[document][require_live_capture]":    {"true"},
		"options[document][require_matching_selfie]": {"true"},
	}
	for k, v := range metadata {
		form.Set("metadata["+k+"]", v)
	}
	return c.call(ctx, http.MethodPost, "/v1/identity/verification_sessions", form)
}

// Retrieve fetches a VerificationSession with verified_outputs and the date of birth expanded.
func (c *Client) Retrieve(ctx context.Context, id string) (*Session, error) {
	if id == "" || strings.ContainsAny(id, "/?#") {
		return nil, providers.Errorf(name, CodeNotFound, false, nil, "bad session id")
	}
	return c.call(ctx, http.MethodGet, "/v1/identity/verification_sessions/"+id+"?expand[]=verified_outputs&expand[]=verified_outputs.dob", nil)
}

type apiError struct {
	Error struct {
		Type    string `json:"type"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (c *Client) call(ctx context.Context, method, path string, form url.Values) (*Session, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, c.cfg.APIBase+path, body)
	if err != nil {
		return nil, providers.Errorf(name, providers.CodeMisconfigured, false, err, "bad api_base")
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.SecretKey)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	status, data, err := providers.Do(c.cfg.HTTPClient, name, req, 256<<10)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		var ae apiError
		_ = json.Unmarshal(data, &ae)
		switch {
		case status == http.StatusNotFound || ae.Error.Code == "resource_missing":
			return nil, providers.Errorf(name, CodeNotFound, false, nil, "Stripe does not know this verification session")
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			return nil, providers.Errorf(name, providers.CodeMisconfigured, false, nil, "Stripe refused the secret key")
		case status == http.StatusTooManyRequests || status >= 500:
			return nil, providers.Status(name, status)
		}
		return nil, providers.Errorf(name, providers.CodeBadResponse, false, nil, "Stripe error %s", ae.Error.Type)
	}
	var s Session
	if err := json.Unmarshal(data, &s); err != nil || s.Object != "identity.verification_session" || s.ID == "" {
		return nil, providers.Errorf(name, providers.CodeBadResponse, true, err, "unreadable verification session")
	}
	return &s, nil
}

// Event is a Stripe webhook event, with the object idgate needs.
type Event struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Type    string `json:"type"`
	Created int64  `json:"created"`
	Data    struct {
		Object Session `json:"object"`
	} `json:"data"`
}

// Webhook errors.
var (
	ErrBadSignature = errors.New("stripe_identity: webhook signature does not match")
	ErrStale        = errors.New("stripe_identity: webhook timestamp outside the tolerance")
	ErrBadHeader    = errors.New("stripe_identity: malformed Stripe-Signature header")
)

// ParseWebhook checks the Stripe-Signature header of payload against secret (used as is, not
// base64-decoded) at now, and decodes the event. Any v1 signature may match; timestamps older
// than Tolerance (or more than Tolerance in the future) are refused.
func ParseWebhook(payload []byte, header, secret string, now time.Time) (*Event, error) {
	var ts int64 = -1
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, ErrBadHeader
			}
			ts = n
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	if ts < 0 || len(sigs) == 0 {
		return nil, ErrBadHeader
	}
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "%d.", ts)
	m.Write(payload)
	want := m.Sum(nil)
	ok := false
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			ok = true
		}
	}
	if !ok {
		return nil, ErrBadSignature
	}
	age := now.Sub(time.Unix(ts, 0))
	if age > Tolerance || age < -Tolerance {
		return nil, ErrStale
	}
	var ev Event
	if err := json.Unmarshal(payload, &ev); err != nil || ev.Object != "event" {
		return nil, fmt.Errorf("stripe_identity: webhook body is not an event")
	}
	return &ev, nil
}

// Sign returns a Stripe-Signature header for payload at t (for fakes and tests).
func Sign(payload []byte, secret string, t time.Time) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "%d.", t.Unix())
	m.Write(payload)
	return fmt.Sprintf("t=%d,v1=%s", t.Unix(), hex.EncodeToString(m.Sum(nil)))
}
