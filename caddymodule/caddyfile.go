package caddymodule

import (
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("idgate", parseGlobal)
	httpcaddyfile.RegisterHandlerDirective("idgate", parseDirective)
	// Before every handler that serves content (respond, reverse_proxy, php_fastcgi, file_server).
	httpcaddyfile.RegisterDirectiveOrder("idgate", httpcaddyfile.After, "basic_auth")
}

// parseDirective parses the handler directive:
//
//	idgate [<policy>]
func parseDirective(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var hd Handler
	h.Next()
	if h.NextArg() {
		hd.Policy = h.Val()
	}
	if h.NextArg() {
		return nil, h.ArgErr()
	}
	if h.NextBlock(0) {
		return nil, h.Errf("idgate directive takes no block; configure the global idgate option")
	}
	return &hd, nil
}

// parseGlobal parses the global option:
//
//	idgate {
//		policies <dir>
//		naver {
//			client_id <id>
//			client_secret <secret>
//			authorize_url|token_url|profile_url <url>
//			oidc [<issuer>]
//		}
//		oidc <name> {
//			issuer <url>
//			client_id <id>
//			client_secret <secret>
//			scopes <scope...>
//			label <text>
//		}
//		session {
//			idle_timeout <duration>
//			lifetime <duration>
//			key <base64>            # repeatable; the first seals
//		}
//		assertion {
//			issuer <iss>
//			audience <aud>
//			ttl <duration>
//			algorithm ES256|EdDSA
//			signing_key_file <pem>  # repeatable; the first signs
//		}
//		portone {
//			store_id <id>
//			channel_key <key>
//			api_secret <secret>
//			api_base <url>
//			sdk_url <url>
//		}
//		stripe_identity {
//			secret_key <sk_…>
//			webhook_secret <whsec_…>
//			api_base <url>
//		}
//		mfa {
//			issuer <name>
//			email smtp {
//				address <host:port>
//				username <user>
//				password <password>
//				from <address>
//			}
//			sms http {
//				url <url>
//				method <method>
//				header <name> <value>
//				body <template>       # e.g. {"to":{{json .To}},"text":{{json .Text}}}
//			}
//			email|sms outbox <file>  # demo only, needs insecure_demo_senders
//			recaptcha {
//				project_id <id>
//				api_key <key>
//				site_key <key>
//				api_base <url>
//				script_url <url>
//			}
//			insecure_demo_senders
//			max_failures <n>
//			lockout <duration>
//		}
//		store redis [<url>] {
//			address <host:port>
//			password <password>
//			db <n>
//			tls
//			prefix <prefix>
//			revocation_poll <duration>
//		}
//		records_dir <dir>
//		bind_ci
//		key_rotation <duration>
//		key_refresh <duration>
//		login_rate <n>|off          # logins started per client address per 10 minutes
//		provider_timeout <duration>
//	}
func parseGlobal(d *caddyfile.Dispenser, existing any) (any, error) {
	app := new(App)
	if existing != nil {
		return nil, d.Err("the idgate global option may appear only once")
	}
	d.Next()
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "policies":
			if err := oneArg(d, &app.Policies); err != nil {
				return nil, err
			}
		case "naver":
			if app.Naver != nil {
				return nil, d.Err("naver is configured twice")
			}
			n := &NaverConfig{}
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			for nest := d.Nesting(); d.NextBlock(nest); {
				var err error
				switch d.Val() {
				case "client_id":
					err = oneArg(d, &n.ClientID)
				case "client_secret":
					err = oneArg(d, &n.ClientSecret)
				case "authorize_url":
					err = oneArg(d, &n.AuthorizeURL)
				case "token_url":
					err = oneArg(d, &n.TokenURL)
				case "profile_url":
					err = oneArg(d, &n.ProfileURL)
				case "oidc":
					n.OIDC = true
					if d.NextArg() {
						n.Issuer = d.Val()
					}
					if d.NextArg() {
						return nil, d.ArgErr()
					}
				default:
					return nil, d.Errf("unknown naver subdirective %q (known: client_id, client_secret, authorize_url, token_url, profile_url, oidc)", d.Val())
				}
				if err != nil {
					return nil, err
				}
			}
			if n.ClientID == "" || n.ClientSecret == "" {
				return nil, d.Err("naver needs client_id and client_secret")
			}
			app.Naver = n
		case "oidc":
			o := &OIDCConfig{}
			if !d.NextArg() {
				return nil, d.Err("oidc needs a provider name, e.g. oidc kakao { … }")
			}
			o.Name = d.Val()
			if !validProviderName(o.Name) {
				return nil, d.Errf("provider name %q must be lower-case letters, digits or '-'", o.Name)
			}
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			for nest := d.Nesting(); d.NextBlock(nest); {
				var err error
				switch d.Val() {
				case "issuer":
					err = oneArg(d, &o.Issuer)
				case "client_id":
					err = oneArg(d, &o.ClientID)
				case "client_secret":
					err = oneArg(d, &o.ClientSecret)
				case "label":
					err = oneArg(d, &o.Label)
				case "scopes":
					o.Scopes = d.RemainingArgs()
					if len(o.Scopes) == 0 {
						return nil, d.ArgErr()
					}
				default:
					return nil, d.Errf("unknown oidc subdirective %q (known: issuer, client_id, client_secret, scopes, label)", d.Val())
				}
				if err != nil {
					return nil, err
				}
			}
			if o.Issuer == "" || o.ClientID == "" {
				return nil, d.Errf("oidc %s needs issuer and client_id", o.Name)
			}
			app.OIDC = append(app.OIDC, o)
		case "session":
			s := &SessionConfig{}
			for nest := d.Nesting(); d.NextBlock(nest); {
				var err error
				switch d.Val() {
				case "idle_timeout":
					err = durationArg(d, &s.IdleTimeout)
				case "lifetime":
					err = durationArg(d, &s.Lifetime)
				case "key":
					var k string
					err = oneArg(d, &k)
					s.Keys = append(s.Keys, k)
				default:
					return nil, d.Errf("unknown session subdirective %q (known: idle_timeout, lifetime, key)", d.Val())
				}
				if err != nil {
					return nil, err
				}
			}
			app.Session = s
		case "assertion":
			ac := &AssertionConfig{}
			for nest := d.Nesting(); d.NextBlock(nest); {
				var err error
				switch d.Val() {
				case "issuer":
					err = oneArg(d, &ac.Issuer)
				case "audience":
					err = oneArg(d, &ac.Audience)
				case "ttl":
					err = durationArg(d, &ac.TTL)
				case "algorithm":
					err = oneArg(d, &ac.Algorithm)
					if err == nil && ac.Algorithm != "ES256" && ac.Algorithm != "EdDSA" {
						return nil, d.Errf("algorithm must be ES256 or EdDSA, not %q", ac.Algorithm)
					}
				case "signing_key_file":
					var f string
					err = oneArg(d, &f)
					ac.SigningKeyFiles = append(ac.SigningKeyFiles, f)
				default:
					return nil, d.Errf("unknown assertion subdirective %q (known: issuer, audience, ttl, algorithm, signing_key_file)", d.Val())
				}
				if err != nil {
					return nil, err
				}
			}
			app.Assertion = ac
		case "portone":
			if app.PortOne != nil {
				return nil, d.Err("portone is configured twice")
			}
			c := &PortOneConfig{}
			if err := stringBlock(d, "portone", []field{{"store_id", &c.StoreID}, {"channel_key", &c.ChannelKey},
				{"api_secret", &c.APISecret}, {"api_base", &c.APIBase}, {"sdk_url", &c.SDKURL}}); err != nil {
				return nil, err
			}
			if c.StoreID == "" || c.ChannelKey == "" || c.APISecret == "" {
				return nil, d.Err("portone needs store_id, channel_key and api_secret")
			}
			app.PortOne = c
		case "stripe_identity":
			if app.StripeIdentity != nil {
				return nil, d.Err("stripe_identity is configured twice")
			}
			c := &StripeConfig{}
			if err := stringBlock(d, "stripe_identity", []field{{"secret_key", &c.SecretKey}, {"api_base", &c.APIBase},
				{"webhook_secret", &c.WebhookSecret}}); err != nil {
				return nil, err
			}
			if c.SecretKey == "" || c.WebhookSecret == "" {
				return nil, d.Err("stripe_identity needs secret_key and webhook_secret")
			}
			app.StripeIdentity = c
		case "mfa":
			if app.MFA != nil {
				return nil, d.Err("mfa is configured twice")
			}
			m := &MFAConfig{}
			for nest := d.Nesting(); d.NextBlock(nest); {
				var err error
				switch d.Val() {
				case "issuer":
					err = oneArg(d, &m.Issuer)
				case "email", "sms":
					channel := d.Val()
					var sc *SenderConfig
					if sc, err = parseSender(d, channel); err == nil {
						if channel == "email" {
							m.Email = sc
						} else {
							m.SMS = sc
						}
					}
				case "recaptcha":
					rc := &RecaptchaConfig{}
					if err := stringBlock(d, "recaptcha", []field{{"project_id", &rc.ProjectID}, {"api_key", &rc.APIKey},
						{"site_key", &rc.SiteKey}, {"api_base", &rc.APIBase}, {"script_url", &rc.ScriptURL}}); err != nil {
						return nil, err
					}
					if rc.ProjectID == "" || rc.APIKey == "" || rc.SiteKey == "" {
						return nil, d.Err("recaptcha needs project_id, api_key and site_key")
					}
					m.Recaptcha = rc
				case "insecure_demo_senders":
					m.InsecureDemoSenders = true
				case "max_failures":
					var v string
					if err = oneArg(d, &v); err == nil {
						if n, convErr := strconv.Atoi(v); convErr != nil || n < 1 || n > 100 {
							return nil, d.Errf("max_failures must be a whole number from 1 to 100")
						} else {
							m.MaxFailures = n
						}
					}
				case "lockout":
					err = durationArg(d, &m.Lockout)
				default:
					return nil, d.Errf("unknown mfa subdirective %q (known: issuer, email, sms, recaptcha, insecure_demo_senders, max_failures, lockout)", d.Val())
				}
				if err != nil {
					return nil, err
				}
			}
			app.MFA = m
		case "store":
			sc := &StoreConfig{}
			if !d.NextArg() || d.Val() != "redis" {
				return nil, d.Err("store takes redis: store redis [<url>] { address … password … db … tls … prefix … }")
			}
			sc.Kind = "redis"
			if d.NextArg() {
				sc.URL = d.Val()
			}
			for nest := d.Nesting(); d.NextBlock(nest); {
				var err error
				switch d.Val() {
				case "url":
					err = oneArg(d, &sc.URL)
				case "address":
					err = oneArg(d, &sc.Address)
				case "username":
					err = oneArg(d, &sc.Username)
				case "password":
					err = oneArg(d, &sc.Password)
				case "prefix":
					err = oneArg(d, &sc.Prefix)
				case "db":
					var v string
					if err = oneArg(d, &v); err == nil {
						n, convErr := strconv.Atoi(v)
						if convErr != nil || n < 0 {
							return nil, d.Errf("db must be a whole number")
						}
						sc.DB = n
					}
				case "tls":
					sc.TLS = true
				case "revocation_poll":
					err = durationArg(d, &sc.RevocationPoll)
				default:
					return nil, d.Errf("unknown store redis subdirective %q (known: url, address, username, password, db, tls, prefix, revocation_poll)", d.Val())
				}
				if err != nil {
					return nil, err
				}
			}
			if sc.URL == "" && sc.Address == "" {
				return nil, d.Err("store redis needs a url or an address")
			}
			app.Store = sc
		case "records_dir":
			if err := oneArg(d, &app.RecordsDir); err != nil {
				return nil, err
			}
		case "bind_ci":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			app.BindCI = true
		case "key_rotation":
			if err := durationArg(d, &app.KeyRotation); err != nil {
				return nil, err
			}
		case "login_rate":
			var v string
			if err := oneArg(d, &v); err != nil {
				return nil, err
			}
			if v == "off" {
				app.LoginRate = -1
			} else if n, err := strconv.Atoi(v); err != nil || n < 1 {
				return nil, d.Errf("login_rate must be a positive number of logins per 10 minutes, or off")
			} else {
				app.LoginRate = n
			}
		case "key_refresh":
			if err := durationArg(d, &app.KeyRefresh); err != nil {
				return nil, err
			}
		case "provider_timeout":
			if err := durationArg(d, &app.ProviderTimeout); err != nil {
				return nil, err
			}
		default:
			return nil, d.Errf("unknown idgate subdirective %q (known: policies, naver, oidc, portone, stripe_identity, mfa, store, records_dir, bind_ci, session, assertion, key_rotation, key_refresh, login_rate, provider_timeout)", d.Val())
		}
	}
	return httpcaddyfile.App{Name: "idgate", Value: caddyconfig.JSON(app, nil)}, nil
}

func oneArg(d *caddyfile.Dispenser, dst *string) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

func durationArg(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	var s string
	if err := oneArg(d, &s); err != nil {
		return err
	}
	v, err := caddy.ParseDuration(s)
	if err != nil || v <= 0 {
		return d.Errf("invalid duration %q", s)
	}
	*dst = caddy.Duration(v)
	return nil
}

func validProviderName(s string) bool {
	return s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
}

// parseSender parses `email|sms smtp|http {…}` or `email|sms outbox <file>`.
func parseSender(d *caddyfile.Dispenser, channel string) (*SenderConfig, error) {
	sc := &SenderConfig{}
	if !d.NextArg() {
		return nil, d.Errf("%s needs a sender: smtp, http or outbox", channel)
	}
	sc.Kind = d.Val()
	if sc.Kind == "outbox" {
		if !d.NextArg() {
			return nil, d.Errf("%s outbox needs a file", channel)
		}
		sc.Path = d.Val()
		return sc, nil
	}
	if sc.Kind != "smtp" && sc.Kind != "http" {
		return nil, d.Errf("unknown %s sender %q (smtp, http or outbox)", channel, sc.Kind)
	}
	for nest := d.Nesting(); d.NextBlock(nest); {
		var err error
		switch d.Val() {
		case "address":
			err = oneArg(d, &sc.Address)
		case "username":
			err = oneArg(d, &sc.Username)
		case "password":
			err = oneArg(d, &sc.Password)
		case "from":
			err = oneArg(d, &sc.From)
		case "url":
			err = oneArg(d, &sc.URL)
		case "method":
			err = oneArg(d, &sc.Method)
		case "body":
			err = oneArg(d, &sc.Body)
		case "header":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return nil, d.ArgErr()
			}
			if sc.Headers == nil {
				sc.Headers = map[string]string{}
			}
			sc.Headers[args[0]] = args[1]
		default:
			return nil, d.Errf("unknown %s %s subdirective %q", channel, sc.Kind, d.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	return sc, nil
}

// field is a subdirective taking one string argument.
type field struct {
	name string
	dst  *string
}

// stringBlock parses a block whose subdirectives each take one string argument.
func stringBlock(d *caddyfile.Dispenser, block string, fields []field) error {
	for nest := d.Nesting(); d.NextBlock(nest); {
		var dst *string
		names := make([]string, len(fields))
		for i, f := range fields {
			names[i] = f.name
			if f.name == d.Val() {
				dst = f.dst
			}
		}
		if dst == nil {
			return d.Errf("unknown %s subdirective %q (known: %s)", block, d.Val(), strings.Join(names, ", "))
		}
		if err := oneArg(d, dst); err != nil {
			return err
		}
	}
	return nil
}
