package e2e

import "github.com/idgate/idgate/examples/demo/sandbox"

func runCaddyfile(cf string) error { return sandbox.RunCaddyfile(cf) }
