package file

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idgate/idgate/internal/identity"
	"github.com/idgate/idgate/internal/store"
)

func TestRecordsSurviveReopenAndHideNames(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := s.Get(ctx, "naver:1"); r != nil || err != nil {
		t.Fatalf("empty store: %v %v", r, err)
	}
	rec := &store.Record{Subject: "naver:1", CIHash: "h1", Updated: time.Unix(100, 0).UTC(),
		Verified: []identity.Verification{{Kind: "phone", Provider: "portone:danal", At: 100, BirthDate: "1990-01-01"}}}
	if err := s.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	// A cached record is served, even after the subject's was negatively cached before Put.
	got, _ := s.Get(ctx, "naver:1")
	if got == nil || got.Verified[0].BirthDate != "1990-01-01" {
		t.Fatalf("cached get: %+v", got)
	}
	got.Verified[0].BirthDate = "tampered"
	again, _ := s.Get(ctx, "naver:1")
	if again.Verified[0].BirthDate != "1990-01-01" {
		t.Fatal("callers can modify the cached record")
	}
	// A new process (new Store) reads it back from disk.
	s2, _ := New(dir)
	got, err = s2.Get(ctx, "naver:1")
	if err != nil || got == nil || got.CIHash != "h1" || got.Verified[0].At != 100 {
		t.Fatalf("reopened: %+v %v", got, err)
	}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if strings.Contains(p, "naver") || strings.Contains(p, ".tmp-") {
			t.Errorf("file name leaks a subject or a temporary file was left: %s", p)
		}
		return nil
	})
}

func TestCorruptRecordIsAnErrorNotAnEmptyRecord(t *testing.T) {
	dir := t.TempDir()
	s, _ := New(dir)
	os.WriteFile(filepath.Join(dir, "records", name("naver:2")), []byte("{not json"), 0o600)
	if r, err := s.Get(context.Background(), "naver:2"); err == nil || r != nil {
		t.Fatalf("corrupt record: %v %v", r, err)
	}
}

func TestLinkCIConcurrently(t *testing.T) {
	s, _ := New(t.TempDir())
	ctx := context.Background()
	var wg sync.WaitGroup
	for _, sub := range []string{"naver:a", "kakao:b", "naver:c", "naver:a"} {
		wg.Add(1)
		go func(sub string) {
			defer wg.Done()
			if _, err := s.LinkCI(ctx, "ci-hash", sub); err != nil {
				t.Error(err)
			}
		}(sub)
	}
	wg.Wait()
	subs, _ := s.LinkCI(ctx, "ci-hash", "naver:a")
	if strings.Join(subs, ",") != "kakao:b,naver:a,naver:c" {
		t.Fatalf("linked = %v", subs)
	}
}
