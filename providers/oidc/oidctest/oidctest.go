// Package oidctest is a fake OpenID Connect provider (in the style of Kakao's OIDC surface) for
// tests and the demo: discovery, JWKS, an authorize endpoint with a consent page, a token
// endpoint returning RS256 ID tokens, and knobs for every failure a client must survive.
//
//	srv := oidctest.NewServer("kakao-client", "kakao-secret")
//	defer srv.Close()
//	srv.SetKnobs(oidctest.Knobs{AutoApprove: "1001"})
//	// point the client's issuer at srv.URL()
package oidctest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// User is a test persona.
type User struct {
	Sub      string
	Nickname string
	Email    string
}

// Knobs select failure modes. The zero value behaves like a healthy provider.
type Knobs struct {
	// AutoApprove skips the consent page and logs in this Sub.
	AutoApprove string
	// Deny answers the authorize request with error=access_denied.
	Deny bool
	// TokenStatus forces the token endpoint's HTTP status (e.g. 500, 400 invalid_grant).
	TokenStatus int
	// NoIDToken omits id_token (OIDC not enabled for the app).
	NoIDToken bool
	// BadNonce, WrongAudience, Expired and WrongIssuer spoil the ID token.
	BadNonce, WrongAudience, Expired, WrongIssuer bool
	// Delay slows every token response.
	Delay time.Duration
	// DiscoveryDown makes discovery answer 503.
	DiscoveryDown bool
}

type grant struct {
	sub, clientID, redirect, nonce, challenge string
	at                                        time.Time
}

// Server is the fake provider; it is an http.Handler.
type Server struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	Users        []User
	Keys         *KeySet

	mu    sync.Mutex
	knobs Knobs
	codes map[string]grant
	ts    *httptest.Server
}

// New returns a fake for issuer (its own base URL).
func New(issuer, clientID, secret string) *Server {
	return &Server{
		Issuer: issuer, ClientID: clientID, ClientSecret: secret,
		Users: []User{{Sub: "1001", Nickname: "김카카오", Email: "kakao@example.com"}, {Sub: "1002", Nickname: "Alex", Email: "alex@example.com"}},
		Keys:  NewKeySet("oidctest-1"),
		codes: map[string]grant{},
	}
}

// NewServer starts a fake on a loopback httptest server; Close stops it.
func NewServer(clientID, secret string) *Server {
	s := New("", clientID, secret)
	s.ts = httptest.NewServer(s)
	s.Issuer = s.ts.URL
	return s
}

// URL returns the issuer URL.
func (s *Server) URL() string { return s.Issuer }

// Close stops a server started with NewServer.
func (s *Server) Close() {
	if s.ts != nil {
		s.ts.Close()
	}
}

// SetKnobs replaces the failure knobs.
func (s *Server) SetKnobs(k Knobs) {
	s.mu.Lock()
	s.knobs = k
	s.mu.Unlock()
}

func (s *Server) getKnobs() Knobs {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.knobs
}

// ServeHTTP routes the provider endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		if s.getKnobs().DiscoveryDown {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, 200, map[string]any{
			"issuer":                                s.Issuer,
			"authorization_endpoint":                s.Issuer + "/oauth/authorize",
			"token_endpoint":                        s.Issuer + "/oauth/token",
			"jwks_uri":                              s.Issuer + "/.well-known/jwks.json",
			"userinfo_endpoint":                     s.Issuer + "/v1/oidc/userinfo",
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_post"},
			"code_challenge_methods_supported":      []string{"S256"},
		})
	case "/.well-known/jwks.json":
		s.Keys.ServeJWKS(w, r)
	case "/oauth/authorize":
		s.authorize(w, r)
	case "/oauth/token":
		s.token(w, r)
	default:
		http.NotFound(w, r)
	}
}

var consentPage = template.Must(template.New("c").Parse(`<!doctype html><html lang="ko"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Sandbox OIDC login</title>
<style>body{font-family:sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}button{display:block;width:100%;margin:.5rem 0;padding:.8rem;font-size:1rem;background:#FEE500;border:0;border-radius:6px}</style></head>
<body><h1>Sandbox login</h1><p>테스트 사용자를 고르세요 (choose a test user).</p>
<form method="post">{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">{{end}}
{{range .Users}}<button name="persona" value="{{.Sub}}" data-persona="{{.Sub}}">{{.Nickname}} ({{.Sub}})</button>{{end}}
<button name="persona" value="" id="cancel" style="background:#eee">취소 (cancel)</button></form></body></html>`))

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", 400)
		return
	}
	q := r.Form
	redirect := q.Get("redirect_uri")
	if q.Get("client_id") != s.ClientID || redirect == "" || q.Get("response_type") != "code" {
		http.Error(w, "invalid client_id, redirect_uri or response_type", http.StatusBadRequest)
		return
	}
	back := func(v url.Values) {
		v.Set("state", q.Get("state"))
		http.Redirect(w, r, redirect+"?"+v.Encode(), http.StatusFound)
	}
	k := s.getKnobs()
	if k.Deny {
		back(url.Values{"error": {"access_denied"}, "error_description": {"User denied access"}})
		return
	}
	sub := k.AutoApprove
	if sub == "" {
		if r.Method != http.MethodPost {
			params := url.Values{}
			for _, n := range []string{"client_id", "redirect_uri", "response_type", "state", "nonce", "code_challenge", "code_challenge_method", "scope"} {
				params.Set(n, q.Get(n))
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			consentPage.Execute(w, map[string]any{"Params": params, "Users": s.Users})
			return
		}
		sub = q.Get("persona")
		if sub == "" {
			back(url.Values{"error": {"access_denied"}, "error_description": {"User cancelled"}})
			return
		}
	}
	code := RandomString(16)
	s.mu.Lock()
	s.codes[code] = grant{sub: sub, clientID: q.Get("client_id"), redirect: redirect, nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), at: time.Now()}
	s.mu.Unlock()
	back(url.Values{"code": {code}})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	k := s.getKnobs()
	if k.Delay > 0 {
		select {
		case <-time.After(k.Delay):
		case <-r.Context().Done():
			return
		}
	}
	if k.TokenStatus >= 500 {
		writeJSON(w, k.TokenStatus, map[string]string{"error": "server_error"})
		return
	}
	r.ParseForm()
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != s.ClientID || secret != s.ClientSecret {
		writeJSON(w, 401, map[string]string{"error": "invalid_client", "error_description": "Bad client credentials"})
		return
	}
	code := r.PostForm.Get("code")
	s.mu.Lock()
	g, found := s.codes[code]
	delete(s.codes, code)
	s.mu.Unlock()
	if !found || time.Since(g.at) > 10*time.Minute || g.redirect != r.PostForm.Get("redirect_uri") || k.TokenStatus == 400 {
		writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "authorization code not found"})
		return
	}
	if g.challenge != "" {
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "PKCE verification failed"})
			return
		}
	}
	now := time.Now()
	claims := jwt.MapClaims{"iss": s.Issuer, "aud": s.ClientID, "sub": g.sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "auth_time": now.Unix()}
	for _, u := range s.Users {
		if u.Sub == g.sub {
			claims["nickname"] = u.Nickname
			claims["email"] = u.Email
		}
	}
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	if k.BadNonce {
		claims["nonce"] = "not-the-nonce"
	}
	if k.WrongAudience {
		claims["aud"] = "someone-else"
	}
	if k.WrongIssuer {
		claims["iss"] = "https://evil.example"
	}
	if k.Expired {
		claims["exp"] = now.Add(-time.Hour).Unix()
	}
	resp := map[string]any{"access_token": RandomString(24), "token_type": "bearer", "expires_in": 21599, "refresh_token": RandomString(24)}
	if !k.NoIDToken {
		resp["id_token"] = s.Keys.Sign(claims)
	}
	writeJSON(w, 200, resp)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		fmt.Println("oidctest:", err)
	}
}
