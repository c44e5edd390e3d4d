package triage

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ollama/ollama/api"
)

func call(name string, args map[string]any) api.ToolCall {
	a := api.NewToolCallFunctionArguments()
	for k, v := range args {
		a.Set(k, v)
	}
	return api.ToolCall{Function: api.ToolCallFunction{Name: name, Arguments: a}}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		w    Whitelist
		call api.ToolCall
		want *Call // nil: refused
	}{
		{"diagnostic, no args", Whitelist{}, call("cpu", nil), &Call{Kind: Diagnostic, Name: "cpu", Args: map[string]any{}}},
		{"diagnostic with a path", Whitelist{}, call("disk", map[string]any{"path": "/home"}), &Call{Kind: Diagnostic, Name: "disk", Args: map[string]any{"path": "/home"}}},
		{"Windows path", Whitelist{}, call("disk", map[string]any{"path": `C:\Users`}), &Call{Kind: Diagnostic, Name: "disk", Args: map[string]any{"path": `C:\Users`}}},
		{"integer arg", Whitelist{}, call("recent_errors", map[string]any{"hours": float64(24)}), &Call{Kind: Diagnostic, Name: "recent_errors", Args: map[string]any{"hours": int64(24)}}},
		{"proposal", Whitelist{}, call(ProposeTool, map[string]any{"name": "flush_dns", "reason": "stale entries"}), &Call{Kind: Remediation, Name: "flush_dns", Args: map[string]any{}, Reason: "stale entries"}},
		{"not on the whitelist", Whitelist{}, call("run_shell", map[string]any{"command": "rm -rf /"}), nil},
		{"a remediation called directly", Whitelist{}, call("flush_dns", nil), nil},
		{"proposal of an unknown fix", Whitelist{}, call(ProposeTool, map[string]any{"name": "format_disk"}), nil},
		{"proposal without a name", Whitelist{}, call(ProposeTool, map[string]any{"reason": "x"}), nil},
		{"proposal with a command", Whitelist{}, call(ProposeTool, map[string]any{"name": "clear_temp", "command": "rm -rf /"}), nil},
		{"a diagnostic named as a fix", Whitelist{}, call(ProposeTool, map[string]any{"name": "cpu"}), nil},
		{"unknown argument", Whitelist{}, call("disk", map[string]any{"path": "/", "command": "rm -rf /"}), nil},
		{"relative path", Whitelist{}, call("disk", map[string]any{"path": "etc"}), nil},
		{"path with ..", Whitelist{}, call("disk", map[string]any{"path": "/tmp/../etc"}), nil},
		{"path with a newline", Whitelist{}, call("disk", map[string]any{"path": "/\nrm"}), nil},
		{"host with a space", Whitelist{}, call("dns", map[string]any{"host": "example.com; rm -rf /"}), nil},
		{"service with a quote", Whitelist{}, call("services", map[string]any{"name": `spooler" & del`}), nil},
		{"hours out of range", Whitelist{}, call("recent_errors", map[string]any{"hours": float64(1000)}), nil},
		{"hours not whole", Whitelist{}, call("recent_errors", map[string]any{"hours": 1.5}), nil},
		{"hours as a string", Whitelist{}, call("recent_errors", map[string]any{"hours": "24"}), nil},
		{"company disallows the diagnostic", Whitelist{Allow: []string{"cpu"}}, call("disk", nil), nil},
		{"company disallows the fix", Whitelist{Allow: []string{"cpu", "flush_dns"}}, call(ProposeTool, map[string]any{"name": "clear_temp"}), nil},
		{"company allows the fix", Whitelist{Allow: []string{"flush_dns"}}, call(ProposeTool, map[string]any{"name": "flush_dns"}), &Call{Kind: Remediation, Name: "flush_dns", Args: map[string]any{}}},
	} {
		got, err := tc.w.Check(tc.call)
		if tc.want == nil {
			var r *RefusedError
			if !errors.Is(err, ErrRefused) || !errors.As(err, &r) || r.Name != tc.call.Function.Name || r.Reason == "" {
				t.Errorf("%s: got %+v, %v; want a RefusedError", tc.name, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if d := cmp.Diff(*tc.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}
}

func TestTools(t *testing.T) {
	t.Parallel()
	var names []string
	for _, tool := range (Whitelist{}).Tools() {
		names = append(names, tool.Function.Name)
	}
	want := []string{"cpu", "memory", "disk", "network", "dns", "services", "recent_errors", "printers", ProposeTool}
	if d := cmp.Diff(want, names); d != "" {
		t.Errorf("tools (-want +got):\n%s", d)
	}
	tools := Whitelist{Allow: []string{"cpu", "renew_dhcp"}}.Tools()
	if len(tools) != 2 || tools[1].Function.Name != ProposeTool {
		t.Fatalf("tools %v", tools)
	}
	p, _ := tools[1].Function.Parameters.Properties.Get("name")
	if !slices.Equal(p.Enum, []any{"renew_dhcp"}) {
		t.Errorf("proposal enum %v", p.Enum)
	}
	if len(Whitelist{Allow: []string{"cpu"}}.Tools()) != 1 {
		t.Error("a proposal tool with no remediation allowed")
	}
	if err := (Whitelist{Allow: []string{"cpu", "format_c"}}).Validate(); err == nil {
		t.Error("Validate passed an unknown name")
	}
}
