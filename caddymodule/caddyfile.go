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
//			timeout <duration>
//		}
//		records_dir <dir>
//		bind_ci
//		key_rotation <duration>
//		key_refresh <duration>
//		login_rate <n>|off          # logins started per client address per 10 minutes
//		login_limit <n>|off         # logins started per 10 minutes from all addresses (default 10000)
//		provider_timeout <duration>
//		noncanonical_paths refuse|rewrite   # default refuse (400 path_not_canonical)
//		strict_policies                     # policy lint warnings fail validation too
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
			err := block(d, "naver", str(d, "client_id", &n.ClientID), str(d, "client_secret", &n.ClientSecret),
				str(d, "authorize_url", &n.AuthorizeURL), str(d, "token_url", &n.TokenURL), str(d, "profile_url", &n.ProfileURL),
				sub{"oidc", func() error {
					n.OIDC = true
					if d.NextArg() {
						n.Issuer = d.Val()
					}
					if d.NextArg() {
						return d.ArgErr()
					}
					return nil
				}})
			if err != nil {
				return nil, err
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
			err := block(d, "oidc", str(d, "issuer", &o.Issuer), str(d, "client_id", &o.ClientID), str(d, "client_secret", &o.ClientSecret),
				sub{"scopes", func() error {
					if o.Scopes = d.RemainingArgs(); len(o.Scopes) == 0 {
						return d.ArgErr()
					}
					return nil
				}}, str(d, "label", &o.Label))
			if err != nil {
				return nil, err
			}
			if o.Issuer == "" || o.ClientID == "" {
				return nil, d.Errf("oidc %s needs issuer and client_id", o.Name)
			}
			app.OIDC = append(app.OIDC, o)
		case "session":
			s := &SessionConfig{}
			err := block(d, "session", dur(d, "idle_timeout", &s.IdleTimeout), dur(d, "lifetime", &s.Lifetime),
				sub{"key", func() error {
					var k string
					err := oneArg(d, &k)
					s.Keys = append(s.Keys, k)
					return err
				}})
			if err != nil {
				return nil, err
			}
			app.Session = s
		case "assertion":
			ac := &AssertionConfig{}
			err := block(d, "assertion", str(d, "issuer", &ac.Issuer), str(d, "audience", &ac.Audience), dur(d, "ttl", &ac.TTL),
				sub{"algorithm", func() error {
					if err := oneArg(d, &ac.Algorithm); err != nil {
						return err
					}
					if ac.Algorithm != "ES256" && ac.Algorithm != "EdDSA" {
						return d.Errf("algorithm must be ES256 or EdDSA, not %q", ac.Algorithm)
					}
					return nil
				}},
				sub{"signing_key_file", func() error {
					var f string
					err := oneArg(d, &f)
					ac.SigningKeyFiles = append(ac.SigningKeyFiles, f)
					return err
				}})
			if err != nil {
				return nil, err
			}
			app.Assertion = ac
		case "portone":
			if app.PortOne != nil {
				return nil, d.Err("portone is configured twice")
			}
			c := &PortOneConfig{}
			if err := block(d, "portone", str(d, "store_id", &c.StoreID), str(d, "channel_key", &c.ChannelKey),
				str(d, "api_secret", &c.APISecret), str(d, "api_base", &c.APIBase), str(d, "sdk_url", &c.SDKURL)); err != nil {
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
			if err := block(d, "stripe_identity", str(d, "secret_key", &c.SecretKey), str(d, "api_base", &c.APIBase),
				str(d, "webhook_secret", &c.WebhookSecret)); err != nil {
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
			sender := func(channel string, dst **SenderConfig) sub {
				return sub{channel, func() error {
					sc, err := parseSender(d, channel)
					*dst = sc
					return err
				}}
			}
			err := block(d, "mfa", str(d, "issuer", &m.Issuer), sender("email", &m.Email), sender("sms", &m.SMS),
				sub{"recaptcha", func() error {
					rc := &RecaptchaConfig{}
					if err := block(d, "recaptcha", str(d, "project_id", &rc.ProjectID), str(d, "api_key", &rc.APIKey),
						str(d, "site_key", &rc.SiteKey), str(d, "api_base", &rc.APIBase), str(d, "script_url", &rc.ScriptURL)); err != nil {
						return err
					}
					if rc.ProjectID == "" || rc.APIKey == "" || rc.SiteKey == "" {
						return d.Err("recaptcha needs project_id, api_key and site_key")
					}
					m.Recaptcha = rc
					return nil
				}},
				sub{"insecure_demo_senders", func() error { m.InsecureDemoSenders = true; return nil }},
				sub{"max_failures", func() error {
					var v string
					if err := oneArg(d, &v); err != nil {
						return err
					}
					n, err := strconv.Atoi(v)
					if err != nil || n < 1 || n > 100 {
						return d.Errf("max_failures must be a whole number from 1 to 100")
					}
					m.MaxFailures = n
					return nil
				}},
				dur(d, "lockout", &m.Lockout))
			if err != nil {
				return nil, err
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
			err := block(d, "store redis", str(d, "url", &sc.URL), str(d, "address", &sc.Address), str(d, "username", &sc.Username),
				str(d, "password", &sc.Password),
				sub{"db", func() error {
					var v string
					if err := oneArg(d, &v); err != nil {
						return err
					}
					n, err := strconv.Atoi(v)
					if err != nil || n < 0 {
						return d.Errf("db must be a whole number")
					}
					sc.DB = n
					return nil
				}},
				sub{"tls", func() error { sc.TLS = true; return nil }},
				str(d, "prefix", &sc.Prefix), dur(d, "revocation_poll", &sc.RevocationPoll), dur(d, "timeout", &sc.Timeout))
			if err != nil {
				return nil, err
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
		case "login_limit":
			var v string
			if err := oneArg(d, &v); err != nil {
				return nil, err
			}
			if v == "off" {
				app.LoginLimit = -1
			} else if n, err := strconv.Atoi(v); err != nil || n < 1 {
				return nil, d.Errf("login_limit must be a positive number of logins per 10 minutes, or off")
			} else {
				app.LoginLimit = n
			}
		case "key_refresh":
			if err := durationArg(d, &app.KeyRefresh); err != nil {
				return nil, err
			}
		case "provider_timeout":
			if err := durationArg(d, &app.ProviderTimeout); err != nil {
				return nil, err
			}
		case "strict_policies":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			app.StrictPolicies = true
		case "noncanonical_paths":
			if err := oneArg(d, &app.NonCanonicalPaths); err != nil {
				return nil, err
			}
			if app.NonCanonicalPaths != "refuse" && app.NonCanonicalPaths != "rewrite" {
				return nil, d.Errf("noncanonical_paths must be refuse or rewrite")
			}
		default:
			return nil, d.Errf("unknown idgate subdirective %q (known: policies, naver, oidc, portone, stripe_identity, mfa, store, records_dir, bind_ci, session, assertion, key_rotation, key_refresh, login_rate, login_limit, provider_timeout, noncanonical_paths, strict_policies)", d.Val())
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
	err := block(d, channel+" "+sc.Kind, str(d, "address", &sc.Address), str(d, "username", &sc.Username), str(d, "password", &sc.Password),
		str(d, "from", &sc.From), str(d, "url", &sc.URL), str(d, "method", &sc.Method), str(d, "body", &sc.Body),
		sub{"header", func() error {
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.ArgErr()
			}
			if sc.Headers == nil {
				sc.Headers = map[string]string{}
			}
			sc.Headers[args[0]] = args[1]
			return nil
		}})
	if err != nil {
		return nil, err
	}
	return sc, nil
}

// sub is one subdirective of a block and how to parse its arguments.
type sub struct {
	name  string
	parse func() error
}

// str is a subdirective taking one string argument.
func str(d *caddyfile.Dispenser, name string, dst *string) sub {
	return sub{name, func() error { return oneArg(d, dst) }}
}

// dur is a subdirective taking one positive duration.
func dur(d *caddyfile.Dispenser, name string, dst *caddy.Duration) sub {
	return sub{name, func() error { return durationArg(d, dst) }}
}

// block parses the subdirectives of a block; an unknown one is an error that lists the known.
func block(d *caddyfile.Dispenser, name string, subs ...sub) error {
	for nest := d.Nesting(); d.NextBlock(nest); {
		var found *sub
		names := make([]string, len(subs))
		for i := range subs {
			names[i] = subs[i].name
			if subs[i].name == d.Val() {
				found = &subs[i]
			}
		}
		if found == nil {
			return d.Errf("unknown %s subdirective %q (known: %s)", name, d.Val(), strings.Join(names, ", "))
		}
		if err := found.parse(); err != nil {
			return err
		}
	}
	return nil
}
