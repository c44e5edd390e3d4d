// Package assist is the coordinator's side of the help desk assistant
// (T1–T4): it relays an end user's chat, from the agent (device
// credentials) to the shop's Ollama (package triage) and back, token by
// token; it relays each whitelisted diagnostic the model calls to the
// agent and feeds the output back, fenced as data; it passes on the
// remediations the model proposes and re-checks the company's whitelist
// before the agent runs one the user approved; and it keeps each device's
// conversation (bounded) in the store, so a ticket opened from the chat
// carries it (Conversation). The shop's settings (model, prompt additions,
// whitelist, contacts, on/off per company) are kept by Settings.
//
// # The loop
//
// One turn is one call of Turn: a user's message, or the output of the
// diagnostic the previous call asked for. Turn streams wire.AssistEvent
// values to emit: tokens as the model generates them, a proposal or a
// refusal per tool call, and exactly one final event — done, a diagnostic
// step (the agent runs it and calls again with the Result), unavailable
// (the model is down: a friendly answer with the shop's contacts; the
// message is kept and answered when the agent sends it again) or off.
// A turn runs at most wire.MaxAssistSteps diagnostics.
//
// Every model call has a deadline (Config.Timeout); every diagnostic
// asked for, every refusal, every proposal and every remediation check
// and outcome is audited.
package assist

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/store"
	"github.com/peerdesk/peerdesk/coordinator/triage"
	"github.com/peerdesk/peerdesk/policy"
	"github.com/peerdesk/peerdesk/wire"
)

// Config configures the service.
type Config struct {
	// OllamaURL is the shop's Ollama server; "" leaves the assistant
	// unavailable (users get the contacts).
	OllamaURL string
	// Model is the model's name unless the settings name one.
	Model string
	// Timeout bounds each model call (triage.DefaultTimeout if 0).
	Timeout  time.Duration
	Settings *Settings // required
	DB       store.DB  // required: the conversations
	// Audit records an event (the coordinator's audit trail); required.
	Audit  func(wire.AuditEvent)
	Now    func() time.Time
	Logger *slog.Logger
}

// Device is the caller: an enrolled device, where the coordinator files it.
type Device struct {
	ID      string
	Company string
}

// Limits of a kept conversation.
const (
	// MaxLines is how many lines a device's conversation keeps (the oldest
	// are dropped), as many as a ticket carries.
	MaxLines = wire.MaxTicketChat
	// modelLines is how many of the last lines the model sees.
	modelLines = 40
	maxSeen    = 64
)

const convNS = "assist-chat"

// Line is one kept line of a conversation.
type Line struct {
	ID    string            `json:"id,omitempty"` // the agent's message id (user lines)
	Role  triage.Role       `json:"role"`
	Text  string            `json:"text"`
	Tool  string            `json:"tool,omitempty"`
	Calls []policy.ToolCall `json:"calls,omitempty"`
	Time  time.Time         `json:"time"`
}

type pending struct {
	Call  string         `json:"call"`
	Tool  string         `json:"tool"`
	Args  map[string]any `json:"args"`
	Steps int            `json:"steps"` // diagnostics run in this turn so far
}

type conversation struct {
	Lines   []Line   `json:"lines"`
	Pending *pending `json:"pending,omitempty"`
}

// Service relays conversations. Its methods are safe for concurrent use;
// one device's turns run one at a time.
type Service struct {
	cfg Config

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// New returns the service.
func New(cfg Config) (*Service, error) {
	if cfg.Settings == nil || cfg.DB == nil || cfg.Audit == nil {
		return nil, errors.New("assist.New: settings, store and audit are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, locks: map[string]*sync.Mutex{}}, nil
}

func (s *Service) lock(device string) func() {
	s.mu.Lock()
	l, ok := s.locks[device]
	if !ok {
		l = &sync.Mutex{}
		s.locks[device] = l
	}
	s.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// ErrBadRequest is matched by errors of a request the agent should not
// have sent (no text, a result for no step, …); nothing was streamed.
var ErrBadRequest = errors.New("assist: bad request")

// Unavailable is the friendly answer when the model cannot answer now.
const Unavailable = "I can't reach the help desk's assistant right now. Your message is saved and will be answered as soon as it is back."

// Off is the answer when the shop turned the assistant off.
const Off = "The assistant is not available here. Please contact your IT support."

// Turn runs one turn of dev's conversation (see the package doc) and
// streams its events to emit. An error before the first event matches
// ErrBadRequest or is the store's; an error of emit (the agent went away)
// ends the turn.
func (s *Service) Turn(ctx context.Context, dev Device, req wire.AssistRequest, emit func(wire.AssistEvent) error) error {
	if (req.Text == "") == (req.Result == nil) {
		return fmt.Errorf("%w: a turn is a message or a diagnostic's result", ErrBadRequest)
	}
	if len(req.Text) > wire.MaxAssistText {
		return fmt.Errorf("%w: the message is longer than %d bytes", ErrBadRequest, wire.MaxAssistText)
	}
	set, err := s.cfg.Settings.Get()
	if err != nil {
		return err
	}
	co := set.For(dev.Company)
	if !co.Enabled {
		return emit(wire.AssistEvent{Type: wire.AssistOff, Text: Off, Contacts: co.Contacts})
	}
	defer s.lock(dev.ID)()
	conv, err := s.load(dev.ID)
	if err != nil {
		return err
	}
	now := s.cfg.Now().UTC()
	steps := 0
	if req.Text != "" {
		if !slices.ContainsFunc(conv.Lines, func(l Line) bool { return l.ID != "" && l.ID == req.ID }) {
			conv.Lines = append(conv.Lines, Line{ID: req.ID, Role: triage.User, Text: req.Text, Time: now})
		}
		conv.Pending = nil
	} else {
		p := conv.Pending
		r := req.Result
		if p == nil || r.Call != p.Call || r.Tool != p.Tool {
			return fmt.Errorf("%w: no diagnostic %q was asked for", ErrBadRequest, policy.CapString(r.Call, 64))
		}
		out := policy.CapString(r.Output, wire.MaxAssistOutput)
		if r.Error != "" {
			out = `{"error":` + quote(policy.CapString(r.Error, 512)) + `}`
		}
		s.audit(dev, "assist.diagnostic.result", p.Tool, "", map[string]string{"call": p.Call, "error": policy.CapString(r.Error, 256), "bytes": fmt.Sprint(len(r.Output))})
		conv.Lines = append(conv.Lines, Line{Role: triage.ToolRole, Tool: p.Tool, Text: out, Time: now})
		steps = p.Steps
		conv.Pending = nil
	}
	if err := s.save(dev.ID, conv); err != nil {
		return err
	}

	model := s.cfg.Model
	if set.Model != "" {
		model = set.Model
	}
	client, err := triage.New(triage.Config{URL: s.cfg.OllamaURL, Model: model, Timeout: s.cfg.Timeout, Whitelist: triage.Whitelist{Allow: co.Allow}})
	if err != nil {
		s.cfg.Logger.Warn("assist: no model", "err", err)
		return emit(wire.AssistEvent{Type: wire.AssistUnavailable, Text: Unavailable, Contacts: co.Contacts})
	}
	msgs, err := triage.BuildMessages(co.Prompt, toMessages(conv.Lines))
	if err != nil {
		return fmt.Errorf("assist: %w", err)
	}
	var emitErr error
	reply, err := client.Chat(ctx, triage.Request{Messages: msgs}, func(tok string) {
		if emitErr == nil {
			emitErr = emit(wire.AssistEvent{Type: wire.AssistToken, Text: tok})
		}
	})
	if emitErr != nil {
		return emitErr
	}
	if reply == nil {
		if errors.Is(err, triage.ErrUnavailable) {
			s.audit(dev, "assist.unavailable", "", err.Error(), nil)
		} else {
			s.cfg.Logger.Warn("assist: the model refused the request", "err", err)
			s.audit(dev, "assist.unavailable", "", policy.CapString(err.Error(), 256), nil)
		}
		return emit(wire.AssistEvent{Type: wire.AssistUnavailable, Text: Unavailable, Contacts: co.Contacts})
	}
	for _, r := range reply.Refused {
		s.audit(dev, "assist.refused", r.Name, r.Reason, map[string]string{"args": r.Args})
		if err := emit(wire.AssistEvent{Type: wire.AssistRefused, Tool: policy.CapString(r.Name, wire.MaxAssistTool), Reason: policy.CapString(r.Reason, wire.MaxAssistReason)}); err != nil {
			return err
		}
	}
	conv.Lines = append(conv.Lines, Line{Role: triage.Assistant, Text: reply.Text, Calls: reply.Calls, Time: now})
	var step *pending
	for _, c := range reply.Calls {
		switch c.Kind {
		case policy.Remediation:
			s.audit(dev, "assist.propose", c.Name, "", map[string]string{"reason": c.Reason})
			if err := emit(wire.AssistEvent{Type: wire.AssistProposal, Tool: c.Name, Reason: policy.CapString(c.Reason, wire.MaxAssistReason)}); err != nil {
				return err
			}
		case policy.Diagnostic:
			if step != nil {
				continue // one step at a time; the model asks again
			}
			if steps >= wire.MaxAssistSteps {
				s.audit(dev, "assist.refused", c.Name, "too many diagnostics in one turn", nil)
				continue
			}
			step = &pending{Call: newID(), Tool: c.Name, Args: c.Args, Steps: steps + 1}
		}
	}
	conv.Pending = step
	if err := s.save(dev.ID, conv); err != nil {
		return err
	}
	if step != nil {
		s.audit(dev, "assist.diagnostic", step.Tool, "", map[string]string{"call": step.Call, "args": jsonString(step.Args)})
		return emit(wire.AssistEvent{Type: wire.AssistDiagnostic, Call: step.Call, Tool: step.Tool, Args: step.Args})
	}
	return emit(wire.AssistEvent{Type: wire.AssistDone})
}

// Remedy re-checks a remediation the user approved (Phase check) against
// the company's whitelist and the conversation (it must have been
// proposed, and not run or declined since), keeps its outcome (Phase
// done), or closes it when the user declined it (Phase declined); each is
// audited.
func (s *Service) Remedy(dev Device, r wire.AssistRemedy) (wire.AssistRemedyAnswer, error) {
	set, err := s.cfg.Settings.Get()
	if err != nil {
		return wire.AssistRemedyAnswer{}, err
	}
	co := set.For(dev.Company)
	fields := map[string]string{"id": policy.CapString(r.ID, 64), "command": policy.CapString(r.Command, 512)}
	defer s.lock(dev.ID)()
	conv, err := s.load(dev.ID)
	if err != nil {
		return wire.AssistRemedyAnswer{}, err
	}
	switch r.Phase {
	case wire.RemedyCheck:
		refuse := func(why string) (wire.AssistRemedyAnswer, error) {
			s.auditOutcome(dev, "assist.remedy.check", r.Tool, why, fields, false)
			return wire.AssistRemedyAnswer{Reason: why}, nil
		}
		if !co.Enabled {
			return refuse("the assistant is off for this company")
		}
		if err := (policy.Whitelist{Allow: co.Allow}).CheckRemediation(r.Tool); err != nil {
			return refuse(err.(*policy.ToolRefusal).Reason)
		}
		if !proposed(conv.Lines, r.Tool) {
			return refuse("no open proposal of it: not proposed, already run, or declined")
		}
		s.auditOutcome(dev, "assist.remedy.check", r.Tool, "", fields, true)
		return wire.AssistRemedyAnswer{Allowed: true}, nil
	case wire.RemedyDone:
		if _, ok := policy.LookupTool(r.Tool); !ok {
			return wire.AssistRemedyAnswer{}, fmt.Errorf("%w: %q is not a remediation", ErrBadRequest, policy.CapString(r.Tool, 64))
		}
		fields["error"] = policy.CapString(r.Error, 256)
		s.auditOutcome(dev, "assist.remedy.ran", r.Tool, r.Error, fields, r.Error == "")
		out := map[string]string{"remediation": r.Tool, "output": policy.CapString(r.Output, 2048)}
		if r.Error != "" {
			out["error"] = policy.CapString(r.Error, 512)
		}
		conv.Lines = append(conv.Lines, Line{Role: triage.ToolRole, Tool: r.Tool, Text: jsonString(out), Time: s.cfg.Now().UTC()})
		return wire.AssistRemedyAnswer{Allowed: true}, s.save(dev.ID, conv)
	case wire.RemedyDeclined:
		if tool, ok := policy.LookupTool(r.Tool); !ok || tool.Kind != policy.Remediation {
			return wire.AssistRemedyAnswer{}, fmt.Errorf("%w: %q is not a remediation", ErrBadRequest, policy.CapString(r.Tool, 64))
		}
		if !proposed(conv.Lines, r.Tool) {
			// Nothing open to close (already run, declined, or never
			// proposed): said once, kept once.
			return wire.AssistRemedyAnswer{}, nil
		}
		s.auditOutcome(dev, "assist.remedy.declined", r.Tool, "the user declined it", fields, true)
		out := map[string]string{"remediation": r.Tool, "declined": "the user declined it; nothing ran"}
		conv.Lines = append(conv.Lines, Line{Role: triage.ToolRole, Tool: r.Tool, Text: jsonString(out), Time: s.cfg.Now().UTC()})
		return wire.AssistRemedyAnswer{}, s.save(dev.ID, conv)
	}
	return wire.AssistRemedyAnswer{}, fmt.Errorf("%w: phase %q", ErrBadRequest, policy.CapString(r.Phase, 16))
}

// proposed reports whether one of the last assistant lines proposed tool
// and the proposal is still open: no outcome of it (run or declined) was
// kept after it.
func proposed(lines []Line, tool string) bool {
	for i := len(lines) - 1; i >= 0 && i >= len(lines)-modelLines; i-- {
		if lines[i].Role == triage.ToolRole && lines[i].Tool == tool {
			return false // closed: it ran, or the user declined it
		}
		for _, c := range lines[i].Calls {
			if c.Kind == policy.Remediation && c.Name == tool {
				return true
			}
		}
	}
	return false
}

// Conversation returns dev's conversation as a ticket carries it.
func (s *Service) Conversation(device string) ([]wire.ChatLine, error) {
	conv, err := s.load(device)
	if err != nil {
		return nil, err
	}
	out := make([]wire.ChatLine, 0, len(conv.Lines))
	for _, l := range conv.Lines {
		text := l.Text
		if l.Role == triage.Assistant && text == "" && len(l.Calls) > 0 {
			text = "(" + l.Calls[0].Kind.String() + " " + l.Calls[0].Name + ")"
		}
		out = append(out, wire.ChatLine{Role: string(l.Role), Text: policy.CapString(text, wire.MaxTicketText), Time: l.Time})
	}
	return out, nil
}

func (s *Service) load(device string) (conversation, error) {
	var c conversation
	err := s.cfg.DB.View(func(tx store.Tx) error { return tx.Get(convNS, device, &c) })
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return conversation{}, fmt.Errorf("assist: reading the conversation: %w", err)
	}
	return c, nil
}

func (s *Service) save(device string, c conversation) error {
	if n := len(c.Lines) - MaxLines; n > 0 {
		c.Lines = c.Lines[n:]
	}
	if err := s.cfg.DB.Update(func(tx store.Tx) error { return tx.Put(convNS, device, c) }); err != nil {
		return fmt.Errorf("assist: keeping the conversation: %w", err)
	}
	return nil
}

func toMessages(lines []Line) []triage.Message {
	if len(lines) > modelLines {
		lines = lines[len(lines)-modelLines:]
	}
	// The model's history starts at a user's message.
	for len(lines) > 0 && lines[0].Role != triage.User {
		lines = lines[1:]
	}
	out := make([]triage.Message, len(lines))
	for i, l := range lines {
		out[i] = triage.Message{Role: l.Role, Text: l.Text, Tool: l.Tool, Calls: l.Calls}
	}
	return out
}

func (s *Service) audit(dev Device, action, target, reason string, fields map[string]string) {
	outcome := "ok"
	if action == "assist.refused" || action == "assist.unavailable" {
		outcome = "denied"
	}
	s.record(dev, action, target, reason, fields, outcome)
}

func (s *Service) auditOutcome(dev Device, action, target, reason string, fields map[string]string, ok bool) {
	outcome := "ok"
	if !ok {
		outcome = "denied"
	}
	s.record(dev, action, target, reason, fields, outcome)
}

func (s *Service) record(dev Device, action, target, reason string, fields map[string]string, outcome string) {
	f := map[string]string{"device": dev.ID}
	for k, v := range fields {
		if v != "" {
			f[k] = v
		}
	}
	if dev.Company != "" {
		f["company"] = dev.Company
	}
	s.cfg.Audit(wire.AuditEvent{Actor: "device:" + dev.ID, Action: action, Target: policy.CapString(target, wire.MaxNameLen), Outcome: outcome, Reason: policy.CapString(reason, 256), Fields: f})
}

func newID() string {
	b := make([]byte, 16)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail on supported systems
	return hex.EncodeToString(b)
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "{}"
	}
	return string(b)
}

func quote(s string) string { return jsonString(s) }
