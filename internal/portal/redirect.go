package portal

// SafeRedirect returns rd if it is a same-site relative path, else "/".
//
// Why: rd comes from the query string; an absolute URL, a scheme-relative "//host", a "/\host"
// (which browsers treat as "//host") or a control character would turn the portal into an open
// redirect. Only "/" followed by anything but "/" or "\" passes, with no "\" or control
// character anywhere, at most 2 KiB.
func SafeRedirect(rd string) (string, bool) {
	if rd == "" || len(rd) > 2048 || rd[0] != '/' {
		return "/", false
	}
	if len(rd) > 1 && (rd[1] == '/' || rd[1] == '\\') {
		return "/", false
	}
	for i := 0; i < len(rd); i++ {
		c := rd[i]
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "/", false
		}
	}
	return rd, true
}
