// Package recaptchatest is a fake reCAPTCHA Enterprise for account verification: the
// createAssessment API (token validity with invalidReason, request tokens per e-mail endpoint,
// latestVerificationResult for verdict tokens) and a stand-in for Google's browser script
// (grecaptcha.enterprise.execute and eap.initTwoFactorVerificationHandle with challengeAccount and
// verifyAccount). Google's own challenge cannot be reproduced; the stand-in "e-mails" a PIN that
// tests read with LastPIN and the demo shows at /sandbox/inbox.
//
//	srv := recaptchatest.NewServer("project-1", "api-key", "site-key")
//	defer srv.Close()
//	srv.SetKnobs(recaptchatest.Knobs{ForceResult: "ERROR_RECIPIENT_NOT_ALLOWED"})
package recaptchatest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Knobs select failure modes.
type Knobs struct {
	// ForceResult makes every verdict assessment answer this latestVerificationResult.
	ForceResult string
	// Status forces the API's HTTP status (403, 500…).
	Status int
	// InvalidReason makes every execute token invalid with this reason (EXPIRED, DUPE…).
	InvalidReason string
}

type challenge struct {
	email, account, pin string
	sent                time.Time
}

// Server is the fake; it is an http.Handler.
type Server struct {
	ProjectID, APIKey, SiteKey string

	mu       sync.Mutex
	base     string
	knobs    Knobs
	tokens   map[string]bool       // execute tokens, true once used
	requests map[string]*challenge // requestToken → challenge
	verdicts map[string]string     // verdictToken → requestToken
	outbox   []string
	ts       *httptest.Server
}

// New returns a fake at base.
func New(base, projectID, apiKey, siteKey string) *Server {
	return &Server{ProjectID: projectID, APIKey: apiKey, SiteKey: siteKey, base: base,
		tokens: map[string]bool{}, requests: map[string]*challenge{}, verdicts: map[string]string{}}
}

// NewServer starts a fake on a loopback httptest server.
func NewServer(projectID, apiKey, siteKey string) *Server {
	s := New("", projectID, apiKey, siteKey)
	s.ts = httptest.NewServer(s)
	s.base = s.ts.URL
	return s
}

// URL returns the base URL (API and script).
func (s *Server) URL() string { return s.base }

// Close stops a server started with NewServer.
func (s *Server) Close() {
	if s.ts != nil {
		s.ts.Close()
	}
}

// SetKnobs replaces the knobs.
func (s *Server) SetKnobs(k Knobs) {
	s.mu.Lock()
	s.knobs = k
	s.mu.Unlock()
}

// LastPIN returns the latest PIN "e-mailed" to email.
func (s *Server) LastPIN(email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var best *challenge
	for _, c := range s.requests {
		if c.email == email && c.pin != "" && (best == nil || c.sent.After(best.sent)) {
			best = c
		}
	}
	if best == nil {
		return ""
	}
	return best.pin
}

// ExecuteToken mints a token as grecaptcha.enterprise.execute would (for tests without a browser).
func (s *Server) ExecuteToken() string {
	t := "exec-" + random()
	s.mu.Lock()
	s.tokens[t] = false
	s.mu.Unlock()
	return t
}

// Challenge and Verify do what the stand-in's handle does, for tests without a browser.
func (s *Server) Challenge(requestToken string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.requests[requestToken]
	if !ok {
		return false
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000))
	c.pin, c.sent = fmt.Sprintf("%06d", n.Int64()), time.Now()
	s.outbox = append(s.outbox, fmt.Sprintf("%s → %s: reCAPTCHA PIN %s", c.sent.Format(time.TimeOnly), c.email, c.pin))
	return true
}

// Verify returns a verdict token for requestToken and pin. A wrong PIN still yields a verdict
// token; its assessment says ERROR_USER_NOT_VERIFIED.
func (s *Server) Verify(requestToken, pin string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.requests[requestToken]; !ok {
		return "", false
	}
	v := "verdict-" + random()
	s.verdicts[v] = requestToken + "\x00" + pin
	return v, true
}

func random() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ServeHTTP routes the API, the script stand-in and the sandbox endpoints it calls.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	switch {
	case strings.HasPrefix(r.URL.Path, "/v1/projects/") && strings.HasSuffix(r.URL.Path, "/assessments") && r.Method == http.MethodPost:
		s.assess(w, r)
	case r.URL.Path == "/recaptcha/enterprise.js":
		w.Header().Set("Content-Type", "application/javascript")
		fmt.Fprintf(w, scriptJS, s.base)
	case r.URL.Path == "/sandbox/execute" && r.Method == http.MethodPost:
		writeJSON(w, 200, map[string]string{"token": s.ExecuteToken()})
	case r.URL.Path == "/sandbox/challenge" && r.Method == http.MethodPost:
		var b struct{ RequestToken string }
		json.NewDecoder(r.Body).Decode(&b)
		writeJSON(w, 200, map[string]bool{"success": s.Challenge(b.RequestToken)})
	case r.URL.Path == "/sandbox/verify" && r.Method == http.MethodPost:
		var b struct{ RequestToken, PIN string }
		json.NewDecoder(r.Body).Decode(&b)
		v, ok := s.Verify(b.RequestToken, b.PIN)
		writeJSON(w, 200, map[string]any{"success": ok, "verdictToken": v})
	case r.URL.Path == "/sandbox/inbox":
		s.mu.Lock()
		items := append([]string(nil), s.outbox...)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		inboxPage.Execute(w, items)
	default:
		writeJSON(w, 404, map[string]any{"error": map[string]any{"code": 404, "message": "not found", "status": "NOT_FOUND"}})
	}
}

var inboxPage = template.Must(template.New("i").Parse(`<!doctype html><meta charset="utf-8"><title>reCAPTCHA sandbox inbox</title>
<h1>reCAPTCHA 계정 인증 PIN (sandbox)</h1><ul>{{range .}}<li>{{.}}</li>{{else}}<li>empty</li>{{end}}</ul>`))

type assessReq struct {
	Event struct {
		Token          string `json:"token"`
		SiteKey        string `json:"siteKey"`
		ExpectedAction string `json:"expectedAction"`
		UserInfo       struct {
			AccountID string `json:"accountId"`
		} `json:"userInfo"`
	} `json:"event"`
	AccountVerification struct {
		Endpoints []struct {
			EmailAddress string `json:"emailAddress"`
			PhoneNumber  string `json:"phoneNumber"`
		} `json:"endpoints"`
	} `json:"accountVerification"`
}

func (s *Server) assess(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	k := s.knobs
	s.mu.Unlock()
	if k.Status != 0 {
		writeJSON(w, k.Status, map[string]any{"error": map[string]any{"code": k.Status, "message": "sandbox failure", "status": "UNAVAILABLE"}})
		return
	}
	if r.URL.Query().Get("key") != s.APIKey || r.URL.Path != "/v1/projects/"+s.ProjectID+"/assessments" {
		writeJSON(w, 403, map[string]any{"error": map[string]any{"code": 403, "message": "API key not valid.", "status": "PERMISSION_DENIED"}})
		return
	}
	var req assessReq
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Event.SiteKey != s.SiteKey {
		writeJSON(w, 400, map[string]any{"error": map[string]any{"code": 400, "message": "Request contains an invalid argument.", "status": "INVALID_ARGUMENT"}})
		return
	}
	out := map[string]any{"name": "projects/" + s.ProjectID + "/assessments/" + random()}
	tp := map[string]any{"valid": false, "invalidReason": "MALFORMED", "action": req.Event.ExpectedAction, "hostname": "sandbox"}
	av := map[string]any{"endpoints": []any{}, "latestVerificationResult": "RESULT_UNSPECIFIED"}
	email := ""
	if len(req.AccountVerification.Endpoints) > 0 {
		email = req.AccountVerification.Endpoints[0].EmailAddress
	}
	tok := req.Event.Token
	s.mu.Lock()
	switch {
	case strings.HasPrefix(tok, "exec-"):
		used, known := s.tokens[tok]
		switch {
		case !known:
		case used:
			tp["invalidReason"] = "DUPE"
		case k.InvalidReason != "":
			tp["invalidReason"] = k.InvalidReason
		default:
			s.tokens[tok] = true
			tp["valid"], tp["invalidReason"] = true, "INVALID_REASON_UNSPECIFIED"
			rt := "req-" + random()
			s.requests[rt] = &challenge{email: email, account: req.Event.UserInfo.AccountID}
			av["endpoints"] = []any{map[string]string{"emailAddress": email, "requestToken": rt, "lastVerificationTime": ""}}
		}
	case strings.HasPrefix(tok, "verdict-"):
		ref, known := s.verdicts[tok]
		if known {
			delete(s.verdicts, tok) // verdict tokens are single use
			rt, pin, _ := strings.Cut(ref, "\x00")
			c := s.requests[rt]
			tp["valid"], tp["invalidReason"] = true, "INVALID_REASON_UNSPECIFIED"
			result := "ERROR_USER_NOT_VERIFIED"
			switch {
			case c == nil || c.account != req.Event.UserInfo.AccountID || c.email != email:
				result = "ERROR_VERDICT_MISMATCH"
			case c.pin != "" && c.pin == pin && time.Since(c.sent) < 15*time.Minute:
				result = "SUCCESS_USER_VERIFIED"
			}
			if k.ForceResult != "" {
				result = k.ForceResult
			}
			av["latestVerificationResult"] = result
			av["endpoints"] = []any{map[string]string{"emailAddress": email, "requestToken": "", "lastVerificationTime": time.Now().Format("2006-01-02 15:04:05 MST")}}
		} else {
			tp["invalidReason"] = "DUPE"
		}
	}
	s.mu.Unlock()
	out["tokenProperties"] = tp
	out["riskAnalysis"] = map[string]any{"score": 0.9, "reasons": []string{}}
	out["accountVerification"] = av
	out["event"] = map[string]any{"token": tok, "siteKey": s.SiteKey, "expectedAction": req.Event.ExpectedAction}
	writeJSON(w, 200, out)
}

// scriptJS stands in for https://www.google.com/recaptcha/enterprise.js.
const scriptJS = `(function () {
  var base = %q;
  function post(path, body) {
    return fetch(base + path, {method: "POST", body: JSON.stringify(body || {})}).then(function (r) { return r.json(); });
  }
  function result(ok, verdict) { return {isSuccess: function () { return ok; }, getVerdictToken: function () { return verdict || ""; }}; }
  window.grecaptcha = {enterprise: {
    ready: function (fn) { setTimeout(fn, 0); },
    execute: function (key, opts) { return post("/sandbox/execute", {key: key, action: opts && opts.action}).then(function (j) { return j.token; }); },
    eap: {initTwoFactorVerificationHandle: function (key, requestToken) {
      return {
        challengeAccount: function () { return post("/sandbox/challenge", {RequestToken: requestToken}).then(function (j) { return result(j.success); }); },
        verifyAccount: function (pin) { return post("/sandbox/verify", {RequestToken: requestToken, PIN: pin}).then(function (j) { return result(j.success, j.verdictToken); }); }
      };
    }}
  }};
})();
`

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
