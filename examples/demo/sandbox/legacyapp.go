package sandbox

import (
	"encoding/json"
	"html/template"
	"net/http"
	"os"
	"sort"
	"strings"

	"github.com/idgate/idgate/examples/verifiers/go/verifier"
)

// Report is what the legacy app saw on one request; /api/whoami returns it as JSON.
type Report struct {
	Path     string            `json:"path"`
	Headers  map[string]string `json:"headers"`
	Cookies  []string          `json:"cookies"`
	Verified bool              `json:"verified"`
	Error    string            `json:"error,omitempty"`
	Claims   map[string]any    `json:"claims,omitempty"`
}

var appPage = template.Must(template.New("app").Parse(`<!doctype html><html lang="ko"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>레거시 게시판 (legacy app)</title>
<style>body{font-family:-apple-system,"Apple SD Gothic Neo","Malgun Gothic","Noto Sans KR",sans-serif;max-width:44rem;margin:0 auto;padding:1rem;color:#222;word-break:keep-all;overflow-wrap:anywhere}
h1{font-size:1.4rem}nav{display:flex;flex-wrap:wrap;gap:.4rem 1rem}
table{border-collapse:collapse;width:100%;table-layout:fixed;font-size:.85rem}td{border-bottom:1px solid #eee;padding:.3rem;word-break:break-all;vertical-align:top}td:first-child{width:38%}
.ok{color:#1b5e20}.bad{color:#b71c1c}code{font-size:.8rem}</style></head><body>
<h1>레거시 게시판 <small>(a legacy app that knows nothing of idgate)</small></h1>
<nav><a href="/">홈</a><a href="/members/board">회원 게시판 (members)</a><a href="/vip/lounge">VIP (Naver only)</a><a href="/adult/board">성인 게시판 (adult)</a><a href="/admin/payouts">관리자 (admin, MFA)</a><a href="/public/inbox">인증 코드함 (inbox)</a><a href="/.idgate/session">/.idgate/session</a><a href="/.idgate/logout?rd=/">로그아웃</a></nav>
<h2>{{.Path}}</h2>
{{if .Headers}}<p id="verified" class="{{if .Verified}}ok{{else}}bad{{end}}">{{if .Verified}}✔ assertion verified with /.idgate/jwks.json{{else}}✘ {{.Error}}{{end}}</p>
{{if .Claims}}<p>sub: <b id="sub">{{index .Claims "sub"}}</b></p>{{end}}{{else}}<p id="anonymous">공개 페이지입니다 — no identity headers were forwarded.</p>{{end}}
<h3>Identity headers the app received</h3><table id="headers">{{range $k, $v := .Headers}}<tr><td>{{$k}}</td><td><code>{{$v}}</code></td></tr>{{end}}</table>
{{if .Claims}}<h3>Verified claims</h3><table id="claims">{{range $k, $v := .Claims}}<tr><td>{{$k}}</td><td>{{$v}}</td></tr>{{end}}</table>{{end}}
</body></html>`))

// NewLegacyApp returns the demo's upstream. site is the public URL of the Caddy site (for the
// JWKS and the expected iss/aud).
//
// outboxes, when given, are the demo's one-time-code outboxes shown at /public/inbox (the
// sandbox's stand-in for a mailbox and a phone).
func NewLegacyApp(site string, outboxes ...string) http.Handler {
	v := verifier.New(site+"/.idgate/jwks.json", site, site)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/public/inbox" {
			inbox(w, outboxes)
			return
		}
		rep := Report{Path: r.URL.Path, Headers: map[string]string{}, Cookies: []string{}}
		for _, c := range r.Cookies() {
			rep.Cookies = append(rep.Cookies, c.Name)
		}
		var names []string
		for k := range r.Header {
			if (strings.HasPrefix(k, "X-Idgate-") || strings.HasPrefix(k, "X-User-") || strings.HasPrefix(k, "X-Remote-")) && r.Header.Get(k) != "" {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		for _, k := range names {
			rep.Headers[k] = strings.Join(r.Header.Values(k), ", ")
		}
		if tok := r.Header.Get("X-Idgate-Assertion"); tok != "" {
			claims, err := v.Verify(tok)
			if err != nil {
				rep.Error = err.Error()
			} else {
				rep.Verified, rep.Claims = true, claims
			}
		}
		if strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Query().Get("format") == "json" {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(rep)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		appPage.Execute(w, rep)
	})
}

var inboxPage = template.Must(template.New("inbox").Parse(`<!doctype html><html lang="ko"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>샌드박스 받은편지함 (sandbox inbox)</title>
<style>body{font-family:sans-serif;max-width:40rem;margin:0 auto;padding:1rem}li{margin:.5rem 0}code{font-size:1.2rem}</style></head><body>
<h1>샌드박스 받은편지함 / 문자함</h1><p>데모에서 보낸 인증 코드입니다 (the demo's one-time codes; newest first).</p>
<ul id="inbox">{{range .}}<li>{{.at}} → {{.to}}: <code class="code">{{.code}}</code><br><small>{{.text}}</small></li>{{else}}<li>비어 있음 (empty)</li>{{end}}</ul></body></html>`))

func inbox(w http.ResponseWriter, outboxes []string) {
	var items []map[string]string
	for _, p := range outboxes {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var m map[string]string
			if json.Unmarshal([]byte(line), &m) == nil {
				items = append(items, m)
			}
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i]["at"] > items[j]["at"] })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	inboxPage.Execute(w, items)
}
