package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/internal/identity"
	"github.com/idgate/idgate/internal/session"
	"github.com/idgate/idgate/internal/store"
	"github.com/idgate/idgate/internal/store/file"
	"github.com/idgate/idgate/policy"
	"github.com/idgate/idgate/providers/otp"
	"github.com/idgate/idgate/providers/portone"
	"github.com/idgate/idgate/providers/portone/portonetest"
)

// contactPortal is a portal with PortOne verification (against the fake) and SMS step-up (to an
// outbox file), on a clock the test moves.
type contactPortal struct {
	p      *Portal
	po     *portonetest.Server
	recs   store.Records
	outbox string
	now    time.Time
}

func newContactPortal(t *testing.T, bindCI bool) *contactPortal {
	t.Helper()
	p, _ := testPortal(t)
	c := &contactPortal{p: p, now: time.Now()}
	p.Now = func() time.Time { return c.now }
	p.Sessions, _ = session.NewManager([]session.Key{{ID: 1, Secret: bytes.Repeat([]byte{7}, 32)}}, 24*time.Hour, 7*24*time.Hour, nil)
	c.po = portonetest.NewServer("store-1", "channel-1", "po-secret")
	t.Cleanup(c.po.Close)
	client, err := portone.New(portone.Config{StoreID: "store-1", ChannelKey: "channel-1", APISecret: "po-secret", APIBase: c.po.URL(), HTTPClient: &http.Client{Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c.recs = recs
	c.outbox = filepath.Join(t.TempDir(), "sms.jsonl")
	p.Verify = &Verification{PortOne: &PortOne{Client: client, StoreID: "store-1", ChannelKey: "channel-1"}, Records: recs,
		HashCI: func(ci string) string { return "h:" + ci }, BindCI: bindCI}
	p.MFA = &MFA{Records: recs, SMS: &otp.Outbox{Path: c.outbox}}
	p.MFA.SetDefaults()
	set, err := policy.Load([]policy.File{{Name: "m.yaml", Data: []byte("paths: [/m/*]\nrequire: {login: [naver], mfa: {methods: [sms]}}\n")}})
	if err != nil {
		t.Fatal(err)
	}
	p.Policies = set
	return c
}

// cookie is a session cookie for naver:victim issued at issued, with a step-up at mfaAt (zero: none).
func (c *contactPortal) cookie(t *testing.T, issued, mfaAt time.Time) *http.Cookie {
	t.Helper()
	id := identity.Identity{Subject: "naver:victim", Provider: "naver", AuthTime: issued.Unix()}
	if !mfaAt.IsZero() {
		id.MFA = &identity.MFA{At: mfaAt.Unix(), Method: "sms"}
	}
	s, err := c.p.Sessions.New(id, issued)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := c.p.Sessions.Seal(session.CookieName, s)
	return &http.Cookie{Name: session.CookieName, Value: v}
}

func (c *contactPortal) post(t *testing.T, path string, ck *http.Cookie, body any) (int, map[string]any) {
	t.Helper()
	var r *http.Request
	if form, ok := body.(url.Values); ok {
		r = httptest.NewRequest("POST", "http://shop.example"+path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		data, _ := json.Marshal(body)
		r = httptest.NewRequest("POST", "http://shop.example"+path, bytes.NewReader(data))
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Origin", "http://shop.example")
	r.AddCookie(ck)
	w := httptest.NewRecorder()
	c.p.ServeHTTP(w, r)
	var m map[string]any
	json.Unmarshal(w.Body.Bytes(), &m)
	return w.Code, m
}

// verify runs 본인인증 with ck as person, and checks it succeeded.
func (c *contactPortal) verify(t *testing.T, ck *http.Cookie, person portonetest.Persona) {
	t.Helper()
	code, m := c.post(t, "/.idgate/verify/portone/start", ck, map[string]string{"rd": "/m/1"})
	if code != 200 {
		t.Fatalf("start: %d %v", code, m)
	}
	id := m["identityVerificationId"].(string)
	c.po.CompleteAs(id, person)
	if code, m := c.post(t, "/.idgate/verify/portone/complete", ck, map[string]string{"identityVerificationId": id}); code != 200 {
		t.Fatalf("complete: %d %v", code, m)
	}
}

func (c *contactPortal) phone(t *testing.T) string {
	t.Helper()
	rec, err := c.recs.Get(context.Background(), "naver:victim")
	if err != nil || rec == nil {
		t.Fatalf("record: %v %v", rec, err)
	}
	return rec.Contacts["phone"]
}

func persona(key string) portonetest.Persona {
	for _, p := range portonetest.Personas(time.Now()) {
		if p.Key == key {
			return p
		}
	}
	panic(key)
}

func TestAStolenCookieCannotRedirectOneTimeCodes(t *testing.T) {
	c := newContactPortal(t, false)
	victim, attacker := persona("adult"), persona("foreigner")
	login := c.now
	c.verify(t, c.cookie(t, login, time.Time{}), victim)
	if got := c.phone(t); got != victim.Phone {
		t.Fatalf("invariant 13: the first contact after a fresh login is %q, want the victim's", got)
	}
	// Two hours later the attacker holds a copy of the cookie, with no fresh step-up: 본인인증
	// with the attacker's own phone passes (the verification is real) but codes still go to
	// the victim.
	c.now = login.Add(2 * time.Hour)
	stolen := c.cookie(t, login, time.Time{})
	c.verify(t, stolen, attacker)
	if got := c.phone(t); got != victim.Phone {
		t.Fatalf("invariant 13: a stolen cookie moved SMS codes to %q", got)
	}
	// So an SMS step-up sends its code to the victim's phone, not the attacker's.
	if code, m := c.post(t, "/.idgate/mfa/otp/send", stolen, url.Values{"channel": {"sms"}, "rd": {"/m/1"}}); code != 200 {
		t.Fatalf("send: %d %v", code, m)
	}
	sent, _ := os.ReadFile(c.outbox)
	if strings.Contains(string(sent), attacker.Phone) || !strings.Contains(string(sent), victim.Phone) {
		t.Fatalf("invariant 13: the code went elsewhere: %s", sent)
	}
	// Even with a fresh step-up, a verification of another person never redirects codes.
	c.verify(t, c.cookie(t, login, c.now.Add(-time.Minute)), attacker)
	if got := c.phone(t); got != victim.Phone {
		t.Fatalf("invariant 13: another person's verification moved codes to %q", got)
	}
}

func TestAFirstContactNeedsAFreshLoginOrStepUp(t *testing.T) {
	c := newContactPortal(t, false)
	login := c.now
	c.now = login.Add(time.Hour)
	c.verify(t, c.cookie(t, login, time.Time{}), persona("adult"))
	if got := c.phone(t); got != "" {
		t.Fatalf("invariant 13: an hour-old session set the first contact %q", got)
	}
}

func TestTheOwnerChangesTheirNumberAndTheOldOneIsTold(t *testing.T) {
	for _, bind := range []bool{false, true} {
		c := newContactPortal(t, bind)
		me := persona("adult")
		login := c.now
		c.verify(t, c.cookie(t, login, time.Time{}), me)
		newNumber := me
		newNumber.Phone = "01099998888"
		c.now = login.Add(3 * time.Hour)
		ck := c.cookie(t, login, time.Time{}) // stale session, no step-up
		if bind {
			// With bind_ci, the same person's verification is proof enough.
			c.verify(t, ck, newNumber)
		} else {
			c.verify(t, ck, newNumber)
			if got := c.phone(t); got != me.Phone {
				t.Fatalf("without bind_ci a stale session changed the number to %q", got)
			}
			c.verify(t, c.cookie(t, login, c.now.Add(-time.Minute)), newNumber) // after a fresh step-up
		}
		if got := c.phone(t); got != newNumber.Phone {
			t.Fatalf("bind_ci %v: the owner's new number was not kept: %q", bind, got)
		}
		sent, _ := os.ReadFile(c.outbox)
		if !strings.Contains(string(sent), me.Phone) || !strings.Contains(string(sent), "변경") {
			t.Fatalf("bind_ci %v: the previous number was not told: %s", bind, sent)
		}
	}
}
