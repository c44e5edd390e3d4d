package agent

import (
	"context"
	"fmt"

	"github.com/peerdesk/peerdesk/agent/assist"
	"github.com/peerdesk/peerdesk/agent/diag"
	"github.com/peerdesk/peerdesk/agent/outbox"
	"github.com/peerdesk/peerdesk/agent/remedy"
	"github.com/peerdesk/peerdesk/agent/shot"
	"github.com/peerdesk/peerdesk/wire"
)

// newAssistant makes the end user's help desk assistant (T1–T4): it talks
// to the coordinator with the device's credentials, runs diagnostics and
// approved fixes here (clear_temp empties Config.TempDir), keeps the
// conversation in the state directory, audits on the agent's trail and
// queues what it cannot send on q (kind assist.QueueKind). Nil if it
// cannot start (the page then offers no chat).
func (a *Agent) newAssistant(q assist.Queue) *assist.Assistant {
	as, err := assist.New(assist.Config{
		Coordinator: a.coord, DeviceID: a.st.DeviceID, Dir: a.cfg.StateDir,
		Diag: diag.Runner{}, Remedy: remedy.Env{TempDir: a.cfg.TempDir}, Queue: q,
		Audit: func(ev wire.AuditEvent) {
			if err := a.audit.Record(ev); err != nil {
				a.log.Error("recording the assistant's audit event", "action", ev.Action, "err", err)
			}
		},
		Now: a.cfg.Now, Logger: a.log.With("component", "assist"),
	})
	if err != nil {
		a.log.Error("the help desk assistant could not start", "err", err)
		return nil
	}
	return as
}

// sender drains the outbox: tickets to the screenshot service, chat
// messages sent while offline to the assistant (either may be nil).
func sender(tickets *shot.Service, as *assist.Assistant) func(context.Context, outbox.Item) error {
	return func(ctx context.Context, it outbox.Item) error {
		switch {
		case it.Kind == shot.Kind && tickets != nil:
			return tickets.Send(ctx, it)
		case it.Kind == assist.QueueKind && as != nil:
			return as.Deliver(ctx, it.Payload)
		}
		return outbox.Permanent(fmt.Errorf("agent: an outbox item of kind %q", it.Kind))
	}
}

// Assistant is the end user's help desk assistant, once Run has started
// (nil if it could not start).
func (a *Agent) Assistant() *assist.Assistant {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.assistant
}
