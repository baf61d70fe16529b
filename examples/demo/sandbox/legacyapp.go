package sandbox

import (
	"encoding/json"
	"html/template"
	"net/http"
	"sort"
	"strings"

	"github.com/idgate/idgate/examples/verifiers/go/verifier"
)

// Report is what the legacy app saw on one request; /api/whoami returns it as JSON.
type Report struct {
	Path     string            `json:"path"`
	Headers  map[string]string `json:"headers"`
	Verified bool              `json:"verified"`
	Error    string            `json:"error,omitempty"`
	Claims   map[string]any    `json:"claims,omitempty"`
}

var appPage = template.Must(template.New("app").Parse(`<!doctype html><html lang="ko"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>레거시 게시판 (legacy app)</title>
<style>body{font-family:-apple-system,"Apple SD Gothic Neo","Malgun Gothic",sans-serif;max-width:44rem;margin:0 auto;padding:1rem;color:#222}
nav a{margin-right:1rem}table{border-collapse:collapse;width:100%;font-size:.85rem}td{border-bottom:1px solid #eee;padding:.3rem;word-break:break-all;vertical-align:top}
.ok{color:#1b5e20}.bad{color:#b71c1c}code{font-size:.8rem}</style></head><body>
<h1>레거시 게시판 <small>(a legacy app that knows nothing of idgate)</small></h1>
<nav><a href="/">홈</a><a href="/members/board">회원 게시판 (members)</a><a href="/vip/lounge">VIP (Naver only)</a><a href="/adult/board">성인 게시판 (adult)</a><a href="/.idgate/session">/.idgate/session</a><a href="/.idgate/logout?rd=/">로그아웃</a></nav>
<h2>{{.Path}}</h2>
{{if .Headers}}<p id="verified" class="{{if .Verified}}ok{{else}}bad{{end}}">{{if .Verified}}✔ assertion verified with /.idgate/jwks.json{{else}}✘ {{.Error}}{{end}}</p>
{{if .Claims}}<p>sub: <b id="sub">{{index .Claims "sub"}}</b></p>{{end}}{{else}}<p id="anonymous">공개 페이지입니다 — no identity headers were forwarded.</p>{{end}}
<h3>Identity headers the app received</h3><table id="headers">{{range $k, $v := .Headers}}<tr><td>{{$k}}</td><td><code>{{$v}}</code></td></tr>{{end}}</table>
{{if .Claims}}<h3>Verified claims</h3><table id="claims">{{range $k, $v := .Claims}}<tr><td>{{$k}}</td><td>{{$v}}</td></tr>{{end}}</table>{{end}}
</body></html>`))

// NewLegacyApp returns the demo's upstream. site is the public URL of the Caddy site (for the
// JWKS and the expected iss/aud).
func NewLegacyApp(site string) http.Handler {
	v := verifier.New(site+"/.idgate/jwks.json", site, site)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep := Report{Path: r.URL.Path, Headers: map[string]string{}}
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
