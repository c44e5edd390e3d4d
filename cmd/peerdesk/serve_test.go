package main

import (
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/support"
)

// TestParseCodeTTL: -code-ttl takes a duration up to a week or "never";
// anything else is refused with the flag's name.
func TestParseCodeTTL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{"30m": 30 * time.Minute, "2h": 2 * time.Hour, "168h": support.MaxCodeTTL, "never": support.NoExpiry} {
		if got, err := parseCodeTTL(in); err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-5m", "169h", "forever", "1 hour"} {
		if got, err := parseCodeTTL(in); err == nil {
			t.Errorf("%q accepted as %v", in, got)
		}
	}
}
