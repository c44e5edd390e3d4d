package policy

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestWhitelistCheck: the table decides on plain values, as the agent
// re-checks what the coordinator relayed (arguments decoded from JSON, or
// a ToolCall's validated int64s).
func TestWhitelistCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		w    Whitelist
		tool string
		args map[string]any
		want *ToolCall // nil: refused
	}{
		{"diagnostic", Whitelist{}, "disk", map[string]any{"path": "/tmp"}, &ToolCall{Kind: Diagnostic, Name: "disk", Args: map[string]any{"path": "/tmp"}}},
		{"integer from JSON", Whitelist{}, "recent_errors", map[string]any{"hours": float64(3)}, &ToolCall{Kind: Diagnostic, Name: "recent_errors", Args: map[string]any{"hours": int64(3)}}},
		{"integer already checked", Whitelist{}, "recent_errors", map[string]any{"hours": int64(3)}, &ToolCall{Kind: Diagnostic, Name: "recent_errors", Args: map[string]any{"hours": int64(3)}}},
		{"proposal", Whitelist{}, ProposeTool, map[string]any{"name": "clear_temp", "reason": "full"}, &ToolCall{Kind: Remediation, Name: "clear_temp", Args: map[string]any{}, Reason: "full"}},
		{"shell", Whitelist{}, "run_shell", map[string]any{"command": "id"}, nil},
		{"a fix called as a diagnostic", Whitelist{}, "clear_temp", nil, nil},
		{"NaN hours", Whitelist{}, "recent_errors", map[string]any{"hours": 0.5}, nil},
		{"company's list", Whitelist{Allow: []string{"cpu"}}, "memory", nil, nil},
		{"empty list allows nothing", Whitelist{Allow: []string{}}, "cpu", nil, nil},
	} {
		got, err := tc.w.Check(tc.tool, tc.args)
		if tc.want == nil {
			var r *ToolRefusal
			if !errors.Is(err, ErrToolRefused) || !errors.As(err, &r) || r.Reason == "" {
				t.Errorf("%s: got %+v, %v; want a refusal", tc.name, got, err)
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

func TestCheckRemediation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		w    Whitelist
		name string
		ok   bool
	}{
		{Whitelist{}, "flush_dns", true},
		{Whitelist{}, "cpu", false},
		{Whitelist{}, "rm -rf /", false},
		{Whitelist{Allow: []string{"flush_dns"}}, "clear_temp", false},
		{Whitelist{Allow: []string{"clear_temp"}}, "clear_temp", true},
	} {
		err := tc.w.CheckRemediation(tc.name)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrToolRefused)) {
			t.Errorf("%v CheckRemediation(%q) = %v", tc.w, tc.name, err)
		}
	}
}
