package triage

import (
	"fmt"
	"strings"

	"github.com/ollama/ollama/api"

	"github.com/peerdesk/peerdesk/policy"
)

// The whitelist's table (Diagnostics, Remediations, their parameters and
// the rule every argument must pass) is package policy's, shared with the
// agent, which checks it again before it runs anything; this file turns it
// into the model's tool list and checks the model's tool calls.

// Kind says what a whitelisted tool does (policy.ToolKind).
type Kind = policy.ToolKind

// Kinds.
const (
	Diagnostic  = policy.Diagnostic
	Remediation = policy.Remediation
)

// Param is one argument of a tool (policy.ToolParam).
type Param = policy.ToolParam

// Tool is one row of the whitelist (policy.Tool).
type Tool = policy.Tool

// ProposeTool is the one tool through which the model proposes a
// remediation: its "name" argument must be a row of Remediations.
const ProposeTool = policy.ProposeTool

// Diagnostics and Remediations are policy's table.
var (
	Diagnostics  = policy.Diagnostics
	Remediations = policy.Remediations
)

// Lookup returns the whitelist row named name (a diagnostic or a
// remediation).
func Lookup(name string) (Tool, bool) { return policy.LookupTool(name) }

// Whitelist is the set of tools a company allows: the names of rows of
// Diagnostics and Remediations. The zero value allows every row.
type Whitelist struct {
	// Allow lists the allowed names; nil allows every row.
	Allow []string
}

func (w Whitelist) policy() policy.Whitelist { return policy.Whitelist{Allow: w.Allow} }

// Validate reports names of w that are not rows of the table.
func (w Whitelist) Validate() error { return w.policy().Validate() }

// Call is a tool call that passed Check (policy.ToolCall).
type Call = policy.ToolCall

// ErrRefused is matched (errors.Is) by every RefusedError.
var ErrRefused = policy.ErrToolRefused

// RefusedError is a tool call the model made that is not allowed: the
// caller audits it and runs nothing (policy.ToolRefusal).
type RefusedError = policy.ToolRefusal

func capString(s string, n int) string { return policy.CapString(s, n) }

// Check accepts a tool call the model made when it names a diagnostic of
// the whitelist, or ProposeTool with a remediation of it, that w allows,
// and every argument passes its rule (unknown arguments refused); anything
// else is a *RefusedError. The decision is policy.Whitelist.Check's.
func (w Whitelist) Check(tc api.ToolCall) (Call, error) {
	return w.policy().Check(tc.Function.Name, tc.Function.Arguments.ToMap())
}

// Tools is the tool list sent to the model: the diagnostics w allows, and
// ProposeTool when w allows a remediation.
func (w Whitelist) Tools() api.Tools {
	pw := w.policy()
	var out api.Tools
	for _, t := range Diagnostics {
		if pw.Allows(t.Name) {
			out = append(out, apiTool(t.Name, t.Description, t.Params))
		}
	}
	var names []string
	var desc strings.Builder
	desc.WriteString("Propose a fix for the user to approve. It runs only if the user clicks Approve. One of:")
	for _, t := range Remediations {
		if pw.Allows(t.Name) {
			names = append(names, t.Name)
			fmt.Fprintf(&desc, " %s (%s)", t.Name, strings.TrimSuffix(t.Description, "."))
		}
	}
	if len(names) > 0 {
		out = append(out, apiTool(ProposeTool, desc.String(), []Param{
			{Name: "name", Type: "string", Required: true, Enum: names, Description: "the remediation"},
			{Name: "reason", Type: "string", MaxLen: policy.MaxReason, Description: "one sentence for the user: why this should help"},
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
