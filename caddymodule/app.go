// Package caddymodule is the Caddy glue of idgate: the `idgate` app (providers, keys, stores,
// policies, shared by every route) and the `http.handlers.idgate` handler (portal + gate), with
// their Caddyfile syntax. It is the only package that imports Caddy; the logic lives in plain
// packages it wires together.
package caddymodule

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	"github.com/idgate/idgate/internal/assertion"
	"github.com/idgate/idgate/internal/audit"
	"github.com/idgate/idgate/internal/gate"
	"github.com/idgate/idgate/internal/hotmap"
	"github.com/idgate/idgate/internal/keys"
	"github.com/idgate/idgate/internal/portal"
	"github.com/idgate/idgate/internal/session"
	"github.com/idgate/idgate/internal/store"
	"github.com/idgate/idgate/internal/store/file"
	"github.com/idgate/idgate/internal/store/memory"
	redisstore "github.com/idgate/idgate/internal/store/redis"
	"github.com/idgate/idgate/policy"
	"github.com/idgate/idgate/providers/naver"
	"github.com/idgate/idgate/providers/oidc"
	"github.com/idgate/idgate/providers/otp"
	"github.com/idgate/idgate/providers/portone"
	"github.com/idgate/idgate/providers/recaptcha"
	"github.com/idgate/idgate/providers/stripeid"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(App{})
}

// App is the `idgate` app: login providers, keys, stores and the policy set, provisioned once
// and shared by every idgate handler.
type App struct {
	// Policies is the directory whose *.yaml files are the policies.
	Policies string `json:"policies,omitempty"`
	// Naver configures Naver login.
	Naver *NaverConfig `json:"naver,omitempty"`
	// OIDC configures OpenID Connect providers (Kakao, Google, Keycloak…).
	OIDC []*OIDCConfig `json:"oidc,omitempty"`
	// Session configures the session cookie.
	Session *SessionConfig `json:"session,omitempty"`
	// Assertion configures the X-Idgate-Assertion JWT.
	Assertion *AssertionConfig `json:"assertion,omitempty"`
	// KeyRotation is how often generated session and signing keys rotate. Default: 30 days; a
	// retired key keeps working until everything it protected has expired.
	KeyRotation caddy.Duration `json:"key_rotation,omitempty"`
	// KeyRefresh is how often the key set is re-read from storage and rotated when due, so a
	// rotation by any instance (on schedule, or POST /idgate/rotate-keys on the admin API)
	// reaches every instance without a reload. Default: 1m.
	KeyRefresh caddy.Duration `json:"key_refresh,omitempty"`
	// LoginRate bounds logins started per client address per 10 minutes. Default: 300; -1 turns
	// the bound off.
	LoginRate int `json:"login_rate,omitempty"`
	// LoginLimit bounds logins started per 10 minutes from all addresses together (each keeps
	// state until it completes or expires). Default: 10000; -1 turns the bound off.
	LoginLimit int `json:"login_limit,omitempty"`
	// ProviderTimeout bounds every call to a provider. Default: 10s.
	ProviderTimeout caddy.Duration `json:"provider_timeout,omitempty"`
	// PortOne configures phone identity verification (본인인증) through PortOne V2.
	PortOne *PortOneConfig `json:"portone,omitempty"`
	// StripeIdentity configures ID-document verification through Stripe Identity.
	StripeIdentity *StripeConfig `json:"stripe_identity,omitempty"`
	// MFA configures step-up (TOTP, e-mail and SMS codes).
	MFA *MFAConfig `json:"mfa,omitempty"`
	// Store selects where server-side state lives: the embedded defaults (memory for ephemeral
	// state, files for records) or Redis, shared by several instances.
	Store *StoreConfig `json:"store,omitempty"`
	// RecordsDir holds the durable verification records. Default: idgate/records under Caddy's
	// data directory.
	RecordsDir string `json:"records_dir,omitempty"`
	// StrictPolicies makes every policy lint warning (a narrower pattern with weaker
	// requirements, an exact path that leaves what lies below it to a weaker policy) a
	// configuration error. Errors (patterns that can never win, unreachable policies) always are.
	StrictPolicies bool `json:"strict_policies,omitempty"`
	// NonCanonicalPaths says what happens to a request whose path is not canonical (dot segments,
	// "//", ";" parameters, encoded "/" or "\", needless escapes, control characters, invalid
	// UTF-8…): "refuse" answers 400 path_not_canonical; "rewrite" replaces it with its canonical
	// form before any policy is chosen, and forwards that. Default: refuse.
	NonCanonicalPaths string `json:"noncanonical_paths,omitempty"`
	// BindCI refuses a verification whose person (CI) differs from the one already bound to the
	// account. Default: off.
	BindCI bool `json:"bind_ci,omitempty"`

	policies  *policy.Set
	gate      *gate.Gate
	portal    *portal.Portal
	sessions  *session.Manager
	states    store.Ephemeral
	records   store.Records
	redis     *redisstore.Store
	redisRevs *redisstore.Revocations
	stopLoop  context.CancelFunc
	forwarded []string
	// rewritePaths is NonCanonicalPaths == "rewrite".
	rewritePaths bool
	poolKey      string
	logger       *zap.Logger
	audit        *zap.Logger
	metrics      *audit.Metrics
	transport    *http.Transport // to the providers
	subjectKey   []byte
	storage      certmagic.Storage
	keyPolicy    keys.Policy
	keyPrint     string
	keyMu        *sync.Mutex
}

// NaverConfig configures Naver login. Endpoints default to Naver's production URLs.
type NaverConfig struct {
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	AuthorizeURL string `json:"authorize_url,omitempty"`
	TokenURL     string `json:"token_url,omitempty"`
	ProfileURL   string `json:"profile_url,omitempty"`
	// OIDC selects Naver's OpenID Connect surface (ID token, PKCE) instead of classic OAuth 2.0.
	OIDC bool `json:"oidc,omitempty"`
	// Issuer of the OIDC surface. Default: https://nid.naver.com.
	Issuer string `json:"issuer,omitempty"`
}

// PortOneConfig configures PortOne V2 identity verification.
type PortOneConfig struct {
	StoreID    string `json:"store_id,omitempty"`
	ChannelKey string `json:"channel_key,omitempty"`
	APISecret  string `json:"api_secret,omitempty"`
	// APIBase overrides https://api.portone.io.
	APIBase string `json:"api_base,omitempty"`
	// SDKURL overrides https://cdn.portone.io/v2/browser-sdk.js.
	SDKURL string `json:"sdk_url,omitempty"`
}

// StripeConfig configures Stripe Identity.
type StripeConfig struct {
	SecretKey string `json:"secret_key,omitempty"`
	// APIBase overrides https://api.stripe.com.
	APIBase string `json:"api_base,omitempty"`
	// WebhookSecret is the endpoint secret (whsec_…) of /.idgate/webhooks/stripe.
	WebhookSecret string `json:"webhook_secret,omitempty"`
}

// StoreConfig configures a shared store.
type StoreConfig struct {
	// Kind is "redis".
	Kind     string `json:"kind"`
	URL      string `json:"url,omitempty"`
	Address  string `json:"address,omitempty"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	DB       int    `json:"db,omitempty"`
	TLS      bool   `json:"tls,omitempty"`
	Prefix   string `json:"prefix,omitempty"`
	// RevocationPoll bounds how long another instance may still accept a logged-out session
	// if a published revocation is missed. Default: 5s.
	RevocationPoll caddy.Duration `json:"revocation_poll,omitempty"`
	// Timeout bounds each Redis command (retried once on a fresh connection), so a slow Redis
	// fails closed instead of hanging logins and code checks. Default: 1s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
}

// MFAConfig configures step-up.
type MFAConfig struct {
	// Issuer labels the entry in authenticator apps. Default: idgate.
	Issuer string `json:"issuer,omitempty"`
	// Email and SMS send one-time codes; absent channels are off.
	Email *SenderConfig `json:"email,omitempty"`
	SMS   *SenderConfig `json:"sms,omitempty"`
	// Recaptcha enables reCAPTCHA Enterprise account verification (e-mail PIN) as a method.
	Recaptcha *RecaptchaConfig `json:"recaptcha,omitempty"`
	// InsecureDemoSenders allows the outbox sender, which writes codes to a file. Demo only.
	InsecureDemoSenders bool `json:"insecure_demo_senders,omitempty"`
	// MaxFailures wrong codes (all methods) lock step-up for Lockout. Defaults: 5, 15m.
	MaxFailures int            `json:"max_failures,omitempty"`
	Lockout     caddy.Duration `json:"lockout,omitempty"`
}

// RecaptchaConfig configures reCAPTCHA Enterprise account verification.
type RecaptchaConfig struct {
	ProjectID string `json:"project_id,omitempty"`
	APIKey    string `json:"api_key,omitempty"`
	SiteKey   string `json:"site_key,omitempty"`
	// APIBase overrides https://recaptchaenterprise.googleapis.com.
	APIBase string `json:"api_base,omitempty"`
	// ScriptURL overrides https://www.google.com/recaptcha/enterprise.js.
	ScriptURL string `json:"script_url,omitempty"`
}

// SenderConfig configures a one-time-code sender: kind smtp, http (SMS gateway) or outbox.
type SenderConfig struct {
	Kind     string            `json:"kind"`
	Address  string            `json:"address,omitempty"`
	Username string            `json:"username,omitempty"`
	Password string            `json:"password,omitempty"`
	From     string            `json:"from,omitempty"`
	URL      string            `json:"url,omitempty"`
	Method   string            `json:"method,omitempty"`
	Headers  map[string]string `json:"headers,omitempty"`
	Body     string            `json:"body,omitempty"`
	Path     string            `json:"path,omitempty"`
}

// OIDCConfig configures one OpenID Connect provider.
type OIDCConfig struct {
	// Name is how policies refer to it and the prefix of its subjects ("kakao" → "kakao:<sub>").
	Name         string   `json:"name"`
	Issuer       string   `json:"issuer,omitempty"`
	ClientID     string   `json:"client_id,omitempty"`
	ClientSecret string   `json:"client_secret,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
	// Label is shown on the login button ("Google"). Kakao gets its brand button by name.
	Label string `json:"label,omitempty"`
}

// SessionConfig configures sessions.
type SessionConfig struct {
	// IdleTimeout ends a session unused this long. Default: 24h.
	IdleTimeout caddy.Duration `json:"idle_timeout,omitempty"`
	// Lifetime ends a session this long after login. Default: 7 days.
	Lifetime caddy.Duration `json:"lifetime,omitempty"`
	// Keys are base64 32-byte keys; the first seals, all open. When empty, keys are generated
	// once and kept in Caddy's storage.
	Keys []string `json:"keys,omitempty"`
}

// AssertionConfig configures the signed identity header.
type AssertionConfig struct {
	// Issuer (iss). Default: the request's origin, e.g. https://shop.example.com.
	Issuer string `json:"issuer,omitempty"`
	// Audience (aud). Default: the request's origin.
	Audience string `json:"audience,omitempty"`
	// TTL of an assertion. Default: 5m.
	TTL caddy.Duration `json:"ttl,omitempty"`
	// Algorithm for generated keys: ES256 (default) or EdDSA.
	Algorithm string `json:"algorithm,omitempty"`
	// SigningKeyFiles are PEM private keys (EC P-256 or Ed25519) managed by the operator; the
	// first signs, all are published. When empty, keys are generated and kept in Caddy's storage.
	SigningKeyFiles []string `json:"signing_key_files,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "idgate", New: func() caddy.Module { return new(App) }}
}

// sharedState is the state that must survive a config reload: OAuth states in flight and revocations.
type sharedState struct {
	*memory.Store
	revoked *hotmap.Map[string, struct{}] // revoked session ids, each until its session's end
}

func (sharedState) Destruct() error { return nil }

var pool = caddy.NewUsagePool()

// Provision loads policies and keys and builds providers. It makes no network call.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	repl := caddy.NewReplacer()
	expand := func(s *string) { *s = repl.ReplaceAll(*s, "") }

	timeout := time.Duration(a.ProviderTimeout)
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	m, err := audit.New(ctx.GetMetricsRegistry())
	if err != nil {
		return fmt.Errorf("idgate: metrics: %w", err)
	}
	a.metrics = m
	// Security events go to the "audit" logger; every one of them is also counted.
	a.audit = a.logger.Named("audit").WithOptions(zap.WrapCore(m.Core))
	transport := http.DefaultTransport.(*http.Transport).Clone()
	a.transport = transport
	clientFor := func(provider string) *http.Client {
		return &http.Client{Timeout: timeout, Transport: m.Transport(provider, transport)}
	}
	infos := map[string]portal.ProviderInfo{}
	var order []string
	var errs []error
	if n := a.Naver; n != nil {
		for _, s := range []*string{&n.ClientID, &n.ClientSecret, &n.AuthorizeURL, &n.TokenURL, &n.ProfileURL, &n.Issuer} {
			expand(s)
		}
		c, err := naver.New(naver.Config{ClientID: n.ClientID, ClientSecret: n.ClientSecret, AuthorizeURL: n.AuthorizeURL,
			TokenURL: n.TokenURL, ProfileURL: n.ProfileURL, OIDC: n.OIDC, Issuer: n.Issuer, HTTPClient: clientFor("naver")})
		if err != nil {
			errs = append(errs, fmt.Errorf("idgate: %w (after placeholder expansion; is the environment variable set?)", err))
		} else {
			infos["naver"] = portal.ProviderInfo{Provider: c, Label: "NAVER", Style: "naver"}
			order = append(order, "naver")
		}
	}
	for _, o := range a.OIDC {
		for _, s := range []*string{&o.Issuer, &o.ClientID, &o.ClientSecret, &o.Label} {
			expand(s)
		}
		if o.Name == "naver" || infos[o.Name].Provider != nil {
			errs = append(errs, fmt.Errorf("idgate: provider name %q is used twice", o.Name))
			continue
		}
		c, err := oidc.New(oidc.Config{Name: o.Name, Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret, Scopes: o.Scopes, HTTPClient: clientFor(o.Name)})
		if err != nil {
			errs = append(errs, fmt.Errorf("idgate: %w (after placeholder expansion)", err))
			continue
		}
		style, label := "", o.Label
		if o.Name == "kakao" {
			style = "kakao"
		}
		if label == "" {
			label = o.Name
		}
		infos[o.Name] = portal.ProviderInfo{Provider: c, Label: label, Style: style}
		order = append(order, o.Name)
	}

	var po *portone.Client
	if c := a.PortOne; c != nil {
		for _, s := range []*string{&c.StoreID, &c.ChannelKey, &c.APISecret, &c.APIBase, &c.SDKURL} {
			expand(s)
		}
		if c.SDKURL == "" {
			c.SDKURL = portone.DefaultSDKURL
		}
		var err error
		po, err = portone.New(portone.Config{StoreID: c.StoreID, ChannelKey: c.ChannelKey, APISecret: c.APISecret, APIBase: c.APIBase, HTTPClient: clientFor("portone")})
		if err != nil {
			errs = append(errs, fmt.Errorf("idgate: %w (after placeholder expansion; is the environment variable set?)", err))
		}
	}
	var stripeClient *stripeid.Client
	if c := a.StripeIdentity; c != nil {
		for _, s := range []*string{&c.SecretKey, &c.APIBase, &c.WebhookSecret} {
			expand(s)
		}
		var err error
		stripeClient, err = stripeid.New(stripeid.Config{SecretKey: c.SecretKey, APIBase: c.APIBase, HTTPClient: clientFor("stripe_identity")})
		if err != nil {
			errs = append(errs, fmt.Errorf("idgate: %w (after placeholder expansion; is the environment variable set?)", err))
		}
		if c.WebhookSecret == "" {
			errs = append(errs, fmt.Errorf("idgate: stripe_identity: webhook_secret is required (after placeholder expansion)"))
		}
	}
	if a.Policies != "" {
		set, err := policy.LoadDir(a.Policies)
		if err != nil {
			errs = append(errs, fmt.Errorf("idgate: loading policies from %s:\n%w", a.Policies, err))
		} else {
			a.policies = set
			errs = append(errs, checkPolicies(set, infos, a.PortOne != nil, a.StripeIdentity != nil, a.MFA)...)
			// Policies that protect nothing, or less than they seem to, fail here so that
			// `caddy validate` finds them; warnings are printed, and are errors with strict_policies.
			for _, f := range set.Lint() {
				if f.Severity == "error" || a.StrictPolicies {
					errs = append(errs, fmt.Errorf("idgate: policy %s: %s, at %s", f.Policy, f.Message, f.Where))
				} else {
					a.logger.Warn("policy lint", zap.String("policy", f.Policy), zap.String("at", f.Where), zap.String("finding", f.Message))
				}
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if a.policies == nil {
		a.policies, _ = policy.Load(nil)
	}

	a.storage = ctx.Storage()
	a.keyMu = new(sync.Mutex)
	ks, err := a.loadKeys()
	if err != nil {
		return err
	}
	a.keyPrint = fingerprint(ks)
	sc := a.Session
	if sc == nil {
		sc = &SessionConfig{}
	}
	if a.Assertion == nil {
		a.Assertion = &AssertionConfig{} // RefreshKeys reads it too
	}
	ac := a.Assertion
	expand(&ac.Issuer)
	expand(&ac.Audience)

	var rev interface {
		session.RevocationChecker
		portal.Revoker
	}
	if sc := a.Store; sc != nil {
		repl := caddy.NewReplacer()
		for _, s := range []*string{&sc.URL, &sc.Address, &sc.Username, &sc.Password, &sc.Prefix} {
			*s = repl.ReplaceAll(*s, "")
		}
		if sc.Kind != "redis" {
			return fmt.Errorf("idgate: unknown store %q (redis)", sc.Kind)
		}
		rs, err := redisstore.New(redisstore.Options{URL: sc.URL, Address: sc.Address, Username: sc.Username, Password: sc.Password,
			DB: sc.DB, TLS: sc.TLS, Prefix: sc.Prefix, Timeout: time.Duration(sc.Timeout)})
		if err != nil {
			return fmt.Errorf("idgate: store: %w", err)
		}
		a.redis = rs
		a.states = rs
		a.records = redisstore.Records{Store: rs}
		a.redisRevs = redisstore.NewRevocations(rs, time.Duration(sc.RevocationPoll))
		a.redisRevs.OnError = func(err error) {
			a.logger.Warn("revocation view not refreshed; sessions keep being checked against the last view", zap.Error(err))
		}
		rev = a.redisRevs
	} else {
		a.poolKey = "idgate.state"
		storage := ctx.Storage()
		v, _, err := pool.LoadOrNew(a.poolKey, func() (caddy.Destructor, error) {
			revoked := hotmap.New[string, struct{}](time.Minute)
			// A fresh process: bring back the revocations made before the restart.
			if err := loadRevocations(storage, revoked, time.Now()); err != nil {
				return nil, err
			}
			return sharedState{memory.New(), revoked}, nil
		})
		if err != nil {
			return err
		}
		shared := v.(sharedState)
		a.states = shared.Store
		rev = revocations{view: shared.revoked, storage: storage}
	}

	a.sessions, err = session.NewManager(sessionKeys(ks), time.Duration(sc.IdleTimeout), time.Duration(sc.Lifetime), rev)
	if err != nil {
		return fmt.Errorf("idgate: %w", err)
	}
	issuer, err := assertion.NewIssuer(ks.Signing, time.Duration(ac.TTL))
	if err != nil {
		return fmt.Errorf("idgate: %w", err)
	}
	a.forwarded = a.policies.ForwardedHeaders()
	switch a.NonCanonicalPaths {
	case "", "refuse":
	case "rewrite":
		a.rewritePaths = true
	default:
		return fmt.Errorf("idgate: noncanonical_paths must be refuse or rewrite, got %q", a.NonCanonicalPaths)
	}
	a.gate = &gate.Gate{Policies: a.policies, Sessions: a.sessions, Assertions: issuer, Issuer: ac.Issuer, Audience: ac.Audience}
	set := a.policies
	a.portal = &portal.Portal{
		Providers: infos, Order: order, Sessions: a.sessions, States: a.states, Revocations: rev, Policies: set,
		KeepClaims: func(in map[string]string) map[string]string {
			out := map[string]string{}
			for k, v := range in {
				if set.UsesClaim(k) {
					out[k] = v
				}
			}
			return out
		},
		JWKS:            func() []byte { return a.gate.CurrentIssuer().JWKS() },
		SubjectHash:     a.subjectHash,
		Logger:          a.audit,
		Now:             time.Now,
		ProviderTimeout: timeout + 5*time.Second,
		LoginRate:       a.LoginRate,
		LoginLimit:      a.LoginLimit,
		StateKey:        a.derivedKey("idgate login binding"),
	}
	recs := a.records
	if recs == nil && (po != nil || stripeClient != nil || a.MFA != nil) {
		dir := a.RecordsDir
		if dir == "" {
			dir = filepath.Join(caddy.AppDataDir(), "idgate", "records")
		}
		fs, err := file.New(dir)
		if err != nil {
			return fmt.Errorf("idgate: records_dir: %w", err)
		}
		recs = fs
	}
	if a.MFA != nil {
		mfa, err := a.provisionMFA(ks, recs, timeout, clientFor)
		if err != nil {
			return err
		}
		// Recovery codes are stored as HMACs under a key derived from the log-hash key (kept in
		// Caddy's storage), never as bare hashes a leaked record could be searched against.
		mfa.CodeKey = a.derivedKey("idgate recovery codes")
		a.portal.MFA = mfa
	}
	if po != nil || stripeClient != nil {
		ciKey := ks.CIHashKey
		a.portal.Verify = &portal.Verification{
			Records: recs,
			HashCI: func(ci string) string {
				m := hmac.New(sha256.New, ciKey)
				m.Write([]byte(ci))
				return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
			},
			BindCI: a.BindCI,
		}
		if po != nil {
			a.portal.Verify.PortOne = &portal.PortOne{Client: po, StoreID: po.StoreID(), ChannelKey: po.ChannelKey(), SDKURL: a.PortOne.SDKURL}
		}
		if stripeClient != nil {
			hosted := []string{"https://verify.stripe.com"}
			if u, err := url.Parse(a.StripeIdentity.APIBase); err == nil && u.Host != "" {
				// A sandbox or proxy serves the hosted page next to its API.
				hosted = append(hosted, u.Scheme+"://"+u.Host)
			}
			a.portal.Verify.Stripe = &portal.Stripe{Client: stripeClient, WebhookSecret: a.StripeIdentity.WebhookSecret, HostedOrigins: hosted}
		}
	}
	return nil
}

// provisionMFA builds the step-up configuration; outbox senders need the insecure opt-in.
func (a *App) provisionMFA(ks *keys.Set, recs store.Records, timeout time.Duration, clientFor func(string) *http.Client) (*portal.MFA, error) {
	c := a.MFA
	box, err := keys.NewBox(ks.MFAKey)
	if err != nil {
		return nil, fmt.Errorf("idgate: mfa: %w", err)
	}
	m := &portal.MFA{Records: recs, Secrets: box, Issuer: c.Issuer, MaxFailures: c.MaxFailures, Lockout: time.Duration(c.Lockout)}
	build := func(name string, sc *SenderConfig) (portal.Sender, error) {
		if sc == nil {
			return nil, nil
		}
		repl := caddy.NewReplacer()
		for _, s := range []*string{&sc.Address, &sc.Username, &sc.Password, &sc.From, &sc.URL, &sc.Path} {
			*s = repl.ReplaceAll(*s, "")
		}
		switch sc.Kind {
		case "smtp":
			if sc.Address == "" || sc.From == "" {
				return nil, fmt.Errorf("idgate: mfa %s smtp needs address and from", name)
			}
			return &otp.SMTP{Addr: sc.Address, Username: sc.Username, Password: sc.Password, From: sc.From, Timeout: timeout}, nil
		case "http":
			if sc.URL == "" || sc.Body == "" {
				return nil, fmt.Errorf("idgate: mfa %s http needs url and body", name)
			}
			t, err := otp.ParseBodyTemplate(sc.Body)
			if err != nil {
				return nil, fmt.Errorf("idgate: mfa %s body template: %w", name, err)
			}
			headers := map[string]string{}
			for k, v := range sc.Headers {
				headers[k] = repl.ReplaceAll(v, "")
			}
			return &otp.HTTPSMS{URL: sc.URL, Method: sc.Method, Headers: headers, Body: t, Client: clientFor("sms")}, nil
		case "outbox":
			if !c.InsecureDemoSenders {
				return nil, fmt.Errorf("idgate: mfa %s outbox writes codes to a file and is for the demo only; it needs insecure_demo_senders", name)
			}
			a.logger.Warn("insecure demo sender: one-time codes are written to a file", zap.String("channel", name), zap.String("path", sc.Path))
			return &otp.Outbox{Path: sc.Path}, nil
		}
		return nil, fmt.Errorf("idgate: mfa %s: unknown sender %q (smtp, http or outbox)", name, sc.Kind)
	}
	if m.Email, err = build("email", c.Email); err != nil {
		return nil, err
	}
	if m.SMS, err = build("sms", c.SMS); err != nil {
		return nil, err
	}
	if rc := c.Recaptcha; rc != nil {
		repl := caddy.NewReplacer()
		for _, s := range []*string{&rc.ProjectID, &rc.APIKey, &rc.SiteKey, &rc.APIBase, &rc.ScriptURL} {
			*s = repl.ReplaceAll(*s, "")
		}
		client, err := recaptcha.New(recaptcha.Config{ProjectID: rc.ProjectID, APIKey: rc.APIKey, SiteKey: rc.SiteKey, APIBase: rc.APIBase, HTTPClient: clientFor("recaptcha")})
		if err != nil {
			return nil, fmt.Errorf("idgate: mfa: %w (after placeholder expansion)", err)
		}
		script := rc.ScriptURL
		if script == "" {
			script = recaptcha.DefaultScriptURL
		}
		acct := hmac.New(sha256.New, ks.MFAKey)
		acct.Write([]byte("recaptcha account id"))
		m.Recaptcha = &portal.Recaptcha{Client: client, SiteKey: rc.SiteKey, ScriptURL: script, AccountKey: acct.Sum(nil)}
	}
	m.SetDefaults()
	return m, nil
}

// checkPolicies reports login providers a policy names that are not configured, and
// requirements no configured verifier can satisfy, each at its file and line.
func checkPolicies(set *policy.Set, infos map[string]portal.ProviderInfo, phone, document bool, mfa *MFAConfig) []error {
	var errs []error
	for _, p := range set.Policies() {
		for _, name := range p.Require.Login {
			if _, ok := infos[name]; !ok {
				errs = append(errs, fmt.Errorf("idgate: policy %q accepts login provider %q, which is not configured in the idgate block, at %s", p.Name, name, p.Where(policy.ReqLogin)))
			}
		}
		if p.Require.Login != nil && len(infos) == 0 {
			errs = append(errs, fmt.Errorf("idgate: policy %q requires login but no login provider is configured, at %s", p.Name, p.Where(policy.ReqLogin)))
		}
		for _, r := range p.Require.Order {
			switch {
			case r == policy.ReqLogin:
			case r == policy.ReqPhone && !phone:
				errs = append(errs, fmt.Errorf("idgate: policy %q requires phone, but no phone verification is configured (add a portone block), at %s", p.Name, p.Where(r)))
			case r == policy.ReqDocument && !document:
				errs = append(errs, fmt.Errorf("idgate: policy %q requires document, but no document verification is configured (add a stripe_identity block), at %s", p.Name, p.Where(r)))
			case r == policy.ReqAdult && !phone && !document:
				errs = append(errs, fmt.Errorf("idgate: policy %q requires adult, but no verification that proves a birth date is configured (add portone or stripe_identity), at %s", p.Name, p.Where(r)))
			case r == policy.ReqPhone || r == policy.ReqDocument || r == policy.ReqAdult:
			case r == policy.ReqMFA && mfa == nil:
				errs = append(errs, fmt.Errorf("idgate: policy %q requires mfa, but no mfa block is configured, at %s", p.Name, p.Where(r)))
			case r == policy.ReqMFA:
				for _, m := range p.Require.MFA.Methods {
					if (m == "email" && mfa.Email == nil) || (m == "sms" && mfa.SMS == nil) || (m == "recaptcha" && mfa.Recaptcha == nil) {
						errs = append(errs, fmt.Errorf("idgate: policy %q accepts mfa method %s, which is not configured, at %s", p.Name, m, p.Where(r)))
					}
				}
			default:
				errs = append(errs, fmt.Errorf("idgate: policy %q requires %s, which this idgate build cannot verify yet, at %s", p.Name, r, p.Where(r)))
			}
		}
	}
	return errs
}

// loadKeys returns the key set: configured keys when given, else keys kept in Caddy's storage,
// generated once under a storage lock and rotated on schedule.
func (a *App) loadKeys() (*keys.Set, error) {
	lifetime := 7 * 24 * time.Hour
	if a.Session != nil && a.Session.Lifetime > 0 {
		lifetime = time.Duration(a.Session.Lifetime)
	}
	ttl := 5 * time.Minute
	alg := "ES256"
	if a.Assertion != nil {
		if a.Assertion.TTL > 0 {
			ttl = time.Duration(a.Assertion.TTL)
		}
		if a.Assertion.Algorithm != "" {
			alg = a.Assertion.Algorithm
		}
	}
	if alg != "ES256" && alg != "EdDSA" {
		return nil, fmt.Errorf("idgate: assertion algorithm %q is not supported (ES256 or EdDSA)", alg)
	}
	every := 30 * 24 * time.Hour
	if a.KeyRotation > 0 {
		every = time.Duration(a.KeyRotation)
	}
	pol := keys.Policy{Every: every, SessionKeep: lifetime, SigningKeep: ttl + time.Hour, Alg: alg}
	a.keyPolicy = pol
	return a.keysWith(pol)
}

// keysWith reads (and rotates when due under pol) the stored keys, then applies configured ones.
func (a *App) keysWith(pol keys.Policy) (*keys.Set, error) {
	stored, err := a.storedKeys(pol)
	if err != nil {
		return nil, err
	}
	a.subjectKey = stored.LogHashKey
	if a.Session != nil && len(a.Session.Keys) > 0 {
		stored.Session = nil
		repl := caddy.NewReplacer()
		for i, s := range a.Session.Keys {
			raw, err := base64.StdEncoding.DecodeString(repl.ReplaceAll(s, ""))
			if err != nil || len(raw) != 32 {
				return nil, fmt.Errorf("idgate: session key #%d must be 32 bytes in base64 (openssl rand -base64 32)", i+1)
			}
			sum := sha256.Sum256(raw)
			stored.Session = append(stored.Session, keys.SessionKey{ID: uint32(sum[0])<<24 | uint32(sum[1])<<16 | uint32(sum[2])<<8 | uint32(sum[3]), Secret: raw})
		}
	}
	if a.Assertion != nil && len(a.Assertion.SigningKeyFiles) > 0 {
		stored.Signing = nil
		for _, f := range a.Assertion.SigningKeyFiles {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("idgate: signing key: %w", err)
			}
			priv, kalg, err := keys.ParsePrivateKeyPEM(data)
			if err != nil {
				return nil, fmt.Errorf("idgate: signing key %s: %w", f, err)
			}
			k, err := keys.SigningKeyFrom(kalg, priv, time.Now())
			if err != nil {
				return nil, err
			}
			stored.Signing = append(stored.Signing, k)
		}
	}
	return stored, nil
}

const keysStorageKey = "idgate/keys.json"

func (a *App) storedKeys(pol keys.Policy) (*keys.Set, error) {
	st := a.storage
	c := context.Background()
	if err := st.Lock(c, "idgate_keys"); err != nil {
		return nil, fmt.Errorf("idgate: locking key storage: %w", err)
	}
	defer st.Unlock(c, "idgate_keys")
	ks := &keys.Set{}
	data, err := st.Load(c, keysStorageKey)
	switch {
	case err == nil:
		if ks, err = keys.Parse(data); err != nil {
			return nil, fmt.Errorf("idgate: %w (storage key %s)", err, keysStorageKey)
		}
	case errors.Is(err, fs.ErrNotExist):
	default:
		return nil, fmt.Errorf("idgate: loading keys from storage: %w", err)
	}
	changed, err := ks.Rotate(time.Now(), pol, nil)
	if err != nil {
		return nil, err
	}
	if changed {
		out, err := ks.Marshal()
		if err != nil {
			return nil, err
		}
		if err := st.Store(c, keysStorageKey, out); err != nil {
			return nil, fmt.Errorf("idgate: storing keys: %w", err)
		}
		a.logger.Info("key set updated", zap.Int("session_keys", len(ks.Session)), zap.Int("signing_keys", len(ks.Signing)))
	}
	return ks, nil
}

func (a *App) subjectHash(sub string) string {
	m := hmac.New(sha256.New, a.subjectKey)
	m.Write([]byte(sub))
	return hex.EncodeToString(m.Sum(nil)[:12])
}

// Validate checks nothing beyond Provision, which already reported every problem.
func (a *App) Validate() error { return nil }

// Start starts the background loops: key refresh and rotation, and (with a Redis store) the
// shared revocation view.
func (a *App) Start() error {
	ctx, cancel := context.WithCancel(context.Background())
	a.stopLoop = cancel
	if a.redisRevs != nil {
		go a.redisRevs.Run(ctx)
	}
	every := time.Duration(a.KeyRefresh)
	if every <= 0 {
		every = time.Minute
	}
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := a.RefreshKeys(false); err != nil {
					a.logger.Error("refreshing keys", zap.Error(err))
				}
			}
		}
	}()
	return nil
}

// RefreshKeys re-reads the key set from storage, rotating it when due (or now, with force), and
// switches sessions and assertions to it. Retired keys keep opening cookies and stay in the JWKS
// until what they protected has expired, so nobody is logged out.
func (a *App) RefreshKeys(force bool) error {
	a.keyMu.Lock()
	defer a.keyMu.Unlock()
	pol := a.keyPolicy
	if force {
		pol.Every = time.Nanosecond
	}
	ks, err := a.keysWith(pol)
	if err != nil {
		return err
	}
	fp := fingerprint(ks)
	if fp == a.keyPrint {
		return nil
	}
	sk := sessionKeys(ks)
	// Provision made a.Assertion non-nil; NewIssuer applies the default lifetime.
	issuer, err := assertion.NewIssuer(ks.Signing, time.Duration(a.Assertion.TTL))
	if err != nil {
		return err
	}
	if err := a.sessions.SetKeys(sk); err != nil {
		return err
	}
	a.gate.SetIssuer(issuer)
	a.keyPrint = fp
	a.logger.Info("keys rotated", zap.String("event", "keys_rotated"), zap.String("signing_kid", issuer.KID()), zap.Int("session_keys", len(sk)))
	return nil
}

func sessionKeys(ks *keys.Set) []session.Key {
	out := make([]session.Key, 0, len(ks.Session))
	for _, k := range ks.Session {
		out = append(out, session.Key{ID: k.ID, Secret: k.Secret, Created: k.Created})
	}
	return out
}

func fingerprint(ks *keys.Set) string {
	var b strings.Builder
	for _, k := range ks.Session {
		fmt.Fprintf(&b, "%08x,", k.ID)
	}
	for _, k := range ks.Signing {
		b.WriteString(k.KID + ",")
	}
	return b.String()
}

// Stop stops the background loop.
func (a *App) Stop() error {
	if a.stopLoop != nil {
		a.stopLoop()
	}
	return nil
}

// Cleanup releases the shared state of this config generation.
func (a *App) Cleanup() error {
	if a.transport != nil {
		// Provider connections of this generation would otherwise idle until their timeout.
		a.transport.CloseIdleConnections()
	}
	if a.redis != nil {
		a.redis.Close()
	}
	if a.poolKey != "" {
		_, err := pool.Delete(a.poolKey)
		return err
	}
	return nil
}

// revocations is the revocation view over the ephemeral store: local, so checking it on every
// request costs a map lookup. Each revocation is also written to Caddy's storage, so a restart
// (or another instance provisioning on the same storage) does not bring a logged-out session back.
// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)

// derivedKey derives a purpose-bound secret from the log-hash key kept in Caddy's storage (the
// same on every instance that shares the storage).
func (a *App) derivedKey(purpose string) []byte {
	m := hmac.New(sha256.New, a.subjectKey)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}
