package portal

import "net/http"

// SameOrigin reports whether a state-changing request comes from a page of this site.
//
// Why: without it another site could log a visitor out or start flows in their name (CSRF).
// The Origin header decides when present; otherwise Sec-Fetch-Site must say same-origin. A
// request with neither is refused: every browser that matters sends one of them on POST.
func SameOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" {
		return o == origin(r)
	}
	return r.Header.Get("Sec-Fetch-Site") == "same-origin"
}

// origin is scheme://host of the request as the browser sees it.
func origin(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}
