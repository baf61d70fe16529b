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
	flag.Parse()
	sb, err := sandbox.Start(o)
	if err != nil {
		log.Fatal(err)
	}
	defer sb.Close()
	fmt.Printf(`
idgate demo is running.

  site (Caddy + idgate)   %s
  members (Naver, Kakao)  %s/members/board
  VIP (Naver only)        %s/vip/lounge
  adult board (본인인증)   %s/adult/board
  admin (MFA step-up)     %s/admin/payouts
  code inbox (sandbox)    %s/public/inbox
  sandbox Naver           %s
  sandbox PortOne         %s
  sandbox Stripe          %s
  sandbox reCAPTCHA PINs  %s/sandbox/inbox
  legacy app (direct)     %s

Policies: %s
Ctrl-C to stop.
`, sb.URL, sb.URL, sb.URL, sb.URL, sb.URL, sb.URL, sb.Naver.URL(), sb.PortOne.URL(), sb.Stripe.URL(), sb.Recaptcha.URL(), sb.AppURL, filepath.Join(sb.DataDir, "policies"))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}
