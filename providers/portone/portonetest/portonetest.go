// Package portonetest is a fake PortOne V2 for identity verification (shared/providers.md §3):
// the API (GET /identity-verifications/{id} with READY, VERIFIED and FAILED answers and the
// documented errors), a stand-in for the browser SDK (GET /v2/browser-sdk.js defining
// PortOne.requestIdentityVerification with popup and redirect modes) and a sandbox page where a
// test persona is picked, as a carrier's verification window would be.
//
//	srv := portonetest.NewServer("store-1", "channel-key-1", "secret")
//	defer srv.Close()
//	srv.Complete("idgate-iv-…", "adult")   // what the browser leg would do
//	// portone.Config{APIBase: srv.URL(), …}; sdk_url srv.URL()+"/v2/browser-sdk.js"
package portonetest

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Persona is a sandbox person. BirthDate may be computed from the current year (see Personas).
type Persona struct {
	Key, Label, Name, Phone, Gender, BirthDate, CI, DI string
	Foreigner                                          bool
	// Fail makes the verification end FAILED (wrong code, carrier refusal).
	Fail bool
}

// Personas returns the sandbox personas for the current year in Korea: an adult, someone who
// turns 18 this year (a minor), someone who turns 19 this year (an adult under the Korean
// calendar-year rule, though not 19 full years until 31 December), a foreigner, and a failed
// verification.
func Personas(now time.Time) []Persona {
	y := now.In(time.FixedZone("KST", 9*3600)).Year()
	return []Persona{
		{Key: "adult", Label: "성인 (1990년생)", Name: "홍길동", Phone: "01012345678", Gender: "MALE", BirthDate: "1990-01-01",
			CI: strings.Repeat("A", 86) + "==", DI: strings.Repeat("D", 64)},
		{Key: "minor18", Label: fmt.Sprintf("올해 18세 (%d년 1월 1일생)", y-18), Name: "김청소", Phone: "01022223333", Gender: "FEMALE",
			BirthDate: fmt.Sprintf("%d-01-01", y-18), CI: strings.Repeat("B", 86) + "==", DI: strings.Repeat("E", 64)},
		{Key: "adult19", Label: fmt.Sprintf("올해 19세 (%d년 12월 31일생)", y-19), Name: "이열아홉", Phone: "01033334444", Gender: "MALE",
			BirthDate: fmt.Sprintf("%d-12-31", y-19), CI: strings.Repeat("C", 86) + "==", DI: strings.Repeat("F", 64)},
		{Key: "foreigner", Label: "외국인 (1988년생)", Name: "JOHN SMITH", Phone: "01044445555", Gender: "MALE", BirthDate: "1988-07-07",
			Foreigner: true, CI: strings.Repeat("G", 86) + "==", DI: strings.Repeat("H", 64)},
		{Key: "failed", Label: "인증 실패 (인증번호 불일치)", Fail: true},
	}
}

// Knobs select API failure modes. The zero value is a healthy PortOne.
type Knobs struct {
	// Status forces the API's HTTP status (500, 503…); 401 answers UNAUTHORIZED.
	Status int
	// Malformed answers 200 with a body that is not an identity verification.
	Malformed bool
	// Delay slows every API answer.
	Delay time.Duration
}

type verification struct {
	status    string
	persona   Persona
	requested time.Time
	updated   time.Time
}

// Server is the fake; it is an http.Handler.
type Server struct {
	StoreID, ChannelKey, APISecret string
	// PGProvider is reported in channel.pgProvider. Default DANAL.
	PGProvider string

	mu    sync.Mutex
	base  string
	knobs Knobs
	ivs   map[string]*verification
	ts    *httptest.Server
}

// New returns a fake whose own base URL is base.
func New(base, storeID, channelKey, secret string) *Server {
	return &Server{StoreID: storeID, ChannelKey: channelKey, APISecret: secret, PGProvider: "DANAL", base: base, ivs: map[string]*verification{}}
}

// NewServer starts a fake on a loopback httptest server.
func NewServer(storeID, channelKey, secret string) *Server {
	s := New("", storeID, channelKey, secret)
	s.ts = httptest.NewServer(s)
	s.base = s.ts.URL
	return s
}

// URL returns the base URL (API base and SDK host).
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

// Complete finishes verification id as persona key would in the carrier's window (VERIFIED, or
// FAILED for a failing persona). It panics on an unknown persona.
func (s *Server) Complete(id, key string) {
	var p *Persona
	for _, x := range Personas(time.Now()) {
		if x.Key == key {
			p = &x
			break
		}
	}
	if p == nil {
		panic("portonetest: unknown persona " + key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.ensure(id)
	v.persona, v.updated = *p, time.Now().UTC()
	v.status = "VERIFIED"
	if p.Fail {
		v.status = "FAILED"
	}
}

// CompleteAs finishes verification id as an arbitrary person would (a persona with another
// phone number for the same CI models someone who changed numbers).
func (s *Server) CompleteAs(id string, p Persona) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.ensure(id)
	v.persona, v.updated = p, time.Now().UTC()
	v.status = "VERIFIED"
	if p.Fail {
		v.status = "FAILED"
	}
}

// Open creates a READY verification, as opening the SDK window does.
func (s *Server) Open(id string) {
	s.mu.Lock()
	s.ensure(id)
	s.mu.Unlock()
}

func (s *Server) ensure(id string) *verification {
	v, ok := s.ivs[id]
	if !ok {
		now := time.Now().UTC()
		v = &verification{status: "READY", requested: now, updated: now}
		s.ivs[id] = v
	}
	return v
}

// ServeHTTP routes the API, the SDK stand-in and the sandbox page.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/identity-verifications/") && r.Method == http.MethodGet:
		s.api(w, r, strings.TrimPrefix(r.URL.Path, "/identity-verifications/"))
	case r.URL.Path == "/v2/browser-sdk.js":
		w.Header().Set("Content-Type", "application/javascript; charset=utf-8")
		fmt.Fprintf(w, sdkJS, s.base)
	case r.URL.Path == "/sandbox/verify":
		s.sandbox(w, r)
	default:
		writeJSON(w, 404, map[string]string{"type": "NOT_FOUND", "message": "not found"})
	}
}

func (s *Server) api(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	k := s.knobs
	s.mu.Unlock()
	if k.Delay > 0 {
		select {
		case <-time.After(k.Delay):
		case <-r.Context().Done():
			return
		}
	}
	if k.Status >= 500 {
		writeJSON(w, k.Status, map[string]string{"type": "INTERNAL", "message": "sandbox failure"})
		return
	}
	if k.Status == 401 || r.Header.Get("Authorization") != "PortOne "+s.APISecret {
		writeJSON(w, 401, map[string]string{"type": "UNAUTHORIZED", "message": "인증 정보가 올바르지 않습니다."})
		return
	}
	if sid := r.URL.Query().Get("storeId"); sid != "" && sid != s.StoreID {
		writeJSON(w, 403, map[string]string{"type": "FORBIDDEN", "message": "요청이 거절되었습니다."})
		return
	}
	if k.Malformed {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status": 42, "id": [`))
		return
	}
	s.mu.Lock()
	v, ok := s.ivs[id]
	var cp verification
	if ok {
		cp = *v
	}
	s.mu.Unlock()
	if !ok {
		writeJSON(w, 404, map[string]string{"type": "IDENTITY_VERIFICATION_NOT_FOUND", "message": "요청된 본인인증 건이 존재하지 않습니다."})
		return
	}
	ts := func(t time.Time) string { return t.Format("2006-01-02T15:04:05.000Z") }
	body := map[string]any{
		"status": cp.status, "id": id, "version": "V2",
		"channel":     map[string]any{"type": "TEST", "id": "channel-id-sandbox", "key": s.ChannelKey, "name": "sandbox", "pgProvider": s.PGProvider, "pgMerchantId": "sandbox"},
		"requestedAt": ts(cp.requested), "updatedAt": ts(cp.updated), "statusChangedAt": ts(cp.updated),
	}
	switch cp.status {
	case "READY":
		body["requestedCustomer"] = map[string]any{}
	case "FAILED":
		body["requestedCustomer"] = map[string]any{}
		body["failure"] = map[string]any{"reason": "본인인증 실패", "pgCode": "E001", "pgMessage": "인증번호 불일치"}
		body["pgTxId"] = "sandbox-" + id
	case "VERIFIED":
		p := cp.persona
		body["verifiedCustomer"] = map[string]any{"name": p.Name, "operator": "SKT", "phoneNumber": p.Phone, "birthDate": p.BirthDate,
			"gender": p.Gender, "isForeigner": p.Foreigner, "ci": p.CI, "di": p.DI}
		body["verifiedAt"] = ts(cp.updated)
		body["pgTxId"] = "sandbox-" + id
		body["pgRawResponse"] = "{}"
	}
	writeJSON(w, 200, body)
}

var sandboxPage = template.Must(template.New("s").Parse(`<!doctype html><html lang="ko"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>PortOne 본인인증 샌드박스</title>
<style>body{font-family:-apple-system,"Apple SD Gothic Neo","Malgun Gothic",sans-serif;max-width:26rem;margin:0 auto;padding:1rem;color:#222}
h1{font-size:1.2rem}.p{display:block;width:100%;text-align:left;margin:.4rem 0;padding:.8rem;font-size:1rem;border:1px solid #ddd;border-radius:8px;background:#fff}
.note{font-size:.85rem;color:#666;background:#f6f6f6;padding:.6rem;border-radius:6px}</style></head><body>
<h1>휴대폰 본인인증 (샌드박스)</h1><p class="note">데모용 가짜 본인인증 창입니다. 실제 통신사 인증은 일어나지 않습니다.</p>
<form method="post">{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">{{end}}
{{range .Personas}}<button class="p" name="persona" value="{{.Key}}" data-persona="{{.Key}}">{{.Label}}</button>{{end}}
<button class="p" name="persona" value="" id="iv-cancel" style="text-align:center;background:#f2f2f2">취소</button></form></body></html>`))

var donePage = template.Must(template.New("d").Parse(`<!doctype html><html><head><meta charset="utf-8"></head><body>
<p>인증 창을 닫는 중…</p><script>
var msg = {{.}};
if (window.opener) { window.opener.postMessage(msg, "*"); }
window.close();
</script></body></html>`))

func (s *Server) sandbox(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", 400)
		return
	}
	q := r.Form
	id, mode, redirect := q.Get("identityVerificationId"), q.Get("mode"), q.Get("redirectUrl")
	if id == "" || q.Get("storeId") != s.StoreID || q.Get("channelKey") != s.ChannelKey {
		http.Error(w, "storeId, channelKey 또는 identityVerificationId가 올바르지 않습니다", http.StatusBadRequest)
		return
	}
	if r.Method != http.MethodPost {
		s.Open(id)
		params := url.Values{}
		for _, n := range []string{"identityVerificationId", "storeId", "channelKey", "mode", "redirectUrl"} {
			params.Set(n, q.Get(n))
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		sandboxPage.Execute(w, map[string]any{"Params": params, "Personas": Personas(time.Now())})
		return
	}
	result := map[string]string{"transactionType": "IDENTITY_VERIFICATION", "identityVerificationId": id, "identityVerificationTxId": "sandbox-" + id}
	if key := q.Get("persona"); key != "" {
		s.Complete(id, key)
		s.mu.Lock()
		failed := s.ivs[id].status == "FAILED"
		s.mu.Unlock()
		if failed {
			result["code"], result["message"], result["pgCode"], result["pgMessage"] = "FAILURE_TYPE_PG", "본인인증에 실패했습니다", "E001", "인증번호 불일치"
		}
	} else {
		result["code"], result["message"] = "FAILURE_TYPE_PG", "사용자가 본인인증을 취소했습니다"
	}
	if mode == "redirect" {
		v := url.Values{}
		for k, val := range result {
			v.Set(k, val)
		}
		sep := "?"
		if strings.Contains(redirect, "?") {
			sep = "&"
		}
		http.Redirect(w, r, redirect+sep+v.Encode(), http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	donePage.Execute(w, result)
}

// sdkJS stands in for https://cdn.portone.io/v2/browser-sdk.js: it defines
// PortOne.requestIdentityVerification and opens the sandbox page as a popup (desktop) or by
// redirection (mobile, or forceRedirect). A blocked popup resolves with code POPUP_BLOCKED; a
// popup closed without an answer resolves with code USER_CANCEL.
const sdkJS = `(function () {
  var base = %q;
  function requestIdentityVerification(opts) {
    return new Promise(function (resolve) {
      var mobile = /Mobi|Android|iPhone|iPad/i.test(navigator.userAgent);
      var wt = opts.windowType || {};
      var mode = mobile ? (wt.mobile || "REDIRECTION") : (wt.pc || "POPUP");
      if (opts.forceRedirect) { mode = "REDIRECTION"; }
      var q = new URLSearchParams({identityVerificationId: opts.identityVerificationId || "", storeId: opts.storeId || "",
        channelKey: opts.channelKey || "", redirectUrl: opts.redirectUrl || ""});
      var fail = function (code, message) {
        resolve({transactionType: "IDENTITY_VERIFICATION", identityVerificationId: opts.identityVerificationId, code: code, message: message});
      };
      if (mode === "REDIRECTION") {
        if (!opts.redirectUrl) { fail("INVALID_REQUEST", "redirectUrl is required in redirect mode"); return; }
        q.set("mode", "redirect");
        window.location.href = base + "/sandbox/verify?" + q.toString();
        return;
      }
      q.set("mode", "popup");
      var w = window.open(base + "/sandbox/verify?" + q.toString(), "portone_identity_verification", "width=480,height=720");
      if (!w) { fail("POPUP_BLOCKED", "팝업이 차단되었습니다"); return; }
      var done = false;
      var onMessage = function (e) {
        if (e.origin !== base || done) { return; }
        done = true;
        window.removeEventListener("message", onMessage);
        resolve(e.data);
      };
      window.addEventListener("message", onMessage);
      var timer = setInterval(function () {
        if (w.closed) {
          clearInterval(timer);
          setTimeout(function () { if (!done) { done = true; window.removeEventListener("message", onMessage); fail("USER_CANCEL", "인증 창이 닫혔습니다"); } }, 300);
        }
      }, 300);
    });
  }
  window.PortOne = { requestIdentityVerification: requestIdentityVerification };
})();
`

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
