package triage

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ollama/ollama/api"
)

// Kind says what a whitelisted tool does.
type Kind int

const (
	// Diagnostic tools only read the device (run on the agent at once).
	Diagnostic Kind = iota + 1
	// Remediation is a proposal: it runs on the agent only after the end
	// user approves it there.
	Remediation
)

func (k Kind) String() string {
	switch k {
	case Diagnostic:
		return "diagnostic"
	case Remediation:
		return "remediation"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Param is one argument of a tool, with the rule its value must pass.
type Param struct {
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
	Kind        Kind
	Description string
	Params      []Param
}

// ProposeTool is the one tool through which the model proposes a
// remediation: its "name" argument must be a row of Remediations.
const ProposeTool = "propose_remediation"

var (
	hostRE    = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)
	serviceRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$`)
	// An absolute path, Unix or Windows: no control characters, no "..".
	pathRE = regexp.MustCompile(`^(/|[A-Za-z]:\\)[^\x00-\x1f"*?<>|]{0,259}$`)
)

// Diagnostics are the read-only tools the model may call: the data of the
// whitelist, enforced by Check (here, at the coordinator) and again by the
// agent that runs them.
var Diagnostics = []Tool{
	{Name: "cpu", Kind: Diagnostic, Description: "CPU model, load and the busiest processes."},
	{Name: "memory", Kind: Diagnostic, Description: "Memory and swap in use, and the largest processes."},
	{Name: "disk", Kind: Diagnostic, Description: "Free and used space of the disks, or of the disk holding path.",
		Params: []Param{{Name: "path", Type: "string", Description: "an absolute path on the disk to check", Pattern: pathRE, MaxLen: 260}}},
	{Name: "network", Kind: Diagnostic, Description: "Network interfaces, addresses, default route and link state."},
	{Name: "dns", Kind: Diagnostic, Description: "Resolve a host name with the device's resolvers.",
		Params: []Param{{Name: "host", Type: "string", Description: "the host name to resolve", Pattern: hostRE, MaxLen: 253}}},
	{Name: "services", Kind: Diagnostic, Description: "Services and their state, or one service by name.",
		Params: []Param{{Name: "name", Type: "string", Description: "a service name", Pattern: serviceRE, MaxLen: 128}}},
	{Name: "recent_errors", Kind: Diagnostic, Description: "Recent errors from the system event log.",
		Params: []Param{{Name: "hours", Type: "integer", Description: "how far back to look, 1 to 72 hours", Min: 1, Max: 72}}},
	{Name: "printers", Kind: Diagnostic, Description: "Printers, their queues and state, where the OS has them."},
}

// Remediations are the fixes the model may propose. The agent builds the
// command for each from its name; nothing the model writes reaches a
// command line.
var Remediations = []Tool{
	{Name: "flush_dns", Kind: Remediation, Description: "Flush the DNS resolver cache."},
	{Name: "clear_temp", Kind: Remediation, Description: "Delete the user's temporary files."},
	{Name: "restart_spooler", Kind: Remediation, Description: "Restart the print spooler service."},
	{Name: "renew_dhcp", Kind: Remediation, Description: "Release and renew the DHCP lease."},
}

// maxReason caps the free text a proposal carries to the approval page.
const maxReason = 300

// Lookup returns the whitelist row named name (a diagnostic or a
// remediation).
func Lookup(name string) (Tool, bool) {
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
	Allow []string
}

func (w Whitelist) allows(name string) bool {
	return w.Allow == nil || slices.Contains(w.Allow, name)
}

// Validate reports names of w that are not rows of the table.
func (w Whitelist) Validate() error {
	var errs []error
	for _, n := range w.Allow {
		if _, ok := Lookup(n); !ok {
			errs = append(errs, fmt.Errorf("triage: whitelist: %q is not a diagnostic or remediation", n))
		}
	}
	return errors.Join(errs...)
}

// Call is a tool call that passed Check: a row of the whitelist and
// arguments that passed its rules.
type Call struct {
	Kind Kind
	// Name is the diagnostic's or remediation's name (never ProposeTool).
	Name string
	// Args are the validated arguments: strings, int64 and bools only.
	Args map[string]any
	// Reason is a remediation proposal's explanation, for the approval
	// page (plain text, capped; never part of a command).
	Reason string
}

// ErrRefused is matched (errors.Is) by every RefusedError.
var ErrRefused = errors.New("triage: tool call refused")

// RefusedError is a tool call the model made that is not allowed: the
// caller audits it and runs nothing.
type RefusedError struct {
	// Name is the tool the model asked for, as it wrote it (capped).
	Name string
	// Args is the arguments as JSON, capped at 512 bytes, for the audit.
	Args string
	// Reason says why, in words fit for the audit trail.
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("triage: tool call %q refused: %s", e.Name, e.Reason)
}

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

func capString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Check accepts a tool call the model made when it names a diagnostic of
// the whitelist, or ProposeTool with a remediation of it, that w allows,
// and every argument passes its rule (unknown arguments refused); anything
// else is a *RefusedError.
func (w Whitelist) Check(tc api.ToolCall) (Call, error) {
	name := tc.Function.Name
	args := tc.Function.Arguments.ToMap()
	raw, err := json.Marshal(args)
	if err != nil {
		raw = []byte("(unencodable)")
	}
	refuse := func(format string, a ...any) (Call, error) {
		return Call{}, &RefusedError{Name: capString(name, 128), Args: capString(string(raw), 512), Reason: fmt.Sprintf(format, a...)}
	}
	if name == ProposeTool {
		rn, ok := args["name"].(string)
		if !ok {
			return refuse("a proposal needs the remediation's name")
		}
		row, ok := Lookup(rn)
		if !ok || row.Kind != Remediation {
			return refuse("%q is not a whitelisted remediation", capString(rn, 64))
		}
		if !w.allows(rn) {
			return refuse("remediation %q is not allowed for this company", rn)
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
				reason = capString(s, maxReason)
			default:
				return refuse("unknown argument %q", capString(k, 64))
			}
		}
		return Call{Kind: Remediation, Name: rn, Args: map[string]any{}, Reason: reason}, nil
	}
	row, ok := Lookup(name)
	if !ok || row.Kind != Diagnostic {
		return refuse("not a whitelisted diagnostic")
	}
	if !w.allows(name) {
		return refuse("diagnostic %q is not allowed for this company", name)
	}
	out := map[string]any{}
	for k, v := range args {
		i := slices.IndexFunc(row.Params, func(p Param) bool { return p.Name == k })
		if i < 0 {
			return refuse("unknown argument %q", capString(k, 64))
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
	return Call{Kind: Diagnostic, Name: name, Args: out}, nil
}

func (p Param) check(v any) (any, error) {
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
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) || math.IsInf(f, 0) {
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

// Tools is the tool list sent to the model: the diagnostics w allows, and
// ProposeTool when w allows a remediation.
func (w Whitelist) Tools() api.Tools {
	var out api.Tools
	for _, t := range Diagnostics {
		if w.allows(t.Name) {
			out = append(out, apiTool(t.Name, t.Description, t.Params))
		}
	}
	var names []string
	var desc strings.Builder
	desc.WriteString("Propose a fix for the user to approve. It runs only if the user clicks Approve. One of:")
	for _, t := range Remediations {
		if w.allows(t.Name) {
			names = append(names, t.Name)
			fmt.Fprintf(&desc, " %s (%s)", t.Name, strings.TrimSuffix(t.Description, "."))
		}
	}
	if len(names) > 0 {
		out = append(out, apiTool(ProposeTool, desc.String(), []Param{
			{Name: "name", Type: "string", Required: true, Enum: names, Description: "the remediation"},
			{Name: "reason", Type: "string", MaxLen: maxReason, Description: "one sentence for the user: why this should help"},
		}))
	}
	return out
}

func apiTool(name, desc string, params []Param) api.Tool {
	props := api.NewToolPropertiesMap()
	var required []string
	for _, p := range params {
		tp := api.ToolProperty{Type: api.PropertyType{p.Type}, Description: p.Description}
		for _, e := range p.Enum {
			tp.Enum = append(tp.Enum, e)
		}
		props.Set(p.Name, tp)
		if p.Required {
			required = append(required, p.Name)
		}
	}
	return api.Tool{Type: "function", Function: api.ToolFunction{
		Name: name, Description: desc,
		Parameters: api.ToolFunctionParameters{Type: "object", Properties: props, Required: required},
	}}
}
