package caddymodule

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestHandoverTakesNoArguments(t *testing.T) {
	var h Handover
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("idgate_handover")); err != nil {
		t.Fatalf("bare idgate_handover: %v", err)
	}
	for _, in := range []string{"idgate_handover now", "idgate_handover {\n\tgrace 5s\n}"} {
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in))
		if err == nil || !strings.Contains(err.Error(), "takes no arguments") {
			t.Errorf("%q: %v, want a clear error", in, err)
		}
	}
}
