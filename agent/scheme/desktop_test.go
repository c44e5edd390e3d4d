package scheme

import (
	"testing"
)

func TestExecArg(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ path, want string }{
		{"/usr/local/bin/peerdesk-agent", `"/usr/local/bin/peerdesk-agent"`},
		{"/opt/peer desk/agent", `"/opt/peer desk/agent"`},
		{`/opt/a"b`, `"/opt/a\\"b"`},
		{"/opt/$HOME/`x`", "\"/opt/\\\\$HOME/\\\\`x\\\\`\""},
		{`/opt/back\slash`, `"/opt/back\\\\slash"`},
		{"/opt/100%/agent", `"/opt/100%%/agent"`},
	} {
		if got := execArg(tc.path); got != tc.want {
			t.Errorf("execArg(%q) = %s, want %s", tc.path, got, tc.want)
		}
	}
}

func TestCheckExe(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "peerdesk-agent", "./peerdesk-agent", "/opt/agent\nExec=/bin/evil", "/opt/a\x00b"} {
		if err := checkExe(bad); err == nil {
			t.Errorf("checkExe(%q) accepted", bad)
		}
	}
	if err := checkExe("/usr/local/bin/peerdesk-agent"); err != nil {
		t.Error(err)
	}
}
