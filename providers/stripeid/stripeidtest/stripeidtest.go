// Package stripeidtest is a fake Stripe Identity (shared/providers.md §6): create and retrieve
// VerificationSessions with Bearer secret keys and Stripe's error bodies, a hosted page at the
// session's url where the tester picks an outcome (as Stripe's test mode lets one), and signed
// webhooks (Stripe-Signature) sent to a configured endpoint.
//
//	srv := stripeidtest.NewServer("sk_test_x", "whsec_x")
//	defer srv.Close()
//	srv.WebhookURL = "http://127.0.0.1:8080/.idgate/webhooks/stripe"
//	srv.Finish("vs_…", "verified_adult")   // what the hosted page would do
package stripeidtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/idgate/idgate/providers/stripeid"
)

// Outcome is a result the hosted test page offers.
type Outcome struct {
	Key, Label string
	Status     string // verified, processing, requires_input, canceled
	DOB        string // yyyy-mm-dd for verified
	ErrorCode  string // last_error.code for requires_input
}

// Outcomes lists the hosted page's choices for the current year.
func Outcomes(now time.Time) []Outcome {
	y := now.Year()
	return []Outcome{
		{Key: "verified_adult", Label: "Verified — born 1985-05-05", Status: stripeid.StatusVerified, DOB: "1985-05-05"},
		{Key: "verified_minor", Label: fmt.Sprintf("Verified — born %d-06-01 (minor)", y-17), Status: stripeid.StatusVerified, DOB: fmt.Sprintf("%d-06-01", y-17)},
		{Key: "processing", Label: "Processing (finishes later by webhook)", Status: stripeid.StatusProcessing},
		{Key: "document_expired", Label: "Requires input — document expired", Status: stripeid.StatusRequiresInput, ErrorCode: "document_expired"},
		{Key: "selfie_face_mismatch", Label: "Requires input — selfie does not match", Status: stripeid.StatusRequiresInput, ErrorCode: "selfie_face_mismatch"},
		{Key: "canceled", Label: "Canceled", Status: stripeid.StatusCanceled},
	}
}

// Knobs select API failure modes.
type Knobs struct {
	Status int
	Delay  time.Duration
}

type vsession struct {
	stripeid.Session
	returnURL string
	dob       string
}

// Server is the fake; it is an http.Handler.
type Server struct {
	SecretKey, WebhookSecret string
	// WebhookURL receives signed events when a session changes status.
	WebhookURL string

	mu    sync.Mutex
	base  string
	knobs Knobs
	// processingAfter, when set, finishes a processing session as verified_adult that long
	// after, as Stripe finishes its checks by itself (and sends the webhook).
	processingAfter time.Duration
	sessions        map[string]*vsession
	n               int
	ts              *httptest.Server
}

// New returns a fake whose base URL is base.
func New(base, secretKey, webhookSecret string) *Server {
	return &Server{SecretKey: secretKey, WebhookSecret: webhookSecret, base: base, sessions: map[string]*vsession{}}
}

// NewServer starts a fake on a loopback httptest server.
func NewServer(secretKey, webhookSecret string) *Server {
	s := New("", secretKey, webhookSecret)
	s.ts = httptest.NewServer(s)
	s.base = s.ts.URL
	return s
}

// URL returns the API base.
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

// SetProcessingAfter makes a session moved to "processing" finish by itself (verified, born
// 1985) after d, with its webhook, as real Stripe does once its checks end; 0 leaves it
// processing until Finish is called again.
func (s *Server) SetProcessingAfter(d time.Duration) {
	s.mu.Lock()
	s.processingAfter = d
	s.mu.Unlock()
}

// SetWebhookURL sets where events go.
func (s *Server) SetWebhookURL(u string) {
	s.mu.Lock()
	s.WebhookURL = u
	s.mu.Unlock()
}

// Finish moves session id to outcome key and sends the matching webhook (if a URL is set). It
// returns the webhook's HTTP status (0 when none was sent).
func (s *Server) Finish(id, key string) int {
	var o *Outcome
	for _, x := range Outcomes(time.Now()) {
		if x.Key == key {
			o = &x
		}
	}
	if o == nil {
		panic("stripeidtest: unknown outcome " + key)
	}
	s.mu.Lock()
	vs, ok := s.sessions[id]
	if !ok {
		s.mu.Unlock()
		panic("stripeidtest: unknown session " + id)
	}
	vs.Status, vs.dob, vs.LastError = o.Status, o.DOB, nil
	if o.ErrorCode != "" {
		vs.LastError = &stripeid.LastError{Code: o.ErrorCode, Reason: strings.ReplaceAll(o.ErrorCode, "_", " ")}
	}
	snapshot := vs.Session
	hook := s.WebhookURL
	if after := s.processingAfter; o.Status == stripeid.StatusProcessing && after > 0 {
		time.AfterFunc(after, func() { s.Finish(id, "verified_adult") })
	}
	s.mu.Unlock()
	if hook == "" {
		return 0
	}
	return s.SendEvent("identity.verification_session."+snapshot.Status, snapshot, time.Now())
}

// SendEvent posts a signed event about obj, stamped t, to WebhookURL and returns the status.
func (s *Server) SendEvent(typ string, obj stripeid.Session, t time.Time) int {
	obj.URL, obj.VerifiedOutputs = "", nil // events carry no credentials and no unexpanded outputs
	body, _ := json.Marshal(map[string]any{
		"id": fmt.Sprintf("evt_%d", t.UnixNano()), "object": "event", "api_version": "2024-09-30.acacia", "created": t.Unix(),
		"type": typ, "livemode": false, "pending_webhooks": 1, "request": map[string]any{"id": nil, "idempotency_key": nil},
		"data": map[string]any{"object": obj},
	})
	return s.Post(body, stripeid.Sign(body, s.WebhookSecret, t))
}

// Post sends a raw webhook body with the given Stripe-Signature header.
func (s *Server) Post(body []byte, signature string) int {
	s.mu.Lock()
	hook := s.WebhookURL
	s.mu.Unlock()
	req, _ := http.NewRequest(http.MethodPost, hook, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Stripe-Signature", signature)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// ServeHTTP routes the API and the hosted page.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const prefix = "/v1/identity/verification_sessions"
	switch {
	case r.URL.Path == prefix && r.Method == http.MethodPost:
		if s.check(w, r) {
			s.create(w, r)
		}
	case strings.HasPrefix(r.URL.Path, prefix+"/") && r.Method == http.MethodGet:
		if s.check(w, r) {
			s.retrieve(w, r, strings.TrimPrefix(r.URL.Path, prefix+"/"))
		}
	case strings.HasPrefix(r.URL.Path, "/sandbox/identity/"):
		s.hosted(w, r, strings.TrimPrefix(r.URL.Path, "/sandbox/identity/"))
	default:
		stripeError(w, 404, "invalid_request_error", "resource_missing", "Unrecognized request URL")
	}
}

func (s *Server) check(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	k := s.knobs
	s.mu.Unlock()
	if k.Delay > 0 {
		select {
		case <-time.After(k.Delay):
		case <-r.Context().Done():
			return false
		}
	}
	if k.Status >= 500 {
		stripeError(w, k.Status, "api_error", "", "An error occurred with our connection to Stripe.")
		return false
	}
	if r.Header.Get("Authorization") != "Bearer "+s.SecretKey {
		stripeError(w, 401, "invalid_request_error", "", "Invalid API Key provided")
		return false
	}
	return true
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	if r.PostForm.Get("type") != "document" {
		stripeError(w, 400, "invalid_request_error", "parameter_invalid_empty", "type must be document in this fake")
		return
	}
	meta := map[string]string{}
	for k, v := range r.PostForm {
		if strings.HasPrefix(k, "metadata[") && strings.HasSuffix(k, "]") {
			meta[k[9:len(k)-1]] = v[0]
		}
	}
	s.mu.Lock()
	s.n++
	id := fmt.Sprintf("vs_test_%d%d", time.Now().UnixNano(), s.n)
	vs := &vsession{returnURL: r.PostForm.Get("return_url")}
	vs.Session = stripeid.Session{ID: id, Object: "identity.verification_session", Status: stripeid.StatusRequiresInput, Type: "document",
		ClientReferenceID: r.PostForm.Get("client_reference_id"), Metadata: meta}
	s.sessions[id] = vs
	out := vs.Session
	s.mu.Unlock()
	out.URL = s.base + "/sandbox/identity/" + id
	writeJSON(w, 200, out)
}

func (s *Server) retrieve(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	vs, ok := s.sessions[id]
	var out stripeid.Session
	var dob string
	if ok {
		out, dob = vs.Session, vs.dob
	}
	s.mu.Unlock()
	if !ok {
		stripeError(w, 404, "invalid_request_error", "resource_missing", "No such verification session: '"+id+"'")
		return
	}
	if out.Status == stripeid.StatusRequiresInput {
		out.URL = s.base + "/sandbox/identity/" + id
	}
	expand := strings.Join(r.URL.Query()["expand[]"], ",")
	if out.Status == stripeid.StatusVerified && strings.Contains(expand, "verified_outputs") {
		var d stripeid.DOB
		fmt.Sscanf(dob, "%d-%d-%d", &d.Year, &d.Month, &d.Day)
		out.VerifiedOutputs = &stripeid.VerifiedOutputs{FirstName: "Jenny", LastName: "Rosen", DOB: &d}
	}
	writeJSON(w, 200, out)
}

var hostedPage = template.Must(template.New("h").Parse(`<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Stripe Identity sandbox</title>
<style>body{font-family:sans-serif;max-width:26rem;margin:0 auto;padding:1rem}button{display:block;width:100%;margin:.4rem 0;padding:.8rem;border:1px solid #ccc;border-radius:8px;background:#fff;text-align:left}</style></head>
<body><h1>Verify your identity (sandbox)</h1><p>Test mode: pick the outcome.</p><form method="post">
{{range .}}<button name="outcome" value="{{.Key}}" data-outcome="{{.Key}}">{{.Label}}</button>{{end}}</form></body></html>`))

func (s *Server) hosted(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	vs, ok := s.sessions[id]
	ret := ""
	if ok {
		ret = vs.returnURL
	}
	s.mu.Unlock()
	if !ok {
		http.Error(w, "This verification link is invalid or expired.", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		hostedPage.Execute(w, Outcomes(time.Now()))
		return
	}
	r.ParseForm()
	s.Finish(id, r.PostForm.Get("outcome"))
	if ret == "" {
		fmt.Fprintln(w, "Done. You can close this window.")
		return
	}
	if _, err := url.Parse(ret); err == nil {
		http.Redirect(w, r, ret, http.StatusFound)
	}
}

func stripeError(w http.ResponseWriter, status int, typ, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"type": typ, "code": code, "message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
