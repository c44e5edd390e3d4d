package viewer_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/node"
	"github.com/peerdesk/peerdesk/viewer"
)

// Issue 12: the technician's terminal says why the overlay cannot come up.
func TestTellDiagnosis(t *testing.T) {
	t.Parallel()
	if viewer.TellDiagnosis(nil) != nil {
		t.Fatal("a nil terminal should tell nothing")
	}
	for _, r := range node.Reasons {
		var b bytes.Buffer
		viewer.TellDiagnosis(&b)(node.Diagnosis{Reason: r, Detail: "dial tcp 10.0.0.1:443: secret-ish detail"})
		out := b.String()
		if strings.Contains(out, "detail") {
			t.Errorf("%s: the terminal shows the log's detail: %q", r, out)
		}
		if r != node.ReasonConnecting && !strings.Contains(out, r.Words()) {
			t.Errorf("%s: %q does not say %q", r, out, r.Words())
		}
		if strings.Count(out, "\n") != 1 {
			t.Errorf("%s: want one line, got %q", r, out)
		}
	}
}
