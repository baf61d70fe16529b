// Package navertest is a fake Naver Login for tests and the demo, faithful to what is known of
// Naver's API (shared/providers.md §1): the classic /oauth2.0/ authorize and token endpoints
// (parameters by query or form, expires_in as a string, errors with HTTP 200, single-use codes,
// delete always "success"), the profile API /v1/nid/me with its resultcode errors, and the OIDC
// surface (discovery, JWKS, /oauth2/authorize with PKCE S256, /oauth2/token with an RS256 id_token).
//
// The authorize endpoint shows a consent page where a test persona is picked (the demo's
// sandbox); tests skip it with Knobs.AutoApprove.
//
//	srv := navertest.NewServer("client", "secret")
//	defer srv.Close()
//	srv.SetKnobs(navertest.Knobs{AutoApprove: "kim"})
//	// naver.Config{AuthorizeURL: srv.URL() + "/oauth2.0/authorize", TokenURL: …, ProfileURL: …}
package navertest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/idgate/idgate/providers/oidc/oidctest"
)

// Persona is a sandbox Naver user. Empty fields are "not consented" and absent from the profile.
type Persona struct {
	Key       string // what tests and the consent page use to pick it
	ID        string // app-scoped Naver id
	Nickname  string
	Name      string
	Email     string
	Gender    string
	Age       string
	Birthday  string
	Birthyear string
	Mobile    string
}

// DefaultPersonas are the demo's sandbox users.
var DefaultPersonas = []Persona{
	{Key: "kim", ID: "CwcmtlCsh9RL2AS_gK-m_ET1UrQsTzcmer_RYWLJt7o", Nickname: "민준", Name: "김민준", Email: "minjun@example.com", Gender: "M", Age: "30-39", Birthday: "03-14", Birthyear: "1990", Mobile: "010-1234-5678"},
	{Key: "lee", ID: "Lx8f0Q2vS0h1bB3kT9nE7rY4uW6iP5oA1zC2dF3gH4j", Nickname: "서연", Name: "이서연", Email: "seoyeon@example.com", Gender: "F", Age: "10-19", Birthday: "12-31", Birthyear: "2008", Mobile: "010-2222-3333"},
	{Key: "park", ID: "Pq1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1", Nickname: "park***"},
}

// Knobs select failure modes. The zero value behaves like a healthy Naver.
type Knobs struct {
	// AutoApprove skips the consent page and logs in the persona with this Key.
	AutoApprove string
	// Deny answers authorize with error=access_denied (user cancelled consent).
	Deny bool
	// TokenError makes the token endpoint answer HTTP 200 {"error": TokenError}.
	TokenError string
	// TokenStatus makes the token endpoint answer this HTTP status with a non-JSON body.
	TokenStatus int
	// ProfileResultCode makes /v1/nid/me fail with "024", "028", "403", "404" or "500".
	ProfileResultCode string
	// ProfileErrorsWith200 sends profile errors with HTTP 200, as some integrators observe.
	ProfileErrorsWith200 bool
	// ExpireTokens makes every issued access token invalid (resultcode 024).
	ExpireTokens bool
	// Delay slows token and profile responses (Naver slow or down).
	Delay time.Duration
	// ExpiresInNumber sends expires_in as a number instead of Naver's usual string.
	ExpiresInNumber bool
	// BadNonce and WrongAudience spoil the OIDC id_token.
	BadNonce, WrongAudience bool
}

type grant struct {
	persona                          Persona
	clientID, redirect, state, nonce string
	challenge                        string
	oidc                             bool
	at                               time.Time
}

// Server is the fake; it is an http.Handler serving every Naver host on one origin.
type Server struct {
	ClientID, ClientSecret string
	Personas               []Persona
	Keys                   *oidctest.KeySet

	mu     sync.Mutex
	base   string
	knobs  Knobs
	codes  map[string]grant
	tokens map[string]Persona
	used   map[string]bool
	ts     *httptest.Server
}

// New returns a fake whose own base URL is base (used as the OIDC issuer).
func New(base, clientID, secret string) *Server {
	return &Server{
		ClientID: clientID, ClientSecret: secret, Personas: DefaultPersonas,
		Keys: oidctest.NewKeySet("naver-sandbox-1"),
		base: base, codes: map[string]grant{}, tokens: map[string]Persona{}, used: map[string]bool{},
	}
}

// NewServer starts a fake on a loopback httptest server.
func NewServer(clientID, secret string) *Server {
	s := New("", clientID, secret)
	s.ts = httptest.NewServer(s)
	s.base = s.ts.URL
	return s
}

// URL returns the fake's base URL.
func (s *Server) URL() string { return s.base }

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

// ServeHTTP routes Naver's endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/oauth2.0/authorize":
		s.authorize(w, r, false)
	case "/oauth2/authorize":
		s.authorize(w, r, true)
	case "/oauth2.0/token", "/oauth2/token":
		s.token(w, r, r.URL.Path == "/oauth2/token")
	case "/v1/nid/me":
		s.profile(w, r)
	case "/.well-known/openid-configuration":
		writeJSON(w, 200, map[string]any{
			"issuer":                                s.base,
			"authorization_endpoint":                s.base + "/oauth2/authorize",
			"token_endpoint":                        s.base + "/oauth2/token",
			"jwks_uri":                              s.base + "/oauth2/jwks",
			"userinfo_endpoint":                     s.base + "/v1/nid/me",
			"response_types_supported":              []string{"code"},
			"scopes_supported":                      []string{"openid", "profile"},
			"grant_types_supported":                 []string{"authorization_code"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "none"},
			"code_challenge_methods_supported":      []string{"S256"},
			"subject_types_supported":               []string{"pairwise"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	case "/oauth2/jwks":
		s.Keys.ServeJWKS(w, r)
	default:
		http.NotFound(w, r)
	}
}

var consentPage = template.Must(template.New("c").Parse(`<!doctype html><html lang="ko"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>NAVER 샌드박스 로그인</title>
<style>body{font-family:-apple-system,"Apple SD Gothic Neo","Malgun Gothic",sans-serif;max-width:28rem;margin:0 auto;padding:1.5rem 1rem;color:#222}
h1{color:#03C75A;font-size:1.4rem}.p{display:block;width:100%;text-align:left;margin:.5rem 0;padding:.9rem 1rem;font-size:1rem;border:1px solid #ddd;border-radius:8px;background:#fff}
.p:hover{border-color:#03C75A}small{color:#666}.c{background:#f5f5f5;text-align:center}.note{font-size:.85rem;color:#666;background:#f8f8f8;padding:.6rem;border-radius:6px}</style></head>
<body><h1>NAVER 샌드박스</h1><p class="note">데모용 가짜 네이버입니다. 실제 계정은 쓰이지 않습니다. (A fake Naver for the demo; no real account is used.)</p>
<p>로그인할 테스트 사용자를 고르세요.</p>
<form method="post">{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">{{end}}
{{range .Personas}}<button class="p" name="persona" value="{{.Key}}" data-persona="{{.Key}}"><b>{{if .Name}}{{.Name}}{{else}}{{.Nickname}}{{end}}</b><br><small>{{if .Birthyear}}{{.Birthyear}}년생 · {{end}}{{if .Email}}{{.Email}}{{else}}프로필 제공 거부{{end}}</small></button>{{end}}
<button class="p c" name="persona" value="" id="cancel">동의하지 않음 (cancel)</button></form></body></html>`))

// AddPersona adds a sandbox user (tests use it for fresh subjects). Safe while serving.
func (s *Server) AddPersona(p Persona) {
	s.mu.Lock()
	s.Personas = append(s.Personas[:len(s.Personas):len(s.Personas)], p)
	s.mu.Unlock()
}

func (s *Server) personas() []Persona {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Personas
}

func (s *Server) persona(key string) (Persona, bool) {
	for _, p := range s.personas() {
		if p.Key == key {
			return p, true
		}
	}
	return Persona{}, false
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request, oidc bool) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", 400)
		return
	}
	q := r.Form
	redirect := q.Get("redirect_uri")
	if q.Get("response_type") != "code" || q.Get("client_id") != s.ClientID || redirect == "" || q.Get("state") == "" {
		http.Error(w, "잘못된 요청입니다 (invalid client_id, redirect_uri, state or response_type)", http.StatusBadRequest)
		return
	}
	if oidc && !strings.Contains(" "+q.Get("scope")+" ", " openid ") {
		http.Error(w, "scope must contain openid", http.StatusBadRequest)
		return
	}
	back := func(v url.Values) {
		v.Set("state", q.Get("state"))
		http.Redirect(w, r, redirect+"?"+v.Encode(), http.StatusFound)
	}
	k := s.getKnobs()
	if k.Deny {
		back(url.Values{"error": {"access_denied"}, "error_description": {"Canceled By User"}})
		return
	}
	key := k.AutoApprove
	if key == "" {
		if r.Method != http.MethodPost {
			params := url.Values{}
			for _, n := range []string{"client_id", "redirect_uri", "response_type", "state", "nonce", "code_challenge", "code_challenge_method", "scope"} {
				if q.Get(n) != "" {
					params.Set(n, q.Get(n))
				}
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			consentPage.Execute(w, map[string]any{"Params": params, "Personas": s.personas()})
			return
		}
		key = q.Get("persona")
		if key == "" {
			back(url.Values{"error": {"access_denied"}, "error_description": {"Canceled By User"}})
			return
		}
	}
	p, ok := s.persona(key)
	if !ok {
		http.Error(w, "unknown persona", http.StatusBadRequest)
		return
	}
	code := oidctest.RandomString(12)
	s.mu.Lock()
	s.codes[code] = grant{persona: p, clientID: s.ClientID, redirect: redirect, state: q.Get("state"), nonce: q.Get("nonce"),
		challenge: q.Get("code_challenge"), oidc: oidc, at: time.Now()}
	s.mu.Unlock()
	back(url.Values{"code": {code}})
}

func (s *Server) delay(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	select {
	case <-time.After(d):
		return true
	case <-r.Context().Done():
		return false
	}
}

func (s *Server) token(w http.ResponseWriter, r *http.Request, oidc bool) {
	k := s.getKnobs()
	if !s.delay(r, k.Delay) {
		return
	}
	if k.TokenStatus != 0 {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(k.TokenStatus)
		w.Write([]byte("<html><body>Service Unavailable</body></html>"))
		return
	}
	// Naver's samples send everything in the query string; form posts work too.
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 200, map[string]string{"error": "invalid_request", "error_description": "bad request"})
		return
	}
	q := r.Form
	if k.TokenError != "" {
		writeJSON(w, 200, map[string]string{"error": k.TokenError, "error_description": "sandbox error"})
		return
	}
	if q.Get("client_id") != s.ClientID || q.Get("client_secret") != s.ClientSecret {
		writeJSON(w, 401, map[string]string{"error": "invalid_client", "error_description": "client authentication failed"})
		return
	}
	switch q.Get("grant_type") {
	case "delete":
		// Naver answers success even for an invalid token.
		s.mu.Lock()
		delete(s.tokens, q.Get("access_token"))
		s.mu.Unlock()
		writeJSON(w, 200, map[string]string{"access_token": q.Get("access_token"), "result": "success"})
		return
	case "authorization_code":
	default:
		writeJSON(w, 200, map[string]string{"error": "unsupported_grant_type", "error_description": "unsupported grant_type"})
		return
	}
	code := q.Get("code")
	s.mu.Lock()
	g, ok := s.codes[code]
	delete(s.codes, code)
	s.mu.Unlock()
	noSession := map[string]string{"error": "invalid_request", "error_description": "no valid data in session"}
	if !ok || time.Since(g.at) > 10*time.Minute || g.oidc != oidc || (q.Get("state") != "" && q.Get("state") != g.state) {
		writeJSON(w, 200, noSession)
		return
	}
	if g.challenge != "" {
		sum := sha256.Sum256([]byte(q.Get("code_verifier")))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			writeJSON(w, 200, map[string]string{"error": "invalid_grant", "error_description": "code_verifier mismatch"})
			return
		}
	}
	at := "AAAA" + oidctest.RandomString(30) + "+/="
	s.mu.Lock()
	s.tokens[at] = g.persona
	s.mu.Unlock()
	resp := map[string]any{"access_token": at, "refresh_token": oidctest.RandomString(30), "token_type": "bearer", "expires_in": "3600"}
	if k.ExpiresInNumber {
		resp["expires_in"] = 3600
	}
	if oidc {
		now := time.Now()
		claims := jwt.MapClaims{"iss": s.base, "aud": s.ClientID, "sub": g.persona.ID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if g.nonce != "" {
			claims["nonce"] = g.nonce
		}
		if k.BadNonce {
			claims["nonce"] = "someone-elses-nonce"
		}
		if k.WrongAudience {
			claims["aud"] = "another-app"
		}
		resp["id_token"] = s.Keys.Sign(claims)
	}
	writeJSON(w, 200, resp)
}

func (s *Server) profile(w http.ResponseWriter, r *http.Request) {
	k := s.getKnobs()
	if !s.delay(r, k.Delay) {
		return
	}
	fail := func(status int, code, msg string) {
		if k.ProfileErrorsWith200 {
			status = 200
		}
		writeJSON(w, status, map[string]string{"resultcode": code, "message": msg})
	}
	switch k.ProfileResultCode {
	case "403":
		fail(403, "403", "Forbidden")
		return
	case "404":
		fail(404, "404", "Not Found")
		return
	case "500":
		fail(500, "500", "Internal Server Error")
		return
	}
	auth := r.Header.Get("Authorization")
	if auth == "" || k.ProfileResultCode == "028" {
		fail(401, "028", "Authentication header not exists")
		return
	}
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	s.mu.Lock()
	p, found := s.tokens[tok]
	s.mu.Unlock()
	if !ok || !found || k.ExpireTokens || k.ProfileResultCode == "024" {
		fail(401, "024", "Authentication failed (인증 실패하였습니다.)")
		return
	}
	resp := map[string]string{"id": p.ID}
	set := func(k, v string) {
		if v != "" {
			resp[k] = v
		}
	}
	set("nickname", p.Nickname)
	set("name", p.Name)
	set("email", p.Email)
	set("gender", p.Gender)
	set("age", p.Age)
	set("birthday", p.Birthday)
	set("birthyear", p.Birthyear)
	set("mobile", p.Mobile)
	if p.Mobile != "" {
		resp["mobile_e164"] = "+82" + strings.ReplaceAll(strings.TrimPrefix(p.Mobile, "0"), "-", "")
	}
	writeJSON(w, 200, map[string]any{"resultcode": "00", "message": "success", "response": resp})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
