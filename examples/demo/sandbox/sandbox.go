// Package sandbox runs the idgate demo in one process: Caddy with idgate on the embedded
// defaults, a sandbox Naver (navertest, with a consent page to pick a persona), a sandbox Kakao
// (oidctest) and a small legacy app that shows the headers it received and whether the assertion
// verified. The demo command and the end-to-end tests both start it.
package sandbox

import (
	"embed"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/idgate/idgate/caddymodule"
	"github.com/idgate/idgate/providers/naver/navertest"
	"github.com/idgate/idgate/providers/oidc/oidctest"
	"github.com/idgate/idgate/providers/portone/portonetest"
	"github.com/idgate/idgate/providers/recaptcha/recaptchatest"
	"github.com/idgate/idgate/providers/stripeid/stripeidtest"
)

//go:embed policies/*.yaml
var policiesFS embed.FS

// Options select ports and directories. Zero ports pick free ones.
type Options struct {
	CaddyPort, NaverPort, KakaoPort, AppPort, PortOnePort, StripePort, RecaptchaPort int
	// DataDir holds Caddy's storage (keys) and the policy files. Default: a temporary directory.
	DataDir string
	// LogFile, when set, receives Caddy's logs (JSON).
	LogFile string
	// ProviderTimeout bounds each provider call (Caddy duration). Default: idgate's 10s.
	ProviderTimeout string
	// MFALockout overrides the step-up lockout (Caddy duration).
	MFALockout string
	// LoginRate overrides login_rate (tests log in thousands of times from one address).
	LoginRate string
	// Bind is the address the demo site listens on. Default: 127.0.0.1 (the code inbox at
	// /public/inbox shows every one-time code: never put it on a network by accident).
	Bind string
	// StripeProcessingAfter makes the sandbox Stripe finish a "processing" session by itself
	// after this long, as Stripe does. Zero leaves it processing (tests finish it themselves).
	StripeProcessingAfter time.Duration
}

// Sandbox is a running demo.
type Sandbox struct {
	URL string // the site behind Caddy, e.g. http://localhost:8080
	// EmailOutbox and SMSOutbox receive the demo's one-time codes (JSON lines).
	EmailOutbox, SMSOutbox string
	Naver                  *navertest.Server
	Kakao                  *oidctest.Server
	PortOne                *portonetest.Server
	Stripe                 *stripeidtest.Server
	Recaptcha              *recaptchatest.Server
	AppURL                 string
	DataDir                string
	Caddyfile              string
	servers                []*http.Server
}

func listen(port int) (net.Listener, int, error) {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, 0, err
	}
	return l, l.Addr().(*net.TCPAddr).Port, nil
}

// FreePort returns a free loopback port.
func FreePort() (int, error) {
	l, p, err := listen(0)
	if err != nil {
		return 0, err
	}
	l.Close()
	return p, nil
}

// Start starts the fakes, the legacy app and Caddy.
func Start(o Options) (*Sandbox, error) {
	sb := &Sandbox{}
	if o.DataDir == "" {
		d, err := os.MkdirTemp("", "idgate-demo-")
		if err != nil {
			return nil, err
		}
		o.DataDir = d
	}
	sb.DataDir = o.DataDir
	polDir := filepath.Join(o.DataDir, "policies")
	if err := writePolicies(polDir); err != nil {
		return nil, err
	}
	serve := func(port int, h http.Handler) (int, error) {
		l, p, err := listen(port)
		if err != nil {
			return 0, fmt.Errorf("sandbox: port %d: %w", port, err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		sb.servers = append(sb.servers, srv)
		go srv.Serve(l)
		return p, nil
	}
	var err error
	if o.CaddyPort == 0 {
		if o.CaddyPort, err = FreePort(); err != nil {
			return nil, err
		}
	}
	sb.URL = fmt.Sprintf("http://localhost:%d", o.CaddyPort)
	bind := o.Bind
	if bind == "" {
		bind = "127.0.0.1"
	}

	naverL, naverPort, err := listen(o.NaverPort)
	if err != nil {
		return nil, fmt.Errorf("sandbox: naver port: %w", err)
	}
	naverBase := fmt.Sprintf("http://127.0.0.1:%d", naverPort)
	sb.Naver = navertest.New(naverBase, "demo-naver-client", "demo-naver-secret")
	nsrv := &http.Server{Handler: sb.Naver, ReadHeaderTimeout: 10 * time.Second}
	sb.servers = append(sb.servers, nsrv)
	go nsrv.Serve(naverL)

	kakaoL, kakaoPort, err := listen(o.KakaoPort)
	if err != nil {
		return nil, fmt.Errorf("sandbox: kakao port: %w", err)
	}
	kakaoBase := fmt.Sprintf("http://127.0.0.1:%d", kakaoPort)
	sb.Kakao = oidctest.New(kakaoBase, "demo-kakao-client", "demo-kakao-secret")
	ksrv := &http.Server{Handler: sb.Kakao, ReadHeaderTimeout: 10 * time.Second}
	sb.servers = append(sb.servers, ksrv)
	go ksrv.Serve(kakaoL)

	poL, poPort, err := listen(o.PortOnePort)
	if err != nil {
		return nil, fmt.Errorf("sandbox: portone port: %w", err)
	}
	poBase := fmt.Sprintf("http://127.0.0.1:%d", poPort)
	sb.PortOne = portonetest.New(poBase, "store-demo", "channel-key-demo", "demo-portone-secret")
	psrv := &http.Server{Handler: sb.PortOne, ReadHeaderTimeout: 10 * time.Second}
	sb.servers = append(sb.servers, psrv)
	go psrv.Serve(poL)

	stL, stPort, err := listen(o.StripePort)
	if err != nil {
		return nil, fmt.Errorf("sandbox: stripe port: %w", err)
	}
	stBase := fmt.Sprintf("http://127.0.0.1:%d", stPort)
	sb.Stripe = stripeidtest.New(stBase, "sk_test_demo", "whsec_demo")
	sb.Stripe.SetWebhookURL(fmt.Sprintf("http://127.0.0.1:%d/.idgate/webhooks/stripe", o.CaddyPort))
	sb.Stripe.SetProcessingAfter(o.StripeProcessingAfter)
	ssrv := &http.Server{Handler: sb.Stripe, ReadHeaderTimeout: 10 * time.Second}
	sb.servers = append(sb.servers, ssrv)
	go ssrv.Serve(stL)

	rcL, rcPort, err := listen(o.RecaptchaPort)
	if err != nil {
		return nil, fmt.Errorf("sandbox: recaptcha port: %w", err)
	}
	rcBase := fmt.Sprintf("http://127.0.0.1:%d", rcPort)
	sb.Recaptcha = recaptchatest.New(rcBase, "demo-project", "demo-recaptcha-api-key", "demo-site-key")
	rsrv := &http.Server{Handler: sb.Recaptcha, ReadHeaderTimeout: 10 * time.Second}
	sb.servers = append(sb.servers, rsrv)
	go rsrv.Serve(rcL)

	sb.EmailOutbox = filepath.Join(o.DataDir, "outbox-email.jsonl")
	sb.SMSOutbox = filepath.Join(o.DataDir, "outbox-sms.jsonl")
	appPort, err := serve(o.AppPort, NewLegacyApp(sb.URL, sb.EmailOutbox, sb.SMSOutbox))
	if err != nil {
		return nil, err
	}
	sb.AppURL = fmt.Sprintf("http://127.0.0.1:%d", appPort)

	extra := ""
	if o.ProviderTimeout != "" {
		extra = "\t\tprovider_timeout " + o.ProviderTimeout + "\n"
	}
	if o.LoginRate != "" {
		extra += "\t\tlogin_rate " + o.LoginRate + "\n"
		if o.LoginRate == "off" {
			extra += "\t\tlogin_limit off\n"
		}
	}
	lockout := ""
	if o.MFALockout != "" {
		lockout = "\t\t\tlockout " + o.MFALockout + "\n"
	}
	extra += fmt.Sprintf(`		mfa {
			issuer "idgate demo"
			email outbox %s
			sms outbox %s
			recaptcha {
				project_id demo-project
				api_key demo-recaptcha-api-key
				site_key demo-site-key
				api_base %s
				script_url %s/recaptcha/enterprise.js
			}
			insecure_demo_senders
%s		}
`, sb.EmailOutbox, sb.SMSOutbox, rcBase, rcBase, lockout)
	logBlock := ""
	if o.LogFile != "" {
		// Caddy's reverse_proxy logs upstream request headers at DEBUG; the filter keeps the
		// identity headers idgate forwards out of the log (see README, "Logs").
		logBlock = fmt.Sprintf(`	log {
		output file %s
		format filter {
			wrap json
			fields {
				request>headers>X-Idgate-Assertion delete
				request>headers>X-User-Id delete
				request>headers>X-User-Name delete
				request>headers>X-User-Email delete
				request>headers>X-Remote-User delete
				request>headers>X-User-Adult delete
			}
		}
		level DEBUG
	}
`, o.LogFile)
	}
	sb.Caddyfile = fmt.Sprintf(`{
	admin off
	auto_https off
	persist_config off
	storage file_system %s
	servers {
		# A reload hands connections reaching the old server to the new one (README, "Reloads").
		listener_wrappers {
			idgate_handover
			tls
		}
	}
%s	idgate {
		policies %s
		naver {
			client_id demo-naver-client
			client_secret demo-naver-secret
			authorize_url %s/oauth2.0/authorize
			token_url %s/oauth2.0/token
			profile_url %s/v1/nid/me
		}
		oidc kakao {
			issuer %s
			client_id demo-kakao-client
			client_secret demo-kakao-secret
		}
		portone {
			store_id store-demo
			channel_key channel-key-demo
			api_secret demo-portone-secret
			api_base %s
			sdk_url %s/v2/browser-sdk.js
		}
		stripe_identity {
			secret_key sk_test_demo
			webhook_secret whsec_demo
			api_base %s
		}
		records_dir %s
%s	}
}

http://:%d {
	bind %s
	idgate
	reverse_proxy 127.0.0.1:%d {
		# Placeholders set by idgate, for apps that read a plain header.
		header_up X-Remote-User {http.auth.user.id}
		header_up X-Remote-Policy {idgate.policy}
	}
}
`, filepath.Join(o.DataDir, "caddy"), logBlock, polDir, naverBase, naverBase, naverBase, kakaoBase, poBase, poBase, stBase,
		filepath.Join(o.DataDir, "records"), extra, o.CaddyPort, bind, appPort)
	if err := RunCaddyfile(sb.Caddyfile); err != nil {
		sb.Close()
		return nil, err
	}
	return sb, nil
}

// RunCaddyfile adapts a Caddyfile and (re)loads it into this process's Caddy.
func RunCaddyfile(cf string) error {
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		return fmt.Errorf("sandbox: adapting Caddyfile: %w", err)
	}
	if err := caddy.Load(cfg, true); err != nil {
		return fmt.Errorf("sandbox: loading Caddy config: %w", err)
	}
	return nil
}

// writePolicies copies the demo's policies into dir, unless dir has policy files already: an
// operator's edits survive a restart.
func writePolicies(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if have, _ := filepath.Glob(filepath.Join(dir, "*.yaml")); len(have) > 0 {
		return nil
	}
	return fs.WalkDir(policiesFS, "policies", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := policiesFS.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, filepath.Base(p)), data, 0o644)
	})
}

// Close stops Caddy and the sandbox servers.
func (sb *Sandbox) Close() {
	caddy.Stop()
	for _, s := range sb.servers {
		s.Close()
	}
}
