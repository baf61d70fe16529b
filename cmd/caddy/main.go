// Command caddy is Caddy with its standard modules and idgate, what
// `xcaddy build --with github.com/idgate/idgate/caddymodule` would build.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/idgate/idgate/caddymodule"
)

func main() {
	caddycmd.Main()
}
