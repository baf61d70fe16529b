package e2e

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/idgate/idgate/examples/demo/sandbox"
	"github.com/idgate/idgate/providers/naver/navertest"
)

func runCaddyfile(cf string) error { return sandbox.RunCaddyfile(cf) }

func navertestKnobs() navertest.Knobs { return navertest.Knobs{} }

func stopCaddy() { caddy.Stop() }
