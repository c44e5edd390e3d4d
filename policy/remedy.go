package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// The help desk assistant's whitelist (T2, T3): the diagnostics the model
// may call and the remediations it may propose, each a row of a fixed
// table with the rule every argument must pass. The coordinator checks a
// model's tool call against it (coordinator/triage builds the model's tool
// list from it), and the agent checks the same table again before it runs
// anything (agent/diag, agent/remedy), so both sides decide from one place.
// The agent builds a remediation's command from its name: nothing the
// model writes reaches a command line.

// ToolKind says what a whitelisted tool does.
type ToolKind int

const (
	// Diagnostic tools only read the device (run on the agent at once).
	Diagnostic ToolKind = iota + 1
	// Remediation is a proposal: it runs on the agent only after the end
	// user approves it there.
	Remediation
)

func (k ToolKind) String() string {
	switch k {
	case Diagnostic:
		return "diagnostic"
	case Remediation:
		return "remediation"
	}
	return fmt.Sprintf("ToolKind(%d)", int(k))
}

// ToolParam is one argument of a tool, with the rule its value must pass.
type ToolParam struct {
	Name        string
	Description string
	// Type is "string", "integer" or "boolean".
	Type     string
	Required bool
	// Pattern, for strings, is matched against the whole value.
	Pattern *regexp.Regexp
	// MaxLen, for strings, caps the length in bytes.
	MaxLen int
	// Min and Max bound integers.
	Min, Max int64
	// Enum, for strings, lists the only values allowed.
	Enum []string
}

// Tool is one row of the whitelist.
type Tool struct {
	Name        string
	Kind        ToolKind
	Description string
	Params      []ToolParam
}

// ProposeTool is the one tool through which the model proposes a
// remediation: its "name" argument must be a row of Remediations.
const ProposeTool = "propose_remediation"

// MaxReason caps the free text a proposal carries to the approval page.
const MaxReason = 300

// The patterns leave lengths to MaxLen: a counted repetition ({0,251})
// compiles to a program of that many states, half a megabyte of heap
// allocated at start-up in every binary that links policy (the agent's
// init budget, cmd/peerdesk-agent TestInitBudget).
var (
	hostRE    = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)
	serviceRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]*$`)
	// An absolute path, Unix or Windows: no control characters, no "..".
	pathRE = regexp.MustCompile(`^(/|[A-Za-z]:\\)[^\x00-\x1f"*?<>|]*$`)
)

// Diagnostics are the read-only tools the model may call.
var Diagnostics = []Tool{
	{Name: "cpu", Kind: Diagnostic, Description: "CPU model, load and the busiest processes."},
	{Name: "memory", Kind: Diagnostic, Description: "Memory and swap in use, and the largest processes."},
	{Name: "disk", Kind: Diagnostic, Description: "Free and used space of the disks, or of the disk holding path.",
		Params: []ToolParam{{Name: "path", Type: "string", Description: "an absolute path on the disk to check", Pattern: pathRE, MaxLen: 260}}},
	{Name: "network", Kind: Diagnostic, Description: "Network interfaces, addresses, default route and link state."},
	{Name: "dns", Kind: Diagnostic, Description: "Resolve a host name with the device's resolvers.",
		Params: []ToolParam{{Name: "host", Type: "string", Description: "the host name to resolve", Pattern: hostRE, MaxLen: 253}}},
	{Name: "services", Kind: Diagnostic, Description: "Services and their state, or one service by name.",
		Params: []ToolParam{{Name: "name", Type: "string", Description: "a service name", Pattern: serviceRE, MaxLen: 128}}},
	{Name: "recent_errors", Kind: Diagnostic, Description: "Recent errors from the system event log.",
		Params: []ToolParam{{Name: "hours", Type: "integer", Description: "how far back to look, 1 to 72 hours", Min: 1, Max: 72}}},
	{Name: "printers", Kind: Diagnostic, Description: "Printers, their queues and state, where the OS has them."},
}

// Remediations are the fixes the model may propose.
var Remediations = []Tool{
	{Name: "flush_dns", Kind: Remediation, Description: "Flush the DNS resolver cache."},
	{Name: "clear_temp", Kind: Remediation, Description: "Delete the user's temporary files."},
	{Name: "restart_spooler", Kind: Remediation, Description: "Restart the print spooler service."},
	{Name: "renew_dhcp", Kind: Remediation, Description: "Release and renew the DHCP lease."},
}

// LookupTool returns the whitelist row named name (a diagnostic or a
// remediation).
func LookupTool(name string) (Tool, bool) {
	for _, t := range slices.Concat(Diagnostics, Remediations) {
		if t.Name == name {
			return t, true
		}
	}
	return Tool{}, false
}

// Whitelist is the set of tools a company allows: the names of rows of
// Diagnostics and Remediations. The zero value allows every row.
type Whitelist struct {
	// Allow lists the allowed names; nil allows every row.
	Allow []string `json:"allow"`
}

// Allows reports whether w allows the row named name (it does not check
// that the row exists).
func (w Whitelist) Allows(name string) bool {
	return w.Allow == nil || slices.Contains(w.Allow, name)
}

// Validate reports names of w that are not rows of the table.
func (w Whitelist) Validate() error {
	var errs []error
	for _, n := range w.Allow {
		if _, ok := LookupTool(n); !ok {
			errs = append(errs, fmt.Errorf("policy: whitelist: %q is not a diagnostic or remediation", n))
		}
	}
	return errors.Join(errs...)
}

// ToolCall is a tool call that passed Check: a row of the whitelist and
// arguments that passed its rules.
type ToolCall struct {
	Kind ToolKind
	// Name is the diagnostic's or remediation's name (never ProposeTool).
	Name string
	// Args are the validated arguments: strings, int64 and bools only.
	Args map[string]any
	// Reason is a remediation proposal's explanation, for the approval
	// page (plain text, capped; never part of a command).
	Reason string
}

// ErrToolRefused is matched (errors.Is) by every *ToolRefusal.
var ErrToolRefused = errors.New("policy: tool call refused")

// ToolRefusal is a tool call that is not allowed: the caller audits it and
// runs nothing.
type ToolRefusal struct {
	// Name is the tool asked for, as written (capped).
	Name string
	// Args is the arguments as JSON, capped at 512 bytes, for the audit.
	Args string
	// Reason says why, in words fit for the audit trail.
	Reason string
}

func (e *ToolRefusal) Error() string {
	return fmt.Sprintf("tool call %q refused: %s", e.Name, e.Reason)
}

// Is makes errors.Is(err, ErrToolRefused) true.
func (e *ToolRefusal) Is(target error) bool { return target == ErrToolRefused }

// CapString cuts s to at most n bytes on a rune boundary, marking a cut
// with "…".
func CapString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Check accepts a tool call given as plain values (a name and its
// arguments as decoded from JSON, or as a ToolCall's validated Args) when
// it names a diagnostic of the table, or ProposeTool with a remediation of
// it, that w allows, and every argument passes its rule (unknown arguments
// refused); anything else is a *ToolRefusal.
func (w Whitelist) Check(name string, args map[string]any) (ToolCall, error) {
	raw, err := json.Marshal(args)
	if err != nil {
		raw = []byte("(unencodable)")
	}
	refuse := func(format string, a ...any) (ToolCall, error) {
		return ToolCall{}, &ToolRefusal{Name: CapString(name, 128), Args: CapString(string(raw), 512), Reason: fmt.Sprintf(format, a...)}
	}
	if name == ProposeTool {
		rn, ok := args["name"].(string)
		if !ok {
			return refuse("a proposal needs the remediation's name")
		}
		if err := w.CheckRemediation(rn); err != nil {
			return refuse("%s", err.(*ToolRefusal).Reason)
		}
		reason := ""
		for k, v := range args {
			switch k {
			case "name":
			case "reason":
				s, ok := v.(string)
				if !ok {
					return refuse("reason is not a string")
				}
				reason = CapString(s, MaxReason)
			default:
				return refuse("unknown argument %q", CapString(k, 64))
			}
		}
		return ToolCall{Kind: Remediation, Name: rn, Args: map[string]any{}, Reason: reason}, nil
	}
	row, ok := LookupTool(name)
	if !ok || row.Kind != Diagnostic {
		return refuse("not a whitelisted diagnostic")
	}
	if !w.Allows(name) {
		return refuse("diagnostic %q is not allowed for this company", name)
	}
	out := map[string]any{}
	for k, v := range args {
		i := slices.IndexFunc(row.Params, func(p ToolParam) bool { return p.Name == k })
		if i < 0 {
			return refuse("unknown argument %q", CapString(k, 64))
		}
		val, err := row.Params[i].check(v)
		if err != nil {
			return refuse("argument %q: %v", k, err)
		}
		out[k] = val
	}
	for _, p := range row.Params {
		if _, ok := out[p.Name]; p.Required && !ok {
			return refuse("argument %q is required", p.Name)
		}
	}
	return ToolCall{Kind: Diagnostic, Name: name, Args: out}, nil
}

// CheckRemediation accepts name when it is a remediation of the table that
// w allows; anything else is a *ToolRefusal.
func (w Whitelist) CheckRemediation(name string) error {
	row, ok := LookupTool(name)
	if !ok || row.Kind != Remediation {
		return &ToolRefusal{Name: CapString(name, 128), Args: "{}", Reason: fmt.Sprintf("%q is not a whitelisted remediation", CapString(name, 64))}
	}
	if !w.Allows(name) {
		return &ToolRefusal{Name: name, Args: "{}", Reason: fmt.Sprintf("remediation %q is not allowed for this company", name)}
	}
	return nil
}

func (p ToolParam) check(v any) (any, error) {
	switch p.Type {
	case "string":
		s, ok := v.(string)
		if !ok {
			return nil, errors.New("not a string")
		}
		if p.MaxLen > 0 && len(s) > p.MaxLen {
			return nil, fmt.Errorf("longer than %d bytes", p.MaxLen)
		}
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			return nil, errors.New("not valid text")
		}
		if p.Enum != nil && !slices.Contains(p.Enum, s) {
			return nil, errors.New("not one of the allowed values")
		}
		if p.Pattern != nil && !p.Pattern.MatchString(s) {
			return nil, errors.New("not of the allowed form")
		}
		if p.Pattern == pathRE && slices.Contains(strings.FieldsFunc(s, func(r rune) bool { return r == '/' || r == '\\' }), "..") {
			return nil, errors.New("not of the allowed form")
		}
		return s, nil
	case "integer":
		var f float64
		switch n := v.(type) {
		case float64:
			f = n
		case int64:
			f = float64(n)
		case int:
			f = float64(n)
		default:
			return nil, errors.New("not an integer")
		}
		if f != math.Trunc(f) || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, errors.New("not an integer")
		}
		if f < float64(p.Min) || f > float64(p.Max) {
			return nil, fmt.Errorf("not between %d and %d", p.Min, p.Max)
		}
		return int64(f), nil
	case "boolean":
		b, ok := v.(bool)
		if !ok {
			return nil, errors.New("not a boolean")
		}
		return b, nil
	}
	return nil, fmt.Errorf("parameter type %q unknown", p.Type)
}
