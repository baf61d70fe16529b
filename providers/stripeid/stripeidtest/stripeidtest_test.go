package stripeidtest_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/providers"
	"github.com/idgate/idgate/providers/stripeid"
	"github.com/idgate/idgate/providers/stripeid/stripeidtest"
)

func client(t *testing.T, srv *stripeidtest.Server, key string) *stripeid.Client {
	c, err := stripeid.New(stripeid.Config{SecretKey: key, APIBase: srv.URL(), HTTPClient: &http.Client{Timeout: 500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCreateRetrieveAndOutcomes(t *testing.T) {
	srv := stripeidtest.NewServer("sk_test_1", "whsec_1")
	defer srv.Close()
	c := client(t, srv, "sk_test_1")
	ctx := context.Background()
	s, err := c.Create(ctx, "ref-1", map[string]string{"idgate_ref": "r"}, "http://app/return")
	if err != nil || s.Status != stripeid.StatusRequiresInput || !strings.HasPrefix(s.URL, srv.URL()) || s.ClientReferenceID != "ref-1" || s.Metadata["idgate_ref"] != "r" {
		t.Fatalf("create: %+v %v", s, err)
	}
	srv.Finish(s.ID, "verified_adult")
	got, err := c.Retrieve(ctx, s.ID)
	if err != nil || got.Status != stripeid.StatusVerified || got.VerifiedOutputs == nil || got.VerifiedOutputs.DOB.String() != "1985-05-05" {
		t.Fatalf("retrieve: %+v %v", got, err)
	}
	srv.Finish(s.ID, "document_expired")
	got, _ = c.Retrieve(ctx, s.ID)
	if got.Status != stripeid.StatusRequiresInput || got.LastError == nil || got.LastError.Code != "document_expired" || got.URL == "" {
		t.Fatalf("requires_input: %+v", got)
	}
	if _, err := c.Retrieve(ctx, "vs_nope"); code(err) != stripeid.CodeNotFound {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := client(t, srv, "sk_wrong").Retrieve(ctx, s.ID); code(err) != providers.CodeMisconfigured {
		t.Fatalf("wrong key: %v", err)
	}
	srv.SetKnobs(stripeidtest.Knobs{Status: 500})
	if _, err := c.Retrieve(ctx, s.ID); code(err) != providers.CodeUnavailable {
		t.Fatalf("500: %v", err)
	}
	srv.SetKnobs(stripeidtest.Knobs{Delay: 2 * time.Second})
	if _, err := c.Retrieve(ctx, s.ID); code(err) != providers.CodeUnavailable {
		t.Fatalf("slow: %v", err)
	}
}

func code(err error) string {
	var pe *providers.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func TestWebhookSignatures(t *testing.T) {
	body := []byte(`{"id":"evt_1","object":"event","type":"identity.verification_session.verified","data":{"object":{"id":"vs_1","object":"identity.verification_session","status":"verified"}}}`)
	now := time.Unix(1_800_000_000, 0)
	sig := stripeid.Sign(body, "whsec_abc", now)
	ev, err := stripeid.ParseWebhook(body, sig, "whsec_abc", now.Add(time.Minute))
	if err != nil || ev.Type != "identity.verification_session.verified" || ev.Data.Object.ID != "vs_1" {
		t.Fatalf("valid: %+v %v", ev, err)
	}
	// Another v1 entry alongside the right one is fine; the secret is used as is.
	if _, err := stripeid.ParseWebhook(body, sig+",v1=00ff,v0=zz", "whsec_abc", now); err != nil {
		t.Fatalf("extra entries: %v", err)
	}
	for name, c := range map[string]struct {
		header, secret string
		at             time.Time
		want           error
	}{
		"wrong secret":       {sig, "whsec_other", now, stripeid.ErrBadSignature},
		"base64-decoded key": {stripeid.Sign(body, "abc", now), "whsec_abc", now, stripeid.ErrBadSignature},
		"stale (301 s)":      {sig, "whsec_abc", now.Add(301 * time.Second), stripeid.ErrStale},
		"from the future":    {sig, "whsec_abc", now.Add(-301 * time.Second), stripeid.ErrStale},
		"no signature":       {"t=1800000000", "whsec_abc", now, stripeid.ErrBadHeader},
		"garbage header":     {"nonsense", "whsec_abc", now, stripeid.ErrBadHeader},
		"tampered body":      {stripeid.Sign(append([]byte(" "), body...), "whsec_abc", now), "whsec_abc", now, stripeid.ErrBadSignature},
	} {
		if _, err := stripeid.ParseWebhook(body, c.header, c.secret, c.at); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}
