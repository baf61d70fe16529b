package audit

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// decisions reads idgate_decisions_total{policy,outcome} from reg.
func decisions(t *testing.T, reg *prometheus.Registry, policy, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "idgate_decisions_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["policy"] == policy && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// Decision's cached counters are the registered collector's: a second Metrics on the same
// registry (a Caddy reload) keeps counting into the same series.
func TestDecisionCountsIntoTheRegisteredSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.Decision("members", "met")
	m.Decision("members", "met")
	m.Decision("members", "login_required")
	m2, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	m2.Decision("members", "met")
	if got := decisions(t, reg, "members", "met"); got != 3 {
		t.Fatalf("members/met = %v, want 3", got)
	}
	if got := decisions(t, reg, "members", "login_required"); got != 1 {
		t.Fatalf("members/login_required = %v, want 1", got)
	}
}

func BenchmarkDecision(b *testing.B) {
	m, _ := New(prometheus.NewRegistry())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Decision("members", "met")
		}
	})
}
