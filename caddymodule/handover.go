package caddymodule

import (
	"net"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/idgate/idgate/internal/handover"
)

func init() {
	caddy.RegisterModule(Handover{})
}

// Handover is the listener wrapper `caddy.listeners.idgate_handover`: during a reload it hands
// connections that reach the old server to the new one, so a reload drops no request (see
// internal/handover). List it before `tls`:
//
//	servers {
//		listener_wrappers {
//			idgate_handover
//			tls
//		}
//	}
type Handover struct{}

// CaddyModule returns the Caddy module information.
func (Handover) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "caddy.listeners.idgate_handover", New: func() caddy.Module { return new(Handover) }}
}

// WrapListener makes ln the current listener of its address.
func (Handover) WrapListener(ln net.Listener) net.Listener { return handover.Wrap(ln) }

// UnmarshalCaddyfile takes no arguments.
func (*Handover) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	if d.NextArg() || d.NextBlock(0) {
		return d.Errf("idgate_handover takes no arguments")
	}
	return nil
}

// Interface guards
var (
	_ caddy.ListenerWrapper = Handover{}
	_ caddyfile.Unmarshaler = (*Handover)(nil)
)
