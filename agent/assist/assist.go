// Package assist is the end user's chat with the help desk assistant on
// the agent (T1–T4). The agent talks only to the coordinator (device
// credentials); the coordinator talks to the model. An Assistant sends the
// user's message, streams the answer's events to the page as they arrive,
// runs each diagnostic the coordinator relays (package diag, which
// re-checks the whitelist) and sends its output back, and keeps each
// remediation the model proposes as a plan built from its name (package
// remedy) until the user approves or declines it (Decline closes it on the
// agent and at the coordinator); Approve re-checks the whitelist on
// the agent, asks the coordinator to re-check the company's, runs the
// plan and reports the outcome. Every diagnostic and remediation is
// audited (Config.Audit: the agent's audit trail, which is forwarded).
//
// The conversation is kept in the agent's state directory (bounded to
// MaxLines). When the coordinator or the model is unreachable the user
// gets a friendly answer with the shop's contacts and the message is put
// on the durable queue (Config.Queue, agent/outbox), whose drain calls
// Deliver when the link returns.
package assist

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/peerdesk/peerdesk/agent/diag"
	"github.com/peerdesk/peerdesk/agent/remedy"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// Coordinator is the coordinator's assistant API (coordclient.Client with
// the device's credentials).
type Coordinator interface {
	AssistChat(ctx context.Context, req wire.AssistRequest, on func(wire.AssistEvent) error) error
	AssistRemedy(ctx context.Context, r wire.AssistRemedy) (wire.AssistRemedyAnswer, error)
}

// Queue is the agent's durable ordered queue with dedupe by id
// (agent/outbox's Put).
type Queue interface {
	Put(kind, id string, payload []byte) error
}

// QueueKind is the kind of the queued chat messages.
const QueueKind = "assist"

// Config configures an Assistant.
type Config struct {
	Coordinator Coordinator // required
	DeviceID    string
	// Dir is where the conversation is kept (the agent's state directory).
	Dir    string
	Diag   diag.Runner
	Remedy remedy.Env
	// Run runs remediation commands (nil: remedy.ExecRunner).
	Run   remedy.Runner
	Queue Queue // nil: messages sent while offline are not queued
	// Audit records an event on the agent's audit trail (forwarded to the
	// coordinator); required.
	Audit  func(wire.AuditEvent)
	Now    func() time.Time
	Logger *slog.Logger
}

// Event is what the page is told, one per line of its stream.
type Event struct {
	Type     string `json:"type"` // a wire.Assist* type, or "ran" (a remediation's outcome), "error"
	Text     string `json:"text,omitempty"`
	ID       string `json:"id,omitempty"` // a proposal's id: Approve names it
	Tool     string `json:"tool,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Command  string `json:"command,omitempty"` // exactly what Approve runs
	Contacts string `json:"contacts,omitempty"`
}

// MaxLines bounds the conversation kept on the agent.
const MaxLines = wire.MaxTicketChat

const maxSteps = wire.MaxAssistSteps + 1

// Assistant is one device's chat. Its methods are safe for concurrent use.
type Assistant struct {
	cfg  Config
	name string

	mu        sync.Mutex
	lines     []wire.ChatLine
	proposals map[string]remedy.Plan
	contacts  string // the shop's, as last told
	turn      sync.Mutex
}

// New returns the device's assistant, with the conversation kept in
// cfg.Dir.
func New(cfg Config) (*Assistant, error) {
	if cfg.Coordinator == nil || cfg.Audit == nil {
		return nil, errors.New("assist.New: a coordinator and an audit trail are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Assistant{cfg: cfg, name: wire.AssistPersona(cfg.DeviceID), proposals: map[string]remedy.Plan{}}
	if cfg.Dir != "" {
		b, err := os.ReadFile(a.file())
		switch {
		case err == nil:
			if err := json.Unmarshal(b, &a.lines); err != nil {
				cfg.Logger.Warn("assist: the kept conversation is unreadable; starting anew", "err", err)
				a.lines = nil
			}
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("assist.New: %w", err)
		}
	}
	return a, nil
}

// Name is the assistant's name on this device (one of a pool of 20, the
// same every time).
func (a *Assistant) Name() string { return a.name }

// History returns the conversation as kept (for the page and tickets).
func (a *Assistant) History() []wire.ChatLine {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]wire.ChatLine(nil), a.lines...)
}

func (a *Assistant) file() string { return filepath.Join(a.cfg.Dir, "assist-chat.json") }

func (a *Assistant) add(role, text string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lines = append(a.lines, wire.ChatLine{Role: role, Text: policy.CapString(text, wire.MaxTicketText), Time: a.cfg.Now().UTC()})
	if n := len(a.lines) - MaxLines; n > 0 {
		a.lines = a.lines[n:]
	}
	if a.cfg.Dir == "" {
		return
	}
	b, err := json.Marshal(a.lines)
	if err == nil {
		tmp := a.file() + ".tmp"
		if err = os.WriteFile(tmp, b, 0o600); err == nil {
			err = os.Rename(tmp, a.file())
		}
	}
	if err != nil {
		a.cfg.Logger.Warn("assist: keeping the conversation", "err", err)
	}
}

// Offline is the friendly answer when the help desk cannot be reached.
const Offline = "I can't reach the help desk right now. Your message is saved and will be sent as soon as the connection is back."

type queued struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// Send sends the user's text and streams the answer's events to emit. A
// message that cannot be answered now is queued (the user is told, with
// the shop's contacts); Send returns an error only for a message it could
// neither send nor queue.
func (a *Assistant) Send(ctx context.Context, text string, emit func(Event)) error {
	text = strings.TrimSpace(text)
	if text == "" || len(text) > wire.MaxAssistText {
		return fmt.Errorf("assist: a message is 1 to %d bytes", wire.MaxAssistText)
	}
	a.add("user", text)
	return a.send(ctx, newID(), text, emit, true)
}

// Deliver sends a queued message again (the queue's drain calls it when
// the link returns); the answer is kept in the conversation. An error
// leaves it queued.
func (a *Assistant) Deliver(ctx context.Context, payload []byte) error {
	var q queued
	if err := json.Unmarshal(payload, &q); err != nil {
		return nil // not ours to retry: drop
	}
	return a.send(ctx, q.ID, q.Text, func(Event) {}, false)
}

func (a *Assistant) send(ctx context.Context, id, text string, emit func(Event), queue bool) error {
	a.turn.Lock()
	defer a.turn.Unlock()
	req := wire.AssistRequest{ID: id, Text: text}
	var answer strings.Builder
	for step := 0; step < maxSteps; step++ {
		var next *wire.AssistEvent
		final := ""
		err := a.cfg.Coordinator.AssistChat(ctx, req, func(ev wire.AssistEvent) error {
			switch ev.Type {
			case wire.AssistToken:
				answer.WriteString(ev.Text)
				emit(Event{Type: ev.Type, Text: ev.Text})
			case wire.AssistProposal:
				emit(a.propose(ev))
			case wire.AssistRefused:
				emit(Event{Type: ev.Type, Tool: ev.Tool, Reason: ev.Reason})
			case wire.AssistDiagnostic:
				e := ev
				next = &e
			case wire.AssistUnavailable, wire.AssistOff:
				a.mu.Lock()
				a.contacts = ev.Contacts
				a.mu.Unlock()
				final = ev.Type
				emit(Event{Type: ev.Type, Text: ev.Text, Contacts: ev.Contacts})
			}
			return nil
		})
		if err != nil && ctx.Err() == nil {
			// The coordinator is unreachable (or refused): answer kindly.
			a.cfg.Logger.Info("assist: the help desk is unreachable", "err", err)
			final = wire.AssistUnavailable
			a.mu.Lock()
			contacts := a.contacts
			a.mu.Unlock()
			emit(Event{Type: wire.AssistUnavailable, Text: Offline, Contacts: contacts})
		} else if err != nil {
			return err
		}
		if final == wire.AssistUnavailable {
			if !queue {
				return errors.New("assist: the help desk is still unavailable")
			}
			if a.cfg.Queue == nil {
				return nil
			}
			b, _ := json.Marshal(queued{ID: id, Text: text}) // a struct of strings always encodes
			if err := a.cfg.Queue.Put(QueueKind, id, b); err != nil {
				return fmt.Errorf("assist: queueing the message: %w", err)
			}
			return nil
		}
		if final == wire.AssistOff {
			return nil
		}
		if next == nil {
			if answer.Len() > 0 {
				a.add("assistant", answer.String())
			}
			emit(Event{Type: wire.AssistDone})
			return nil
		}
		emit(Event{Type: wire.AssistDiagnostic, Tool: next.Tool, Text: "Checking " + next.Tool + "…"})
		req = wire.AssistRequest{ID: newID(), Result: a.runDiag(ctx, *next)}
	}
	emit(Event{Type: wire.AssistDone})
	return nil
}

// runDiag runs a relayed diagnostic (diag re-checks the whitelist) and
// audits it.
func (a *Assistant) runDiag(ctx context.Context, ev wire.AssistEvent) *wire.AssistResult {
	out, err := a.cfg.Diag.Run(ctx, ev.Tool, ev.Args)
	res := &wire.AssistResult{Call: ev.Call, Tool: ev.Tool, Output: out}
	outcome, reason := "ok", ""
	if err != nil {
		res.Error = err.Error()
		outcome, reason = "denied", err.Error()
		if !errors.Is(err, policy.ErrToolRefused) {
			outcome = "failed"
		}
	}
	args, _ := json.Marshal(ev.Args) // decoded from JSON: encodes
	a.cfg.Audit(wire.AuditEvent{Time: a.cfg.Now().UTC(), Actor: "assistant", Action: "assist.diagnostic", Target: policy.CapString(ev.Tool, wire.MaxNameLen),
		Outcome: outcome, Reason: policy.CapString(reason, 256), Fields: map[string]string{"args": policy.CapString(string(args), 256), "bytes": fmt.Sprint(len(out))}})
	if err == nil {
		a.add("tool", ev.Tool+": "+out)
	}
	return res
}

// propose keeps a proposal as the plan built from its name, for Approve.
func (a *Assistant) propose(ev wire.AssistEvent) Event {
	plan, err := a.cfg.Remedy.Plan(ev.Tool)
	if err != nil {
		a.cfg.Audit(wire.AuditEvent{Time: a.cfg.Now().UTC(), Actor: "assistant", Action: "assist.propose", Target: policy.CapString(ev.Tool, wire.MaxNameLen), Outcome: "denied", Reason: policy.CapString(err.Error(), 256)})
		return Event{Type: wire.AssistRefused, Tool: ev.Tool, Reason: "this computer cannot run it: " + err.Error()}
	}
	id := newID()
	a.mu.Lock()
	a.proposals[id] = plan
	a.mu.Unlock()
	return Event{Type: wire.AssistProposal, ID: id, Tool: ev.Tool, Reason: ev.Reason, Command: plan.Show()}
}

// ErrNoProposal is returned by Approve for an id that names no open
// proposal (already run, or never made).
var ErrNoProposal = errors.New("assist: no such proposal")

// Approve runs the proposal id, which the user approved on the page: the
// plan built from the remediation's name, once the agent's whitelist and
// the coordinator (the company's whitelist) allow it. It returns the
// outcome in words for the page; everything is audited.
func (a *Assistant) Approve(ctx context.Context, id string) (string, error) {
	a.mu.Lock()
	plan, ok := a.proposals[id]
	delete(a.proposals, id) // once
	a.mu.Unlock()
	if !ok {
		return "", ErrNoProposal
	}
	audit := func(outcome, reason string) {
		a.cfg.Audit(wire.AuditEvent{Time: a.cfg.Now().UTC(), Actor: "user", Action: "assist.remedy", Target: plan.Name, Outcome: outcome,
			Reason: policy.CapString(reason, 256), Fields: map[string]string{"command": policy.CapString(plan.Show(), 512)}})
	}
	if err := (policy.Whitelist{}).CheckRemediation(plan.Name); err != nil {
		audit("denied", err.Error())
		return "", err
	}
	ans, err := a.cfg.Coordinator.AssistRemedy(ctx, wire.AssistRemedy{ID: id, Phase: wire.RemedyCheck, Tool: plan.Name, Command: plan.Show()})
	if err != nil {
		audit("denied", "the help desk could not confirm it: "+err.Error())
		return "", fmt.Errorf("assist: the help desk could not confirm the fix: %w", err)
	}
	if !ans.Allowed {
		audit("denied", "the help desk refused: "+ans.Reason)
		return "", fmt.Errorf("assist: the help desk refused the fix: %s", ans.Reason)
	}
	out, runErr := remedy.Run(ctx, plan, a.cfg.Run)
	r := wire.AssistRemedy{ID: id, Phase: wire.RemedyDone, Tool: plan.Name, Command: plan.Show(), Output: out}
	if runErr != nil {
		r.Error = runErr.Error()
		audit("failed", runErr.Error())
	} else {
		audit("ok", "")
	}
	if _, err := a.cfg.Coordinator.AssistRemedy(ctx, r); err != nil {
		a.cfg.Logger.Info("assist: reporting a fix's outcome", "err", err)
	}
	if runErr != nil {
		a.add("tool", plan.Name+" failed: "+runErr.Error())
		return "", runErr
	}
	a.add("tool", plan.Name+": "+out)
	return out, nil
}

// Decline closes the proposal id, which the user declined on the page: it
// can no longer be approved, the decline is audited, and the coordinator
// is told so that it closes the proposal too (its re-check refuses it from
// then on, and the model sees the user said no). It returns ErrNoProposal
// for an id that names no open proposal. Not reaching the coordinator does
// not reopen it: the agent's side is closed at once, and the coordinator
// refuses nothing it would not also refuse the agent's own check of.
func (a *Assistant) Decline(ctx context.Context, id string) error {
	a.mu.Lock()
	plan, ok := a.proposals[id]
	delete(a.proposals, id)
	a.mu.Unlock()
	if !ok {
		return ErrNoProposal
	}
	a.cfg.Audit(wire.AuditEvent{Time: a.cfg.Now().UTC(), Actor: "user", Action: "assist.remedy", Target: plan.Name, Outcome: "declined",
		Reason: "the user declined it", Fields: map[string]string{"command": policy.CapString(plan.Show(), 512)}})
	a.add("tool", plan.Name+": declined, nothing ran")
	if _, err := a.cfg.Coordinator.AssistRemedy(ctx, wire.AssistRemedy{ID: id, Phase: wire.RemedyDeclined, Tool: plan.Name, Command: plan.Show()}); err != nil {
		a.cfg.Logger.Info("assist: telling the help desk of a declined fix", "err", err)
		return fmt.Errorf("assist: the fix is declined here, but the help desk could not be told: %w", err)
	}
	return nil
}

func newID() string {
	b := make([]byte, 16)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail on supported systems
	return hex.EncodeToString(b)
}
