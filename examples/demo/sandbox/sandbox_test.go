package sandbox

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPoliciesAreCopiedOnlyWhenAbsent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "policies")
	if err := writePolicies(dir); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "public.yaml")
	edited := []byte("# the operator's edit\npaths: [\"/\"]\npublic: true\n")
	os.WriteFile(f, edited, 0o644)
	os.Remove(filepath.Join(dir, "vip.yaml"))
	if err := writePolicies(dir); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(f); string(got) != string(edited) {
		t.Fatalf("a restart undid the edit: %s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "vip.yaml")); err == nil {
		t.Fatal("a restart brought a removed policy back")
	}
}
