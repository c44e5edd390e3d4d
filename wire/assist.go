package wire

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The help desk assistant (T1–T4; protocol 2, 2026-12-07). The agent talks
// only to the coordinator, with its device credentials; the coordinator
// talks to the shop's model. One turn of a conversation is one POST of
// PathAssistChat whose answer is a stream of AssistEvent, one JSON object a
// line (application/x-ndjson), ending with exactly one event of type
// AssistDone, AssistDiagnostic, AssistUnavailable or AssistOff:
//
//   - the user's message (AssistRequest.Text) → tokens, then done (the
//     answer) or a diagnostic step: the model asked for a whitelisted
//     diagnostic, the agent re-checks the whitelist, runs it and POSTs its
//     output (AssistRequest.Result) to continue the same turn;
//   - a proposal event (a whitelisted remediation, with its reason) comes
//     before done: the agent shows it with an Approve button; before running
//     it the agent POSTs PathAssistRemedy (Phase "check") so the coordinator
//     re-checks the company's whitelist, then reports the outcome (Phase
//     "done"), which is kept with the conversation; a proposal the user
//     declines is reported at once (Phase "declined", 2026-12-07) and is
//     closed: a later check of it is refused.
const (
	PathAssistChat   = "/v1/agent/assist/chat"
	PathAssistRemedy = "/v1/agent/assist/remedy"
	// PathAssistSettings: GET → AssistSettings, PUT AssistSettings →
	// AssistSettings, admins only (technician session).
	PathAssistSettings = "/v1/assist/settings"
)

// AssistEvent types.
const (
	AssistToken       = "token"       // Text: the next piece of the answer
	AssistProposal    = "proposal"    // Tool, Reason: a remediation the user may approve
	AssistRefused     = "refused"     // Tool, Reason: a tool call the whitelist refused (audited)
	AssistDiagnostic  = "diagnostic"  // Call, Tool, Args: run it and send the Result
	AssistDone        = "done"        // the answer is complete
	AssistUnavailable = "unavailable" // the model cannot answer now: Text is the friendly answer, Contacts the shop's
	AssistOff         = "off"         // the assistant is off for this company: Text, Contacts
)

// Bounds of the assistant's messages.
const (
	MaxAssistText     = 8 << 10  // a user's message
	MaxAssistOutput   = 16 << 10 // a diagnostic's output
	MaxAssistSteps    = 4        // diagnostics in one turn
	MaxAssistPrompt   = 4 << 10  // the shop's system prompt additions
	MaxAssistContacts = 1 << 10  // the shop's contacts
)

// AssistRequest is one POST of PathAssistChat: a user's message, or the
// result of the diagnostic the last answer asked for.
type AssistRequest struct {
	// ID is the agent's id of the message (32 lowercase hex), made before
	// it is queued: a message sent again after a lost answer is answered
	// again, but kept once.
	ID     string        `json:"id"`
	Text   string        `json:"text,omitempty"`
	Result *AssistResult `json:"result,omitempty"`
}

// AssistResult is a diagnostic's output, for the step Call named.
type AssistResult struct {
	Call   string `json:"call"`
	Tool   string `json:"tool"`
	Output string `json:"output"`          // JSON, as the diagnostic reported
	Error  string `json:"error,omitempty"` // why it did not run (refused, unsupported)
}

// AssistEvent is one line of a turn's answer.
type AssistEvent struct {
	Type     string         `json:"type"`
	Text     string         `json:"text,omitempty"`
	Call     string         `json:"call,omitempty"`
	Tool     string         `json:"tool,omitempty"`
	Args     map[string]any `json:"args,omitempty"`
	Reason   string         `json:"reason,omitempty"`
	Contacts string         `json:"contacts,omitempty"`
}

// Final says whether e ends a turn's stream: AssistDone, AssistDiagnostic,
// AssistUnavailable or AssistOff.
func (e AssistEvent) Final() bool {
	switch e.Type {
	case AssistDone, AssistDiagnostic, AssistUnavailable, AssistOff:
		return true
	}
	return false
}

// Bounds of one event of a turn's answer, as the agent reads it.
const (
	// MaxAssistEvent bounds one line of the stream: the coordinator's
	// events are a model's token, a tool's name and arguments, a reason
	// or the shop's contacts, each far smaller.
	MaxAssistEvent = 64 << 10
	// MaxAssistReason bounds a proposal's or a refusal's reason.
	MaxAssistReason = 4 << 10
	// MaxAssistTool bounds a tool's name as an event carries it (a
	// refused one is the model's words, capped).
	MaxAssistTool = 128
	maxAssistCall = 64
)

// ErrBadAssistEvent is wrapped by AssistEvent.Check and by
// AssistDecoder.Next for a line that is not a valid event.
var ErrBadAssistEvent = errors.New("wire: invalid assistant event")

// Check validates an event of a type this version knows (an event of
// another type passes: it is ignored, not refused).
func (e AssistEvent) Check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadAssistEvent, fmt.Sprintf(format, args...))
	}
	switch {
	case e.Type == "":
		return bad("no type")
	case len(e.Tool) > MaxAssistTool:
		return bad("a tool name of %d bytes, at most %d", len(e.Tool), MaxAssistTool)
	case len(e.Call) > maxAssistCall:
		return bad("a call id of %d bytes, at most %d", len(e.Call), maxAssistCall)
	case len(e.Reason) > MaxAssistReason:
		return bad("a reason of %d bytes, at most %d", len(e.Reason), MaxAssistReason)
	case len(e.Contacts) > MaxAssistContacts:
		return bad("contacts of %d bytes, at most %d", len(e.Contacts), MaxAssistContacts)
	}
	switch e.Type {
	case AssistDiagnostic:
		if e.Call == "" || e.Tool == "" {
			return bad("a diagnostic step without its call or tool")
		}
	case AssistProposal, AssistRefused:
		if e.Tool == "" {
			return bad("a %s without its tool", e.Type)
		}
	}
	return nil
}

func knownAssistType(t string) bool {
	switch t {
	case AssistToken, AssistProposal, AssistRefused, AssistDiagnostic, AssistDone, AssistUnavailable, AssistOff:
		return true
	}
	return false
}

// AssistDecoder reads the events of a turn's answer (newline-delimited
// JSON). It holds at most MaxAssistEvent bytes of a line, however long the
// line is.
type AssistDecoder struct {
	r *bufio.Reader
}

// NewAssistDecoder reads events from r.
func NewAssistDecoder(r io.Reader) *AssistDecoder {
	return &AssistDecoder{r: bufio.NewReaderSize(r, 4096)}
}

// Next returns the next event of a type this version knows, skipping
// blank lines and events of other types (a later version's). A line that
// is too long, not one JSON object with a type, or an event that fails
// Check returns an error wrapping ErrBadAssistEvent: the line is consumed
// and the decoder may be used again. Any other error (io.EOF at the end of
// the stream, io.ErrUnexpectedEOF for a last line cut short) is the
// reader's, and ends the stream.
func (d *AssistDecoder) Next() (AssistEvent, error) {
	for {
		line, err := readBoundedLine(d.r, MaxAssistEvent, ErrBadAssistEvent)
		if err != nil {
			return AssistEvent{}, err
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var e AssistEvent
		if err := json.Unmarshal(line, &e); err != nil {
			return AssistEvent{}, fmt.Errorf("%w: %v", ErrBadAssistEvent, err)
		}
		if e.Type != "" && !knownAssistType(e.Type) {
			continue // a later version's event: ignored
		}
		if err := e.Check(); err != nil {
			return AssistEvent{}, err
		}
		if len(e.Args) == 0 {
			e.Args = nil // "args":{} and no "args" say the same
		}
		return e, nil
	}
}

// Phases of PathAssistRemedy.
const (
	RemedyCheck = "check" // may it run? (before running, after the user approved)
	RemedyDone  = "done"  // it ran: Output or Error
	// RemedyDeclined: the user declined it; nothing ran, and the
	// coordinator refuses a check of it from then on (2026-12-07).
	RemedyDeclined = "declined"
)

// AssistRemedy asks the coordinator to re-check a remediation the user
// approved, or reports its outcome.
type AssistRemedy struct {
	ID      string `json:"id"` // the proposal's id (the agent's)
	Phase   string `json:"phase"`
	Tool    string `json:"tool"`
	Command string `json:"command,omitempty"` // what the agent runs, as shown to the user
	Output  string `json:"output,omitempty"`
	Error   string `json:"error,omitempty"`
}

// AssistRemedyAnswer answers a check.
type AssistRemedyAnswer struct {
	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason,omitempty"`
}

// AssistSettings are the shop's assistant settings.
type AssistSettings struct {
	// Model is the Ollama model's name ("" keeps the coordinator's -ollama-model).
	Model string `json:"model,omitempty"`
	// Default applies to companies without their own entry.
	Default AssistCompany `json:"default"`
	// Companies holds per-company settings, by company name.
	Companies map[string]AssistCompany `json:"companies,omitempty"`
}

// AssistCompany is one company's assistant settings.
type AssistCompany struct {
	Enabled bool `json:"enabled"`
	// Prompt is the shop's system prompt additions (its own words, bounded).
	Prompt string `json:"prompt,omitempty"`
	// Allow is the company's whitelist: names of diagnostics and
	// remediations; nil allows the whole table, empty allows nothing.
	Allow []string `json:"allow"`
	// Contacts is how to reach the shop's people, shown when the model is
	// unavailable.
	Contacts string `json:"contacts,omitempty"`
}

// For returns the settings of company.
func (s AssistSettings) For(company string) AssistCompany {
	if c, ok := s.Companies[company]; ok {
		return c
	}
	return s.Default
}

// AssistPersonas is the pool of the assistant's names: each device meets
// the same one (AssistPersona).
var AssistPersonas = [20]string{
	"Ada", "Ben", "Cleo", "Dev", "Elin", "Finn", "Gus", "Hana", "Ivo", "Juno",
	"Kai", "Lena", "Milo", "Nora", "Otto", "Pia", "Quinn", "Rosa", "Sami", "Tess",
}

// AssistPersona is the assistant's name on the device with id deviceID.
func AssistPersona(deviceID string) string {
	h := sha256.Sum256([]byte("peerdesk assistant persona\x00" + deviceID))
	return AssistPersonas[binary.BigEndian.Uint64(h[:8])%uint64(len(AssistPersonas))]
}
