package session

import (
	"reflect"
	"testing"
	"time"

	"github.com/idgate/idgate/internal/identity"
)

// TestEveryFieldSurvivesSealing guards against JSON key collisions between Session and the
// embedded Identity (a collision silently drops the embedded field).
func TestEveryFieldSurvivesSealing(t *testing.T) {
	m := newManager(t, nil)
	s := &Session{ID: "id", Issued: 1, Seen: 2, Expires: time.Now().Add(time.Hour).Unix(), Version: 3, Identity: identity.Identity{
		Subject: "naver:1", Provider: "naver", AuthTime: 4, AMR: []string{"naver"}, Claims: map[string]string{"name": "x"},
		Verified: []identity.Verification{{Kind: "phone", Provider: "portone:danal", At: 5, BirthDate: "1990-01-01"}},
	}}
	v, err := m.Seal(CookieName, s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Unseal(CookieName, v)
	if err != nil {
		t.Fatal(err)
	}
	got.cacheKey = "" // derived, not sealed
	if got.CacheKey() != s.CacheKey() {
		t.Fatalf("cache key %q, want %q", got.CacheKey(), s.CacheKey())
	}
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("round trip lost data:\n got %+v\nwant %+v", got, s)
	}
}
