package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/idgate/idgate/providers/naver/navertest"
	"github.com/idgate/idgate/providers/portone/portonetest"
)

var jsonHdr = map[string]string{"Accept": "application/json"}

// startVerification asks idgate for an identityVerificationId, as the verification page does.
func (b *browser) startVerification(rd string) string {
	b.t.Helper()
	resp, body := b.post("/.idgate/verify/portone/start", map[string]string{"rd": rd})
	m := decodeJSON(b.t, body)
	id, _ := m["identityVerificationId"].(string)
	if resp.StatusCode != 200 || !strings.HasPrefix(id, "idgate-") || m["storeId"] != "store-demo" || m["channelKey"] != "channel-key-demo" {
		b.t.Fatalf("start: %d %s", resp.StatusCode, body)
	}
	return id
}

func (b *browser) complete(id string) (int, map[string]any) {
	b.t.Helper()
	resp, body := b.post("/.idgate/verify/portone/complete", map[string]string{"identityVerificationId": id})
	return resp.StatusCode, decodeJSON(b.t, body)
}

// post sends a same-origin JSON POST and returns the raw body.
func (b *browser) post(path string, body any) (*http.Response, string) {
	b.t.Helper()
	data, _ := json.Marshal(body)
	return b.do("POST", path, map[string]string{"Content-Type": "application/json", "Accept": "application/json", "Origin": sb.URL}, nil, data)
}

func resetPortOne() { sb.PortOne.SetKnobs(portonetest.Knobs{}) }

var freshCount int

// freshNaverUser adds a Naver persona nobody has verified yet (records persist between tests).
func freshNaverUser(t *testing.T) string {
	freshCount++
	key := fmt.Sprintf("fresh%d", freshCount)
	sb.Naver.AddPersona(navertest.Persona{Key: key, ID: fmt.Sprintf("fresh-%d-%d", time.Now().UnixNano(), freshCount), Nickname: key})
	return key
}

func TestAdultBoardWithEachSandboxPersona(t *testing.T) {
	resetPortOne()
	for _, c := range []struct {
		persona string
		status  int    // of the adult board after verifying
		code    string // JSON code when refused
	}{
		{"adult", 200, ""},
		{"adult19", 200, ""},
		{"foreigner", 200, ""},
		{"minor18", 403, "underage"},
	} {
		t.Run(c.persona, func(t *testing.T) {
			b := newBrowser(t)
			b.login("naver", freshNaverUser(t), "/adult/board")
			resp, body := b.do("GET", "/adult/board", jsonHdr, nil, nil)
			m := decodeJSON(t, body)
			if resp.StatusCode != 403 || m["code"] != "adult_required" || m["requirement"] != "adult" || !strings.HasPrefix(m["verify_url"].(string), "/.idgate/verify?") {
				t.Fatalf("before verification: %d %v", resp.StatusCode, m)
			}
			resp, _ = b.nav("/adult/board")
			if loc := location(t, resp); loc != "/.idgate/verify?need=adult&rd=%2Fadult%2Fboard" {
				t.Fatalf("browser challenge: %q", loc)
			}
			_, page := b.nav("/.idgate/verify?need=adult&rd=%2Fadult%2Fboard")
			if !strings.Contains(page, "청소년 보호법") || !strings.Contains(page, "휴대폰 본인인증") || !strings.Contains(page, sb.PortOne.URL()+"/v2/browser-sdk.js") {
				t.Fatalf("verification page: %s", page)
			}
			id := b.startVerification("/adult/board")
			sb.PortOne.Complete(id, c.persona)
			status, m := b.complete(id)
			if status != 200 || m["verified"] != true || m["rd"] != "/adult/board" {
				t.Fatalf("complete: %d %v", status, m)
			}
			resp, body = b.do("GET", "/adult/board?format=json", jsonHdr, nil, nil)
			if resp.StatusCode != c.status {
				t.Fatalf("adult board: %d %s", resp.StatusCode, body)
			}
			if c.code != "" {
				if m := decodeJSON(t, body); m["code"] != c.code {
					t.Fatalf("refusal: %v", m)
				}
				resp, page := b.nav("/adult/board")
				if resp.StatusCode != 403 || !strings.Contains(page, "청소년은 이용할 수 없습니다") {
					t.Fatalf("minor page: %d", resp.StatusCode)
				}
				return
			}
			var rep struct{ Headers map[string]string }
			json.Unmarshal([]byte(body), &rep)
			if rep.Headers["X-User-Adult"] != "true" {
				t.Fatalf("upstream headers: %v", rep.Headers)
			}
			claims := jwt.MapClaims{}
			jwt.NewParser().ParseUnverified(rep.Headers["X-Idgate-Assertion"], claims)
			if claims["adult"] != true || claims["adult_verified_at"] == nil || claims["birthdate"] == nil || claims["policy"] != "adult-board" {
				t.Fatalf("assertion claims: %v", claims)
			}
			if _, has := claims["name"]; has {
				t.Fatal("invariant 10: the verified name reached the upstream without being listed")
			}
		})
	}
}

func TestFailedVerificationCanBeRetried(t *testing.T) {
	resetPortOne()
	b := newBrowser(t)
	b.login("naver", freshNaverUser(t), "/adult/board")
	id := b.startVerification("/adult/board")
	sb.PortOne.Complete(id, "failed")
	status, m := b.complete(id)
	if status != 400 || m["code"] != "verification_failed" || m["retryable"] != true || m["detail"] != "인증번호 불일치" {
		t.Fatalf("failed: %d %v", status, m)
	}
	id = b.startVerification("/adult/board")
	sb.PortOne.Complete(id, "adult")
	if status, m := b.complete(id); status != 200 {
		t.Fatalf("retry: %d %v", status, m)
	}
}

func TestPortOneAnswersBecomeClearErrors(t *testing.T) {
	type c struct {
		name   string
		knobs  portonetest.Knobs
		open   bool // the window was opened (READY) but not finished
		status int
		code   string
	}
	for _, tc := range []c{
		{"not finished (READY)", portonetest.Knobs{}, true, 409, "verification_incomplete"},
		{"PortOne never saw it", portonetest.Knobs{}, false, 404, "verification_not_found"},
		{"PortOne down", portonetest.Knobs{Status: 503}, true, 503, "provider_unavailable"},
		{"PortOne slow", portonetest.Knobs{Delay: 4 * time.Second}, true, 503, "provider_unavailable"},
		{"PortOne refuses the secret", portonetest.Knobs{Status: 401}, true, 500, "misconfigured"},
		{"malformed answer", portonetest.Knobs{Malformed: true}, true, 502, "bad_response"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resetPortOne()
			b := newBrowser(t)
			b.login("naver", freshNaverUser(t), "/adult/board")
			id := b.startVerification("/adult/board")
			if tc.open {
				sb.PortOne.Open(id)
			}
			sb.PortOne.SetKnobs(tc.knobs)
			status, m := b.complete(id)
			if status != tc.status || m["code"] != tc.code {
				t.Fatalf("got %d %v, want %d %s", status, m, tc.status, tc.code)
			}
			// The id stays pending: once PortOne answers VERIFIED, the same id completes.
			resetPortOne()
			sb.PortOne.Complete(id, "adult")
			if status, m := b.complete(id); status != 200 {
				t.Fatalf("after recovery: %d %v", status, m)
			}
			if resp, _ := b.do("GET", "/adult/board", jsonHdr, nil, nil); resp.StatusCode != 200 {
				t.Fatalf("adult board: %d", resp.StatusCode)
			}
		})
	}
}

func TestVerificationIDsAreBoundToTheSessionAndSingleUse(t *testing.T) {
	resetPortOne()
	victim := newBrowser(t)
	victim.login("naver", freshNaverUser(t), "/adult/board")
	attacker := newBrowser(t)
	attacker.login("kakao", "1001", "/adult/board")
	id := victim.startVerification("/adult/board")
	sb.PortOne.Complete(id, "adult")
	// invariant 4: an id issued to another session is refused, even though PortOne says VERIFIED.
	if status, m := attacker.complete(id); status != 403 || m["code"] != "verification_not_yours" {
		t.Fatalf("stolen id: %d %v", status, m)
	}
	if resp, _ := attacker.do("GET", "/adult/board", jsonHdr, nil, nil); resp.StatusCode != 403 {
		t.Fatal("the attacker got in with someone else's verification")
	}
	resp, _ := attacker.nav("/.idgate/verify/portone/return?identityVerificationId=" + id)
	if resp.StatusCode != 403 {
		t.Fatalf("stolen id through the redirect return: %d", resp.StatusCode)
	}
	// An id idgate never issued is refused.
	if status, m := attacker.complete("idgate-made-up"); status != 400 || m["code"] != "verification_unknown" {
		t.Fatalf("unknown id: %d %v", status, m)
	}
	// The rightful session completes it once; a replay is refused.
	if status, _ := victim.complete(id); status != 200 {
		t.Fatalf("victim: %d", status)
	}
	if status, m := victim.complete(id); status != 400 || m["code"] != "verification_unknown" {
		t.Fatalf("invariant 4: replayed id: %d %v", status, m)
	}
	// Cross-origin starts and completes are refused (invariant 6).
	resp, body := victim.do("POST", "/.idgate/verify/portone/start", map[string]string{"Origin": "http://evil.example", "Accept": "application/json"}, nil, []byte(`{}`))
	if resp.StatusCode != 403 || !strings.Contains(body, "cross_origin") {
		t.Fatalf("cross-origin start: %d", resp.StatusCode)
	}
	// Without a login there is nothing to bind to.
	resp, body = newBrowser(t).post("/.idgate/verify/portone/start", map[string]string{})
	if resp.StatusCode != 401 || !strings.Contains(body, "login_required") {
		t.Fatalf("anonymous start: %d %s", resp.StatusCode, body)
	}
}

func TestRedirectModeReturn(t *testing.T) {
	resetPortOne()
	b := newBrowser(t)
	b.login("naver", freshNaverUser(t), "/adult/board")
	id := b.startVerification("/adult/board")
	sb.PortOne.Open(id)
	// The user closed the carrier window: PortOne still says READY and the SDK sends a code.
	resp, page := b.nav("/.idgate/verify/portone/return?identityVerificationId=" + id + "&code=FAILURE_TYPE_PG")
	if resp.StatusCode != 400 || !strings.Contains(page, `data-code="verification_cancelled"`) || !strings.Contains(page, "/.idgate/verify/phone?rd=%2Fadult%2Fboard") {
		t.Fatalf("cancelled: %d %s", resp.StatusCode, page)
	}
	sb.PortOne.Complete(id, "adult19")
	resp, _ = b.nav("/.idgate/verify/portone/return?identityVerificationId=" + id)
	if location(t, resp) != "/adult/board" {
		t.Fatal("redirect return did not go back")
	}
	if resp, _ := b.do("GET", "/adult/board", jsonHdr, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("adult board: %d", resp.StatusCode)
	}
}

func TestLostVerificationIsRecoveredOnTheNextVisit(t *testing.T) {
	resetPortOne()
	b := newBrowser(t)
	b.login("naver", freshNaverUser(t), "/adult/board")
	id := b.startVerification("/adult/board")
	// The person finished in the carrier window, but the popup was closed before it reported.
	sb.PortOne.Complete(id, "adult")
	resp, _ := b.nav("/.idgate/verify?need=adult&rd=%2Fadult%2Fboard")
	if location(t, resp) != "/adult/board" {
		t.Fatal("the finished verification was not recovered")
	}
	if resp, _ := b.do("GET", "/adult/board", jsonHdr, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("adult board: %d", resp.StatusCode)
	}
}

func TestVerificationSurvivesRestartAndNewDevice(t *testing.T) {
	resetPortOne()
	user := freshNaverUser(t)
	phone := newBrowser(t)
	phone.login("naver", user, "/adult/board")
	id := phone.startVerification("/adult/board")
	sb.PortOne.Complete(id, "adult")
	if status, _ := phone.complete(id); status != 200 {
		t.Fatal("verification failed")
	}
	stopCaddy()
	if err := runCaddyfile(sb.Caddyfile); err != nil {
		t.Fatal(err)
	}
	waitReady(t)
	// Same person, another device: logs in, is not asked again.
	laptop := newBrowser(t)
	laptop.login("naver", user, "/adult/board")
	if resp, body := laptop.do("GET", "/adult/board", jsonHdr, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("record not used after restart on a new device: %d %s", resp.StatusCode, body)
	}
	// Another account is still asked.
	other := newBrowser(t)
	other.login("naver", freshNaverUser(t), "/adult/board")
	if resp, _ := other.do("GET", "/adult/board", jsonHdr, nil, nil); resp.StatusCode != 403 {
		t.Fatal("an unverified account got in")
	}
}

func TestBindCIRefusesSomeoneElsesPhone(t *testing.T) {
	resetPortOne()
	withCaddyfile(t, strings.Replace(sb.Caddyfile, "\t\trecords_dir", "\t\tbind_ci\n\t\trecords_dir", 1))
	b := newBrowser(t)
	b.login("naver", freshNaverUser(t), "/adult/board")
	id := b.startVerification("/adult/board")
	sb.PortOne.Complete(id, "adult")
	if status, m := b.complete(id); status != 200 {
		t.Fatalf("first verification: %d %v", status, m)
	}
	id = b.startVerification("/adult/board")
	sb.PortOne.Complete(id, "foreigner")
	if status, m := b.complete(id); status != 403 || m["code"] != "ci_mismatch" {
		t.Fatalf("someone else's phone: %d %v", status, m)
	}
}

func TestVerificationLogsCarryNoPersonalData(t *testing.T) {
	resetPortOne()
	b := newBrowser(t)
	b.login("naver", freshNaverUser(t), "/adult/board")
	id := b.startVerification("/adult/board")
	sb.PortOne.Complete(id, "adult")
	b.complete(id)
	time.Sleep(100 * time.Millisecond)
	data, _ := os.ReadFile(logFile)
	logs := string(data)
	if !strings.Contains(logs, `"event":"verification"`) {
		t.Fatal("no verification event logged")
	}
	for _, pii := range []string{"홍길동", "01012345678", "1990-01-01", strings.Repeat("A", 20), strings.Repeat("D", 20), "demo-portone-secret"} {
		if strings.Contains(logs, pii) {
			t.Errorf("invariant 10: log contains %q", pii)
		}
	}
}

func TestPhoneRequirementForwardsOnlyListedVerifiedClaims(t *testing.T) {
	resetPortOne()
	b := newBrowser(t)
	b.login("naver", freshNaverUser(t), "/market/stall")
	resp, body := b.do("GET", "/market/stall", jsonHdr, nil, nil)
	if m := decodeJSON(t, body); resp.StatusCode != 403 || m["code"] != "phone_required" || fmt.Sprint(m["methods"]) != "[phone]" {
		t.Fatalf("before: %d %v", resp.StatusCode, m)
	}
	id := b.startVerification("/market/stall")
	sb.PortOne.Complete(id, "foreigner")
	if status, m := b.complete(id); status != 200 {
		t.Fatalf("complete: %d %v", status, m)
	}
	resp, body = b.do("GET", "/market/stall?format=json", jsonHdr, nil, nil)
	var rep struct{ Headers map[string]string }
	json.Unmarshal([]byte(body), &rep)
	if resp.StatusCode != 200 || rep.Headers["X-User-Foreigner"] != "true" {
		t.Fatalf("market: %d %s", resp.StatusCode, body)
	}
	claims := jwt.MapClaims{}
	jwt.NewParser().ParseUnverified(rep.Headers["X-Idgate-Assertion"], claims)
	ci, _ := claims["ci_hash"].(string)
	if claims["name"] != "JOHN SMITH" || claims["gender"] != "male" || claims["is_foreigner"] != "true" || claims["phone_verified_at"] == nil || len(ci) < 40 || strings.Contains(ci, "GGGG") {
		t.Fatalf("claims: %v", claims)
	}
	for _, absent := range []string{"birthdate", "di", "phone_number", "adult"} {
		if _, has := claims[absent]; has {
			t.Errorf("invariant 10: %s forwarded without being listed", absent)
		}
	}
}

func TestOnePersonBehindSeveralAccountsIsReported(t *testing.T) {
	resetPortOne()
	for i := 0; i < 2; i++ {
		b := newBrowser(t)
		b.login("naver", freshNaverUser(t), "/adult/board")
		id := b.startVerification("/adult/board")
		sb.PortOne.Complete(id, "adult19")
		if status, _ := b.complete(id); status != 200 {
			t.Fatal("verification failed")
		}
	}
	time.Sleep(100 * time.Millisecond)
	data, _ := os.ReadFile(logFile)
	if !strings.Contains(string(data), `"event":"ci_shared"`) {
		t.Fatal("a CI shared by two accounts was not reported")
	}
}
