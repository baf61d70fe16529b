// Package providers holds what every external provider client shares: the typed error that the
// portal maps to pages and JSON codes, and the parameters of an authorization-code login.
package providers

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
)

// Error codes. They are stable: the portal shows them to users and API clients.
const (
	CodeAccessDenied   = "access_denied"        // the user refused or cancelled consent
	CodeInvalidGrant   = "invalid_grant"        // the code was invalid, reused or expired
	CodeInvalidToken   = "invalid_token"        // the provider rejected our access token
	CodeForbidden      = "forbidden"            // the app lacks a permission at the provider
	CodeUnavailable    = "provider_unavailable" // 5xx, timeout, network failure
	CodeBadResponse    = "bad_response"         // the provider answered something we cannot read
	CodeMisconfigured  = "misconfigured"        // the provider rejected our client credentials
	CodeInvalidIDToken = "invalid_id_token"     // an ID token failed verification
)

// Error is a failure talking to a provider. Description never holds tokens or personal data.
type Error struct {
	Provider    string
	Code        string
	Description string
	Retryable   bool
	Err         error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s", e.Provider, e.Code)
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error.
func Errorf(provider, code string, retryable bool, err error, format string, a ...any) *Error {
	return &Error{Provider: provider, Code: code, Retryable: retryable, Err: err, Description: fmt.Sprintf(format, a...)}
}

// Transport classifies a transport failure (timeout, refused connection, context deadline) as
// CodeUnavailable.
func Transport(provider string, err error) *Error {
	desc := "could not reach the provider"
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		desc = "the provider did not answer in time"
	}
	return &Error{Provider: provider, Code: CodeUnavailable, Retryable: true, Description: desc, Err: err}
}

// Status classifies an unexpected HTTP status.
func Status(provider string, status int) *Error {
	if status >= 500 || status == http.StatusTooManyRequests {
		return &Error{Provider: provider, Code: CodeUnavailable, Retryable: true, Description: fmt.Sprintf("the provider answered HTTP %d", status)}
	}
	return &Error{Provider: provider, Code: CodeBadResponse, Description: fmt.Sprintf("the provider answered HTTP %d", status)}
}

// AuthRequest carries what an authorization URL needs. Nonce and CodeVerifier are empty when the
// provider surface does not support them.
type AuthRequest struct {
	State        string
	Nonce        string
	CodeVerifier string
	RedirectURI  string
}

// Callback carries what a provider's redirect returned plus what was kept with the state.
type Callback struct {
	Code         string
	RedirectURI  string
	State        string
	Nonce        string
	CodeVerifier string
}

// CallbackError turns an error redirect (error, error_description) into an *Error.
func CallbackError(provider, code, desc string) *Error {
	switch code {
	case "access_denied":
		return &Error{Provider: provider, Code: CodeAccessDenied, Description: "the user did not give consent"}
	case "server_error", "temporarily_unavailable":
		return &Error{Provider: provider, Code: CodeUnavailable, Retryable: true, Description: "the provider reported " + code}
	case "unauthorized_client", "invalid_client", "unsupported_response_type", "invalid_scope":
		return &Error{Provider: provider, Code: CodeMisconfigured, Description: "the provider reported " + code}
	}
	return &Error{Provider: provider, Code: CodeBadResponse, Description: "the provider reported " + sanitize(code)}
}

// sanitize keeps provider-supplied text printable and short before it reaches logs or pages.
func sanitize(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// S256 returns the PKCE S256 code challenge of verifier.
func S256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Do sends req with client and reads at most limit bytes of the answer. A failure to send or to
// read is a CodeUnavailable *Error; the caller judges the status and the body.
func Do(client *http.Client, provider string, req *http.Request, limit int64) (int, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, Transport(provider, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return 0, nil, Transport(provider, err)
	}
	return resp.StatusCode, body, nil
}
