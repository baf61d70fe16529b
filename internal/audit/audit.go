// Package audit counts what idgate decides and does, as Prometheus metrics registered with
// Caddy's own registry: gate decisions by policy and outcome, challenges by requirement, provider
// latency and errors by provider, and every security event the portal logs (logins,
// verifications, step-ups, refusals, lockouts), which it counts from the structured log entries
// themselves so the audit log and the metrics cannot disagree.
package audit

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zapcore"
)

// Metrics holds idgate's collectors.
type Metrics struct {
	Decisions  *prometheus.CounterVec
	Challenges *prometheus.CounterVec
	Provider   *prometheus.HistogramVec
	Events     *prometheus.CounterVec

	decisions sync.Map // decisionKey → prometheus.Counter, so the hot path skips label hashing and locks
}

type decisionKey struct{ policy, outcome string }

// Decision counts one gate decision. Policy names and outcomes are finite (configured policies,
// reason codes), so the counters it caches are too.
func (m *Metrics) Decision(policy, outcome string) {
	k := decisionKey{policy, outcome}
	c, ok := m.decisions.Load(k)
	if !ok {
		c, _ = m.decisions.LoadOrStore(k, m.Decisions.WithLabelValues(policy, outcome))
	}
	c.(prometheus.Counter).Inc()
}

// New registers idgate's metrics with reg (Caddy's registry), reusing collectors already there.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "idgate", Name: "decisions_total",
			Help: "Gate decisions by policy and outcome (a reason code)."}, []string{"policy", "outcome"}),
		Challenges: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "idgate", Name: "challenges_total",
			Help: "Challenges by unmet requirement."}, []string{"requirement"}),
		Provider: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "idgate", Name: "provider_request_duration_seconds",
			Help: "Calls to external providers by provider and outcome (HTTP status class or error).", Buckets: prometheus.DefBuckets}, []string{"provider", "outcome"}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "idgate", Name: "events_total",
			Help: "Security events (login, logout, verification, mfa, mfa_lockout, …) by detail (outcome, method or reason)."}, []string{"event", "detail"}),
	}
	for i, c := range []prometheus.Collector{m.Decisions, m.Challenges, m.Provider, m.Events} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
			switch i {
			case 0:
				m.Decisions = are.ExistingCollector.(*prometheus.CounterVec)
			case 1:
				m.Challenges = are.ExistingCollector.(*prometheus.CounterVec)
			case 2:
				m.Provider = are.ExistingCollector.(*prometheus.HistogramVec)
			case 3:
				m.Events = are.ExistingCollector.(*prometheus.CounterVec)
			}
		}
	}
	return m, nil
}

// Transport wraps base so every call to provider is timed and counted.
func (m *Metrics) Transport(provider string, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripper{m: m, provider: provider, base: base}
}

type roundTripper struct {
	m        *Metrics
	provider string
	base     http.RoundTripper
}

func (rt roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := rt.base.RoundTrip(r)
	outcome := "error"
	if err == nil {
		outcome = strconv.Itoa(resp.StatusCode/100) + "xx"
	}
	rt.m.Provider.WithLabelValues(rt.provider, outcome).Observe(time.Since(start).Seconds())
	return resp, err
}

// Core wraps a zap core so that every entry with an "event" field is also counted.
func (m *Metrics) Core(c zapcore.Core) zapcore.Core { return counting{Core: c, m: m} }

type counting struct {
	zapcore.Core
	m *Metrics
}

func (c counting) With(fields []zapcore.Field) zapcore.Core {
	return counting{Core: c.Core.With(fields), m: c.m}
}

// Enabled is always true: events are counted even at levels that are not logged.
func (c counting) Enabled(zapcore.Level) bool { return true }

func (c counting) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Core.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	// Count events even when their level is not logged.
	return ce.AddCore(e, countOnly{c.m})
}

func (c counting) Write(e zapcore.Entry, fields []zapcore.Field) error {
	count(c.m, fields)
	return c.Core.Write(e, fields)
}

type countOnly struct{ m *Metrics }

func (countOnly) Enabled(zapcore.Level) bool          { return true }
func (c countOnly) With([]zapcore.Field) zapcore.Core { return c }
func (c countOnly) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	return ce.AddCore(e, c)
}
func (c countOnly) Write(_ zapcore.Entry, f []zapcore.Field) error { count(c.m, f); return nil }
func (countOnly) Sync() error                                      { return nil }

func count(m *Metrics, fields []zapcore.Field) {
	event, detail := "", ""
	for _, f := range fields {
		switch f.Key {
		case "event":
			event = f.String
		case "outcome", "reason", "method":
			if detail == "" {
				detail = f.String
			}
		}
	}
	if event != "" {
		m.Events.WithLabelValues(event, detail).Inc()
	}
}
