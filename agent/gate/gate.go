// Package gate is the agent's door: every peer call passes both locks of
// I3 before any capability handler runs.
//
//  1. The caller's overlay identity, from WhoIs on the connection's remote
//     address: it must be a technician node of this overlay.
//  2. A session grant in the request, signed by the coordinator, unexpired,
//     for this device, naming that very node and the capability the handler
//     declares.
//
// Merely being on the overlay gets a caller nothing. Every answer and every
// refusal is written to the agent's audit trail before the response goes
// out; refusals carry a clear, stable error.
package gate

import (
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/peerdesk/peerdesk/grant"
	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/wire"
)

// Identifier tells who is at the other end of an overlay connection.
type Identifier interface {
	WhoIs(ctx context.Context, remoteAddr string) (node.Identity, error)
}

// Recorder keeps audit records.
type Recorder interface {
	Record(ev wire.AuditEvent) error
}

// Caller is a verified caller, handed to capability handlers.
type Caller struct {
	Technician string
	Node       node.Identity
	Grant      grant.Grant
}

// Handler is a capability: it declares what a caller must hold and serves
// verified callers.
type Handler interface {
	Capability() wire.Capability
	ServePeer(w http.ResponseWriter, r *http.Request, c Caller)
}

// Gate checks both locks.
type Gate struct {
	Device   string            // this agent's device id
	GrantKey ed25519.PublicKey // the coordinator's grant-signing key
	WhoIs    Identifier
	Audit    Recorder
	Now      func() time.Time
	Logger   *slog.Logger
	// Revoked, if set, says whether the coordinator has revoked a grant
	// of technician for nodeKey issued at issued (the agent's deny list,
	// package revoke): such a grant passes no call.
	Revoked func(technician, nodeKey string, issued time.Time) bool
}

// Handle wraps h so it only ever sees callers that passed both locks.
func (g *Gate) Handle(h Handler) http.Handler {
	capability := h.Capability()
	action := "peer." + string(capability)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev := wire.AuditEvent{Action: action, Target: g.Device, Fields: map[string]string{"remote": r.RemoteAddr}}
		id, err := g.WhoIs.WhoIs(r.Context(), r.RemoteAddr)
		if err != nil {
			g.refuse(w, http.StatusForbidden, wire.CodeForbidden, "the caller is not a node of this overlay", ev)
			return
		}
		ev.Actor = "node:" + id.Name
		ev.Fields["node_key"] = id.NodeKey
		if !id.HasTag(wire.TagTech) {
			g.refuse(w, http.StatusForbidden, wire.CodeForbidden, "the caller is not a technician node", ev)
			return
		}
		token := r.Header.Get(wire.HeaderGrant)
		if token == "" {
			g.refuse(w, http.StatusUnauthorized, wire.CodeUnauthorized, "no session grant: ask the coordinator for one", ev)
			return
		}
		gr, err := grant.Verify(g.GrantKey, token, g.now())
		if err != nil {
			status, code, msg := http.StatusUnauthorized, wire.CodeUnauthorized, "the session grant is not valid"
			if errors.Is(err, grant.ErrExpired) {
				code, msg = wire.CodeExpired, "the session grant has expired"
			}
			ev.Reason = err.Error()
			g.refuse(w, status, code, msg, ev)
			return
		}
		ev.Actor = gr.Technician
		ev.Fields["grant"] = gr.ID
		if err := gr.Check(g.Device, id.NodeKey, capability); err != nil {
			msg := "the session grant does not allow this"
			switch {
			case errors.Is(err, grant.ErrWrongDevice):
				msg = "the session grant is for another device"
			case errors.Is(err, grant.ErrWrongNode):
				msg = "the session grant was issued to another node"
			case errors.Is(err, grant.ErrCapability):
				msg = "the session grant does not include " + string(capability)
			}
			ev.Reason = err.Error()
			g.refuse(w, http.StatusForbidden, wire.CodeForbidden, msg, ev)
			return
		}
		if g.Revoked != nil && g.Revoked(gr.Technician, gr.NodeKey, time.Unix(gr.IssuedAt, 0)) {
			ev.Reason = "revoked"
			g.refuse(w, http.StatusForbidden, wire.CodeForbidden, "the technician's access was revoked", ev)
			return
		}
		ev.Outcome = "ok"
		if err := g.Audit.Record(ev); err != nil {
			// An action that cannot be audited is not taken.
			g.logger().Error("audit record failed", "err", err)
			WriteError(w, http.StatusServiceUnavailable, wire.CodeInternal, "the agent cannot write its audit trail")
			return
		}
		h.ServePeer(w, r, Caller{Technician: gr.Technician, Node: id, Grant: gr})
	})
}

func (g *Gate) refuse(w http.ResponseWriter, status int, code, msg string, ev wire.AuditEvent) {
	ev.Outcome = "denied"
	if ev.Reason == "" {
		ev.Reason = msg
	}
	if err := g.Audit.Record(ev); err != nil {
		g.logger().Error("audit record failed", "err", err)
	}
	WriteError(w, status, code, msg)
}

func (g *Gate) now() time.Time {
	if g.Now == nil {
		return time.Now()
	}
	return g.Now()
}

func (g *Gate) logger() *slog.Logger {
	if g.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return g.Logger
}
