package main

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestBenchReports runs the benchmark briefly with the built-in load generator: it must check its
// setup (the gated target sends a request without a session to the login and forwards an
// assertion with one; bench exits otherwise), measure both targets without errors and print the
// ratio and the one-connection latencies. The numbers of so short a run mean nothing; their
// presence does.
func TestBenchReports(t *testing.T) {
	report := runBench(t, "builtin")
	if strings.Contains(report, "CPU/request") {
		t.Error("the built-in generator runs in the measured process; its CPU must not be reported as Caddy's")
	}
}

// TestBenchReportsWithWrk is the same with wrk, the generator the README's figures come from: its
// output must be parsed (percentiles, requests per second) and the process's CPU and allocations
// per request reported.
func TestBenchReportsWithWrk(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("wrk is required under CI=true (apt-get install wrk)")
		}
		t.Skip("wrk not installed; apt-get install wrk (mandatory under CI=true)")
	}
	report := runBench(t, "wrk")
	m := regexp.MustCompile(`added per request in the Caddy process \(idgate, upstream included\): CPU [-+]?[\d.]+[µnm]?s, allocations [-+]\d+ B`).FindString(report)
	if m == "" {
		t.Error("no CPU and allocations per request in the report")
	}
	rows := regexp.MustCompile(`(?m)^(bare|idgate), round \d\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+) B$`).FindAllStringSubmatch(report, -1)
	if len(rows) != 4 {
		t.Fatalf("expected 4 round rows with CPU and allocations, got %d", len(rows))
	}
	for _, row := range rows {
		if row[2] == "0" || row[3] == "0s" || row[5] == "0s" || row[7] == "0" {
			t.Errorf("wrk output not parsed: %q", row[0])
		}
	}
}

func runBench(t *testing.T, generator string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs two Caddy servers under load for a few seconds")
	}
	var out bytes.Buffer
	bench([]string{"-generator", generator, "-rounds", "2", "-duration", "1s", "-latency-duration", "1s", "-connections", "4"}, &out)
	report := out.String()
	t.Log(report)
	if strings.Contains(report, "errors)") {
		t.Fatal("requests failed during the run")
	}
	m := regexp.MustCompile(`throughput ratio idgate/bare: ([\d.]+)% \(median of the rounds: ([\d.]+)% ([\d.]+)%\)`).FindStringSubmatch(report)
	if m == nil {
		t.Fatal("no throughput ratio over two rounds in the report")
	}
	if r, _ := strconv.ParseFloat(m[1], 64); r < 10 || r > 1000 {
		t.Fatalf("implausible ratio %v%%", r)
	}
	for _, row := range []string{"bare, round 2", "idgate, round 2", "bare Caddy reverse_proxy", "Caddy + idgate (login)", "added latency per request: p50"} {
		if !strings.Contains(report, row) {
			t.Errorf("report lacks %q", row)
		}
	}
	// Both targets served requests in the one-connection phase too.
	one := report[strings.Index(report, "one connection"):]
	rows := regexp.MustCompile(`(?m)^(bare Caddy reverse_proxy|Caddy \+ idgate \(login\))\s+(\d+)`).FindAllStringSubmatch(one, -1)
	if len(rows) != 2 {
		t.Fatalf("one-connection rows: %q", rows)
	}
	for _, l := range rows {
		if n, _ := strconv.Atoi(l[2]); n == 0 {
			t.Errorf("%s served nothing on one connection", l[1])
		}
	}
	return report
}
