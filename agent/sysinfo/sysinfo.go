// Package sysinfo is the agent capability that answers system information:
// the same inventory the agent reports to the coordinator, read fresh.
package sysinfo

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/wire"
)

// Collector reads the inventory.
type Collector interface {
	Collect(ctx context.Context) (wire.Inventory, error)
}

// Handler serves wire.PeerPathSysInfo.
type Handler struct {
	Collector Collector
}

// Capability is what a caller's grant must include.
func (Handler) Capability() wire.Capability { return wire.CapSysInfo }

// ServePeer answers with the machine's inventory.
func (h Handler) ServePeer(w http.ResponseWriter, r *http.Request, _ gate.Caller) {
	inv, err := h.Collector.Collect(r.Context())
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(wire.Error{Code: wire.CodeInternal, Message: "reading system information failed"}) //nolint:errcheck
		return
	}
	json.NewEncoder(w).Encode(inv) //nolint:errcheck // client gone
}
