package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestShellRequestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, r := range []ShellRequest{
		{},
		{Shell: "bash", Cols: 120, Rows: 40, Idle: time.Minute, Max: time.Hour},
		{Command: []string{"sh", "-c", "exit 3"}, TTY: true},
		{Command: []string{"echo", "a b&c=d", "ünï"}},
	} {
		got, err := ParseShellRequest(r.Query())
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		if len(r.Command) == 0 {
			r.Command = nil
		}
		if len(got.Command) == 0 {
			got.Command = nil
		}
		if d := cmp.Diff(r, got); d != "" {
			t.Errorf("round trip (-want +got):\n%s", d)
		}
	}
}

func TestParseShellRequestRefuses(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", MaxShellArgLen+1)
	for _, q := range []string{
		"shell=zsh", "shell=bash&shell=sh", "cols=0", "cols=1001", "rows=x", "idle=0", "max=86401",
		"tty=2", "nope=1", "arg=", "arg=" + long, "arg=a%00b", "arg=%ff", "cols=1&cols=2",
		strings.Repeat("arg=a&", MaxShellArgs+1),
	} {
		if _, err := ParseShellRequest(q); !errors.Is(err, ErrShellRequest) {
			t.Errorf("%.60q: %v, want ErrShellRequest", q, err)
		}
	}
}

func TestShellFrames(t *testing.T) {
	t.Parallel()
	for _, f := range []ShellFrame{
		{Type: ShellInput, Data: []byte("ls\r")},
		{Type: ShellOutput, Data: []byte("x")},
		{Type: ShellStderr, Data: []byte("oops")},
		{Type: ShellEOF},
		{Type: ShellResize, Cols: 132, Rows: 43},
		{Type: ShellExit, Exit: ShellExitStatus{Code: 3, Reason: ShellExited}},
		{Type: ShellExit, Exit: ShellExitStatus{Code: -1, Signal: "killed", Reason: ShellEnded, Message: "the user ended it"}},
	} {
		got, err := DecodeShellFrame(EncodeShellFrame(f))
		if err != nil {
			t.Fatalf("%+v: %v", f, err)
		}
		if len(got.Data) == 0 {
			got.Data = nil
		}
		if d := cmp.Diff(f, got); d != "" {
			t.Errorf("(-want +got):\n%s", d)
		}
	}
	for _, b := range [][]byte{
		nil, {'?'}, {ShellResize, 0, 0, 0, 1}, {ShellResize, 3, 233, 0, 1}, {ShellResize, 0, 80},
		{ShellEOF, 1}, append([]byte{ShellInput}, bytes.Repeat([]byte("a"), MaxShellFrame+1)...),
		[]byte(`x{"code":0,"reason":"whatever"}`), []byte(`x{`),
	} {
		if _, err := DecodeShellFrame(b); !errors.Is(err, ErrShellRequest) {
			t.Errorf("%.40q: %v, want ErrShellRequest", b, err)
		}
	}
}

// FuzzShellFrame: any message decodes or is refused; what decodes encodes
// back to a frame that decodes the same.
func FuzzShellFrame(f *testing.F) {
	for _, s := range []string{"ils\r", "r\x00\x50\x00\x18", "e", "ohello", "Eerr", `x{"code":3,"reason":"exited"}`, "", "?"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeShellFrame(b)
		if err != nil {
			return
		}
		again, err := DecodeShellFrame(EncodeShellFrame(fr))
		if err != nil {
			t.Fatalf("re-encoded frame refused: %v", err)
		}
		if !bytes.Equal(again.Data, fr.Data) || again.Cols != fr.Cols || again.Rows != fr.Rows || again.Exit != fr.Exit {
			t.Fatalf("%+v re-decoded as %+v", fr, again)
		}
	})
}

// FuzzParseShellRequest: any query is refused or yields a request within
// the bounds, which encodes to a query that parses the same.
func FuzzParseShellRequest(f *testing.F) {
	for _, s := range []string{"", "shell=bash&cols=80&rows=24", "arg=sh&arg=-c&arg=exit+3&tty=1", "idle=60&max=3600", "arg=%00", "cols=-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		r, err := ParseShellRequest(q)
		if err != nil {
			return
		}
		if len(r.Command) > MaxShellArgs || r.Cols > MaxShellCols || r.Rows > MaxShellRows || r.Idle < 0 || r.Max > 24*time.Hour {
			t.Fatalf("out of bounds: %+v", r)
		}
		again, err := ParseShellRequest(r.Query())
		if err != nil {
			t.Fatalf("re-encoded request refused: %v", err)
		}
		if again.Shell != r.Shell || again.TTY != r.TTY || again.Cols != r.Cols || again.Idle != r.Idle || len(again.Command) != len(r.Command) {
			t.Fatalf("%+v re-parsed as %+v", r, again)
		}
	})
}
