package caddymodule

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(adminAPI{})
}

// adminAPI adds idgate routes to Caddy's admin API:
//
//	POST /idgate/rotate-keys   rotate session and signing keys now
//
// Other instances sharing the storage pick the new keys up within key_refresh.
type adminAPI struct{}

// CaddyModule returns the Caddy module information.
func (adminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "admin.api.idgate", New: func() caddy.Module { return new(adminAPI) }}
}

// Routes returns the admin routes.
func (adminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/idgate/rotate-keys", Handler: caddy.AdminHandlerFunc(rotateKeys)}}
}

func rotateKeys(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method not allowed")}
	}
	v, err := caddy.ActiveContext().AppIfConfigured("idgate")
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("idgate is not configured: %w", err)}
	}
	a := v.(*App)
	if err := a.RefreshKeys(true); err != nil {
		return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: err}
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(map[string]any{"rotated": true, "signing_kid": a.gate.CurrentIssuer().KID()})
}

var _ caddy.AdminRouter = adminAPI{}
