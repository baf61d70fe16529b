// Command bench measures what idgate costs on a valid session: in one run on one machine it puts
// the same upstream behind bare Caddy (reverse_proxy) and behind Caddy with idgate on a route that
// requires login, drives both with the same load generator and prints throughput, latency
// percentiles and their ratio.
//
// Two measurements, each in -rounds paired rounds (bare and idgate back to back, in ABBA order so
// that drift on a shared machine falls on both alike; medians reported): throughput at saturation
// (-connections connections) with the Caddy process's CPU time per request, and the latency of one
// request at a time on one connection, where nothing queues. The throughput ratio is the median of
// the rounds' ratios. -aa measures bare against bare instead: the machine's noise floor.
//
//	go run ./examples/bench                      # wrk when installed, else the built-in generator
//	go run ./examples/bench -duration 20s -connections 32 -generator builtin
//	go run ./examples/bench -aa                  # how far apart two identical targets measure here
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/idgate/idgate/examples/demo/sandbox"
	"github.com/idgate/idgate/providers/naver/navertest"
)

func main() { bench(os.Args[1:], os.Stdout) }

// bench runs the benchmark with command-line args, writing the report to out.
func bench(args []string, out io.Writer) {
	flags := flag.NewFlagSet("bench", flag.ExitOnError)
	duration := flags.Duration("duration", 10*time.Second, "load duration per target and round")
	rounds := flags.Int("rounds", 5, "paired rounds of bare and idgate (ABBA order); medians are reported")
	aa := flags.Bool("aa", false, "measure bare against bare (A/A) to see the noise floor of this machine")
	latDuration := flags.Duration("latency-duration", 5*time.Second, "duration of each one-connection latency run")
	conns := flags.Int("connections", 16, "concurrent connections")
	gen := flags.String("generator", "auto", "wrk, builtin or auto")
	cpuprofile := flags.String("cpuprofile", "", "write a CPU profile of the idgate run to this file")
	wrkCPU := flags.String("wrk-cpus", "", "run wrk pinned to these CPUs with taskset (e.g. 1), keeping the load generator off Caddy's cores; start the bench itself under taskset for the rest")
	flags.Parse(args)

	upstream := listen()
	var seen upstreamSaw
	go http.Serve(upstream, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.record(r)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok\n")
	}))
	naverL := listen()
	naver := navertest.New("http://"+naverL.Addr().String(), "bench-client", "bench-secret")
	naver.SetKnobs(navertest.Knobs{AutoApprove: "kim"})
	go http.Serve(naverL, naver)

	dir, _ := os.MkdirTemp("", "idgate-bench-")
	defer os.RemoveAll(dir)
	os.MkdirAll(filepath.Join(dir, "policies"), 0o755)
	os.WriteFile(filepath.Join(dir, "policies", "members.yaml"), []byte("paths: [\"*\"]\nrequire: {login: [naver]}\nforward: {headers: {X-User-Id: sub}}\n"), 0o644)
	barePort, gatedPort := port(), port()
	cf := fmt.Sprintf(`{
	admin off
	auto_https off
	persist_config off
	storage file_system %s
	log {
		level ERROR
	}
	idgate {
		policies %s
		naver {
			client_id bench-client
			client_secret bench-secret
			authorize_url %s/oauth2.0/authorize
			token_url %s/oauth2.0/token
			profile_url %s/v1/nid/me
		}
	}
}
http://:%d {
	reverse_proxy %s
}
http://:%d {
	idgate
	reverse_proxy %s
}
`, filepath.Join(dir, "caddy"), filepath.Join(dir, "policies"), naver.URL(), naver.URL(), naver.URL(), barePort, upstream.Addr(), gatedPort, upstream.Addr())
	if err := sandbox.RunCaddyfile(cf); err != nil {
		log.Fatal(err)
	}
	bare := fmt.Sprintf("http://127.0.0.1:%d/members/page", barePort)
	gated := fmt.Sprintf("http://127.0.0.1:%d/members/page", gatedPort)
	cookie := login(fmt.Sprintf("http://127.0.0.1:%d", gatedPort))
	check(bare, gated, cookie, &seen)

	useWrk := *gen == "wrk" || (*gen == "auto" && haveWrk())
	run := func(u, cookie string) result {
		if useWrk {
			return wrk(u, cookie, *duration, *conns, *wrkCPU)
		}
		return builtin(u, cookie, *duration, *conns)
	}
	fmt.Fprintf(out, "generator: %s, %d connections, %s per target, %d CPUs, GOMAXPROCS %d, wrk CPUs %q\n\n",
		map[bool]string{true: "wrk", false: "built-in"}[useWrk], *conns, *duration, numCPU(), runtime.GOMAXPROCS(0), *wrkCPU)
	gName := "Caddy + idgate (login)"
	if *aa {
		gated, gName = bare, "bare again (A/A)"
	}
	run(bare, cookie)  // warm-up
	run(gated, cookie) // warm-up
	// Each round measures both targets back to back, bare first in odd rounds and idgate first in
	// even ones (ABBA), so that drift on a shared machine (other tenants, heap growth, CPU
	// frequency) falls on both alike and the order favours neither; each figure is the median
	// over the rounds, and the throughput ratio the median of the rounds' ratios.
	var bs, gs []result
	for i := 0; i < *rounds; i++ {
		profile := *cpuprofile != "" && i == 0
		b := func() {
			bs = append(bs, measure(func() result { return run(bare, cookie) }, useWrk, profile, *cpuprofile+".bare"))
		}
		g := func() {
			gs = append(gs, measure(func() result { return run(gated, cookie) }, useWrk, profile, *cpuprofile))
		}
		if i%2 == 0 {
			b()
			g()
		} else {
			g()
			b()
		}
	}
	b, g := median(bs), median(gs)
	ratios := make([]float64, len(bs))
	for i := range bs {
		ratios[i] = gs[i].rps / bs[i].rps
	}
	if useWrk {
		fmt.Fprintf(out, "%-28s %12s %10s %10s %10s %14s %11s\n", "target", "req/s", "p50", "p90", "p99", "CPU/request", "alloc/request")
	} else { // the built-in generator runs in this process: its CPU and allocations would count
		fmt.Fprintf(out, "%-28s %12s %10s %10s %10s\n", "target", "req/s", "p50", "p90", "p99")
	}
	for i := range bs {
		bs[i].print(out, fmt.Sprintf("bare, round %d", i+1))
		gs[i].print(out, fmt.Sprintf("%s, round %d", map[bool]string{false: "idgate", true: "A/A"}[*aa], i+1))
	}
	b.print(out, "bare Caddy reverse_proxy")
	g.print(out, gName)
	fmt.Fprintf(out, "\nthroughput ratio %s/bare: %.1f%% (median of the rounds:", map[bool]string{false: "idgate", true: "bare"}[*aa], 100*medianOf(ratios))
	for _, r := range ratios {
		fmt.Fprintf(out, " %.1f%%", 100*r)
	}
	fmt.Fprintf(out, ")\nadded latency at saturation: p50 %+v, p99 %+v\n", added(bs, gs, p50).Round(time.Microsecond), added(bs, gs, p99).Round(time.Microsecond))
	if useWrk {
		fmt.Fprintf(out, "added per request in the Caddy process (idgate, upstream included): CPU %+v, allocations %+.0f B\n",
			added(bs, gs, func(r result) time.Duration { return r.cpu }).Round(100*time.Nanosecond), g.alloc-b.alloc)
	}

	// At saturation latency is queueing: with a fixed number of connections it is the inverse of
	// throughput. What idgate adds to one request is measured on one connection, one request at a
	// time, where nothing queues.
	one := func(u string) result {
		if useWrk {
			return wrk(u, cookie, *latDuration, 1, *wrkCPU)
		}
		return builtin(u, cookie, *latDuration, 1)
	}
	var bl, gl []result
	for i := 0; i < *rounds; i++ {
		if i%2 == 0 {
			bl = append(bl, one(bare))
			gl = append(gl, one(gated))
		} else {
			gl = append(gl, one(gated))
			bl = append(bl, one(bare))
		}
	}
	lb, lg := median(bl), median(gl)
	fmt.Fprintf(out, "\none connection, one request at a time, %s per target and round:\n", *latDuration)
	fmt.Fprintf(out, "%-28s %12s %10s %10s %10s\n", "target", "req/s", "p50", "p90", "p99")
	lb.print(out, "bare Caddy reverse_proxy")
	lg.print(out, gName)
	fmt.Fprintf(out, "added latency per request: p50 %+v, p90 %+v, p99 %+v (rounds p99:", added(bl, gl, p50).Round(time.Microsecond), added(bl, gl, p90).Round(time.Microsecond), added(bl, gl, p99).Round(time.Microsecond))
	for i := range bl {
		fmt.Fprintf(out, " %+v", (gl[i].p99 - bl[i].p99).Round(time.Microsecond))
	}
	fmt.Fprintln(out, ")")
}

// measure runs f, recording (when external, i.e. the load generator is another process) the CPU
// time and the bytes this process (Caddy and the upstream) spent per request, and writing a CPU
// profile to file when profile is set.
func measure(f func() result, external, profile bool, file string) result {
	if profile {
		out, err := os.Create(file)
		if err != nil {
			log.Fatal(err)
		}
		defer out.Close()
		pprof.StartCPUProfile(out)
		defer pprof.StopCPUProfile()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before, allocs := cpuTime(), ms.TotalAlloc
	r := f()
	runtime.ReadMemStats(&ms)
	if n := r.rps * r.dur.Seconds(); n > 0 && external {
		r.cpu = time.Duration(float64(cpuTime()-before) / n)
		r.alloc = float64(ms.TotalAlloc-allocs) / n
	}
	return r
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func p50(r result) time.Duration { return r.p50 }
func p90(r result) time.Duration { return r.p90 }
func p99(r result) time.Duration { return r.p99 }

// added is the median over the rounds of what the second target adds to the first in each round
// (rounds pair the targets back to back, so the difference within a round is the least noisy).
func added(bs, gs []result, get func(result) time.Duration) time.Duration {
	d := make([]float64, len(bs))
	for i := range bs {
		d[i] = float64(get(gs[i]) - get(bs[i]))
	}
	return time.Duration(medianOf(d))
}

func medianOf(v []float64) float64 {
	v = append([]float64(nil), v...)
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// median takes each figure's median over the rounds.
func median(rs []result) result {
	pick := func(get func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = get(r)
		}
		return medianOf(v)
	}
	var m result
	m.rps = pick(func(r result) float64 { return r.rps })
	m.p50 = time.Duration(pick(func(r result) float64 { return float64(r.p50) }))
	m.p90 = time.Duration(pick(func(r result) float64 { return float64(r.p90) }))
	m.p99 = time.Duration(pick(func(r result) float64 { return float64(r.p99) }))
	m.cpu = time.Duration(pick(func(r result) float64 { return float64(r.cpu) }))
	m.alloc = pick(func(r result) float64 { return r.alloc })
	for _, r := range rs {
		m.errors += r.errors
	}
	return m
}

type result struct {
	rps           float64
	p50, p90, p99 time.Duration
	errors        int64
	dur           time.Duration // how long the load ran
	cpu           time.Duration // this process's CPU time per request
	alloc         float64       // bytes this process allocated per request
}

func (r result) print(out io.Writer, name string) {
	fmt.Fprintf(out, "%-28s %12.0f %10v %10v %10v", name, r.rps, r.p50.Round(time.Microsecond), r.p90.Round(time.Microsecond), r.p99.Round(time.Microsecond))
	if r.cpu > 0 {
		fmt.Fprintf(out, " %14v %9.0f B", r.cpu.Round(100*time.Nanosecond), r.alloc)
	}
	if r.errors > 0 {
		fmt.Fprintf(out, "  (%d errors)", r.errors)
	}
	fmt.Fprintln(out)
}

func listen() net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	return l
}

func port() int {
	p, err := sandbox.FreePort()
	if err != nil {
		log.Fatal(err)
	}
	return p
}

func numCPU() int {
	n := 0
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "processor") {
			n++
		}
	}
	return n
}

// login goes through the Naver login and returns the session cookie header value.
func login(base string) string {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	req, _ := http.NewRequest("GET", base+"/.idgate/login?provider=naver&rd=/members/page", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := c.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	u, _ := url.Parse(base)
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "idgate_session" {
			return ck.Name + "=" + ck.Value
		}
	}
	log.Fatal("login did not produce a session")
	return ""
}

// upstreamSaw records, while the setup is checked, what the upstream received.
type upstreamSaw struct {
	on        atomic.Bool
	assertion atomic.Pointer[string]
	cookie    atomic.Pointer[string]
}

func (s *upstreamSaw) record(r *http.Request) {
	if s.on.Load() { // off during the measurement: one atomic load per request on both targets
		a, c := r.Header.Get("X-Idgate-Assertion"), r.Header.Get("Cookie")
		s.assertion.Store(&a)
		s.cookie.Store(&c)
	}
}

// check makes sure the bench measures what it says: the gated target sends a request without
// the session to the login and forwards one with it, with an assertion and without idgate's cookie; the bare
// target forwards the same request untouched.
func check(bare, gated, cookie string, seen *upstreamSaw) {
	seen.on.Store(true)
	defer seen.on.Store(false)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var location string
	get := func(u, cookie string) int {
		req, _ := http.NewRequest("GET", u, nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		location = resp.Header.Get("Location")
		return resp.StatusCode
	}
	if code := get(gated, ""); code != http.StatusFound || !strings.HasPrefix(location, "/.idgate/login?") {
		log.Fatalf("the gated target answered %d (Location %q) without a session, want a redirect to the login", code, location)
	}
	if code := get(gated, cookie); code != 200 || *seen.assertion.Load() == "" || *seen.cookie.Load() != "" {
		log.Fatalf("the gated target answered %d with a session; the upstream saw assertion %t, cookie %t",
			code, *seen.assertion.Load() != "", *seen.cookie.Load() != "")
	}
	if code := get(bare, cookie); code != 200 || *seen.assertion.Load() != "" || *seen.cookie.Load() != cookie {
		log.Fatalf("the bare target answered %d", code)
	}
}

func haveWrk() bool { _, err := exec.LookPath("wrk"); return err == nil }

var wrkLine = regexp.MustCompile(`(?m)^\s+(50|90|99)%\s+([\d.]+)(us|ms|s)`)

func wrk(u, cookie string, d time.Duration, conns int, cpus string) result {
	threads := "2"
	if conns == 1 {
		threads = "1"
	}
	args := []string{"-t", threads, "-c", strconv.Itoa(conns), "-d", d.String(), "--latency"}
	if cookie != "" {
		args = append(args, "-H", "Cookie: "+cookie)
	}
	args = append(args, u)
	name := "wrk"
	if cpus != "" {
		name, args = "taskset", append([]string{"-c", cpus, "wrk"}, args...)
	}
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		log.Fatalf("wrk: %v\n%s", err, out)
	}
	r := result{dur: d}
	for _, m := range wrkLine.FindAllStringSubmatch(string(out), -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[m[3]]
		dur := time.Duration(v * float64(unit))
		switch m[1] {
		case "50":
			r.p50 = dur
		case "90":
			r.p90 = dur
		case "99":
			r.p99 = dur
		}
	}
	if m := regexp.MustCompile(`Requests/sec:\s+([\d.]+)`).FindStringSubmatch(string(out)); m != nil {
		r.rps, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`).FindStringSubmatch(string(out)); m != nil {
		r.errors, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return r
}

func builtin(u, cookie string, d time.Duration, conns int) result {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	client := &http.Client{Transport: tr}
	deadline := time.Now().Add(d)
	var mu sync.Mutex
	var lat []time.Duration
	var errs atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest("GET", u, nil)
				if cookie != "" {
					req.Header.Set("Cookie", cookie)
				}
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs.Add(1)
				}
				local = append(local, time.Since(start))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[int(p*float64(len(lat)-1))]
	}
	return result{dur: d, rps: float64(len(lat)) / d.Seconds(), p50: pct(0.5), p90: pct(0.9), p99: pct(0.99), errors: errs.Load()}
}
