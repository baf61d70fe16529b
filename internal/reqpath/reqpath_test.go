package reqpath

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/idgate/idgate/internal/reqpath/reqpathtest"
)

func escapedPath(t testing.TB, target string) string {
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return ""
	}
	return u.EscapedPath()
}

func TestCheckRefusesEveryHostileTarget(t *testing.T) {
	for _, tg := range reqpathtest.Hostile {
		ep := escapedPath(t, tg)
		if ep == "" {
			continue // Go's server refuses it already (400)
		}
		if strings.HasPrefix(strings.ToLower(ep), "/.idgate") && !strings.Contains(ep, "..") {
			continue // a canonical path; the portal prefix's spelling is gate.Admit's business
		}
		err := Check(ep)
		var e *Error
		if !errors.As(err, &e) || e.Reason != ReasonNotCanonical {
			t.Errorf("invariant 11: %q (escaped %q) was accepted (err %v)", tg, ep, err)
		}
	}
}

func TestCheckAcceptsCanonicalTargets(t *testing.T) {
	for _, tg := range reqpathtest.Canonical {
		if err := Check(escapedPath(t, tg)); err != nil {
			t.Errorf("%q refused: %v", tg, err)
		}
	}
}

func TestCheckBoundsLength(t *testing.T) {
	var e *Error
	if err := Check("/" + strings.Repeat("a", MaxLen)); !errors.As(err, &e) || e.Reason != ReasonTooLong {
		t.Fatalf("a %d-byte path: %v, want %s", MaxLen+1, err, ReasonTooLong)
	}
	if err := Check("/" + strings.Repeat("a", MaxLen-1)); err != nil {
		t.Fatalf("a %d-byte path: %v", MaxLen, err)
	}
}

func TestCheckDoesNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = Check("/members/board/list.php") }); n != 0 {
		t.Fatalf("Check allocates %v times on an ordinary path", n)
	}
}

type rewriteCase struct{ in, want, err string }

func (c rewriteCase) run(t *testing.T) {
	got, err := Rewrite(c.in)
	if c.err != "" {
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Fatalf("Rewrite(%q) = %q, %v; want error %q", c.in, got, err, c.err)
		}
		return
	}
	if err != nil || got != c.want {
		t.Fatalf("Rewrite(%q) = %q, %v; want %q", c.in, got, err, c.want)
	}
	if err := Check((&url.URL{Path: got}).EscapedPath()); err != nil {
		t.Fatalf("Rewrite(%q) = %q is not canonical: %v", c.in, got, err)
	}
}

func TestRewrite(t *testing.T) {
	for _, c := range []rewriteCase{
		{in: "/public/../members/x", want: "/members/x"},
		{in: "/public/..;/members/x", want: "/members/x"},
		{in: "/members;jsessionid=1/x;a=b", want: "/members/x"},
		{in: "//members//x/", want: "/members/x/"},
		{in: "/../../etc", want: "/etc"},
		{in: "/a/b/..", want: "/a/"},
		{in: "/a/.", want: "/a/"},
		{in: "/", want: "/"},
		{in: "/한글/x", want: "/한글/x"},
		{in: "/public/%2e%2e/members", err: "double encoding"},
		{in: "/public\\..\\members", err: "backslash"},
		{in: "/public/\x00", err: "control"},
		{in: "/public/\xc0\xae", err: "UTF-8"},
		{in: "/public/．．/members", err: "confusable"},
	} {
		t.Run(c.in, c.run)
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range append(reqpathtest.Hostile, reqpathtest.Canonical...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		ep := u.EscapedPath()
		if Check(ep) != nil {
			return
		}
		// A canonical path reads the same however it is resolved: decoding it changes no
		// segment boundary, and resolving dot segments or parameters changes nothing.
		if strings.Count(u.Path, "/") != strings.Count(ep, "/") {
			t.Fatalf("%q: decoding changed the segments (%q)", ep, u.Path)
		}
		if got, err := Rewrite(u.Path); err != nil || got != u.Path {
			t.Fatalf("%q: canonical path rewrites to %q, %v", ep, got, err)
		}
	})
}
