// Command demo runs idgate's demo: Caddy with idgate on the embedded defaults in front of a small
// legacy app, with a sandbox Naver and a sandbox Kakao. Open http://localhost:8080.
//
//	go run ./examples/demo
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/idgate/idgate/examples/demo/sandbox"
)

func main() {
	o := sandbox.Options{}
	flag.IntVar(&o.CaddyPort, "port", 8080, "port of the demo site (Caddy)")
	flag.IntVar(&o.NaverPort, "naver-port", 9001, "port of the sandbox Naver")
	flag.IntVar(&o.KakaoPort, "kakao-port", 9002, "port of the sandbox Kakao")
	flag.IntVar(&o.AppPort, "app-port", 9003, "port of the legacy app")
	flag.IntVar(&o.PortOnePort, "portone-port", 9004, "port of the sandbox PortOne (API, SDK stand-in)")
	flag.IntVar(&o.StripePort, "stripe-port", 9005, "port of the sandbox Stripe Identity")
	flag.IntVar(&o.RecaptchaPort, "recaptcha-port", 9006, "port of the sandbox reCAPTCHA Enterprise (PINs at /sandbox/inbox)")
	flag.StringVar(&o.DataDir, "data", filepath.Join("examples", "demo", "data"), "directory for keys and policies")
	flag.StringVar(&o.Bind, "bind", "127.0.0.1", "address the demo site listens on (0.0.0.0 puts the code inbox on your network)")
	flag.Parse()
	o.StripeProcessingAfter = 5 * time.Second
	sb, err := sandbox.Start(o)
	if err != nil {
		log.Fatal(err)
	}
	defer sb.Close()
	fmt.Printf(`
idgate demo is running.

  site (Caddy + idgate)     %[1]s  (listening on %[2]s)
  public home page          %[1]s/
  members (Naver, Kakao)    %[1]s/members/board
  VIP (Naver only)          %[1]s/vip/lounge
  API (401 JSON)            %[1]s/api/whoami
  adult board (본인인증)     %[1]s/adult/board
  market (phone, 30 days)   %[1]s/market/stall
  admin (MFA step-up)       %[1]s/admin/payouts
  code inbox (sandbox)      %[1]s/public/inbox
  your session (JSON)       %[1]s/.idgate/session
  JWKS                      %[1]s/.idgate/jwks.json
  sandbox Naver             %[3]s
  sandbox Kakao             %[4]s
  sandbox PortOne           %[5]s
  sandbox Stripe Identity   %[6]s  ("processing" finishes by itself after 5 s)
  sandbox reCAPTCHA PINs    %[7]s/sandbox/inbox
  legacy app (direct)       %[8]s

Policies: %[9]s (copied only when that directory has none: edit them and restart)
Ctrl-C to stop.
`, sb.URL, o.Bind, sb.Naver.URL(), sb.Kakao.URL(), sb.PortOne.URL(), sb.Stripe.URL(), sb.Recaptcha.URL(), sb.AppURL, filepath.Join(sb.DataDir, "policies"))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}
