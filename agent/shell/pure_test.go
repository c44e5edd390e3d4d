package shell

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"
)

func TestLines(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", MaxLine+10)
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"enter", "ls -l\r", []string{"ls -l"}},
		{"crlf is one enter", "a\r\nb\n", []string{"a", "b"}},
		{"empty lines skipped", "\r\r  \r", nil},
		{"backspace", "lss\x7f -l\r", []string{"ls -l"}},
		{"backspace over utf-8", "caf\u00e9\x7fe\r", []string{"cafe"}},
		{"ctrl-u", "rm -rf /\x15ls\r", []string{"ls"}},
		{"ctrl-c", "rm -rf /\x03", nil},
		{"ctrl-w", "git push --force\x17origin\r", []string{"git push origin"}},
		{"arrows dropped", "\x1b[Als\x1bOB\r", []string{"ls"}},
		{"bracketed paste", "\x1b[200~echo hi\x1b[201~\r", []string{"echo hi"}},
		{"tab", "cd\tdir\r", []string{"cd dir"}},
		{"terminal's answers dropped", "\x1b]10;rgb:ffff/ffff/ffff\x1b\\\x1b]11;rgb:0000/0000/0000\x07:q\r", []string{":q"}},
		{"device status answer dropped", "ls\x1b[12;1R\r", []string{"ls"}},
		{"dcs dropped", "\x1bP1$r0m\x1b\\ok\r", []string{"ok"}},
		{"no enter, nothing", "typed but not sent", nil},
		{"bounded", long + "\r", []string{strings.Repeat("x", MaxLine) + " (cut)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var l lines
			var got []string
			// fed byte by byte and whole: the same lines
			for _, chunks := range [][]string{{tc.in}, strings.Split(tc.in, "")} {
				got = nil
				l = lines{}
				for _, c := range chunks {
					l.feed([]byte(c), func(line string, cut bool) {
						if cut {
							line += " (cut)"
						}
						got = append(got, line)
					})
				}
				if d := cmp.Diff(tc.want, got); d != "" {
					t.Errorf("%d chunks (-want +got):\n%s", len(chunks), d)
				}
			}
		})
	}
}

func TestShellFor(t *testing.T) {
	t.Parallel()
	has := func(paths ...string) func(string) bool {
		return func(p string) bool {
			for _, x := range paths {
				if x == p {
					return true
				}
			}
			return false
		}
	}
	for _, tc := range []struct {
		goos, name, root string
		exists           func(string) bool
		want             string
		err              error
	}{
		{"linux", "", "", has("/bin/bash", "/bin/sh"), "/bin/bash", nil},
		{"linux", "", "", has("/bin/sh"), "/bin/sh", nil},
		{"linux", "sh", "", has("/bin/bash", "/usr/bin/sh"), "/usr/bin/sh", nil},
		{"linux", "bash", "", has("/bin/sh"), "", ErrNoShell},
		{"linux", "cmd", "", has("/bin/sh"), "", ErrNoShell},
		{"linux", "", "", has(), "", ErrNoShell},
		{"windows", "", `D:\Win\`, has(`D:\Win\System32\WindowsPowerShell\v1.0\powershell.exe`, `D:\Win\System32\cmd.exe`), `D:\Win\System32\WindowsPowerShell\v1.0\powershell.exe`, nil},
		{"windows", "", "", has(`C:\Windows\System32\cmd.exe`), `C:\Windows\System32\cmd.exe`, nil},
		{"windows", "cmd", "", has(`C:\Windows\System32\cmd.exe`), `C:\Windows\System32\cmd.exe`, nil},
		{"windows", "bash", "", has("/bin/bash"), "", ErrNoShell},
	} {
		p, err := shellFor(tc.goos, tc.name, tc.root, tc.exists)
		if !errors.Is(err, tc.err) || p.Path != tc.want {
			t.Errorf("%s %q: %v, %v; want %q, %v", tc.goos, tc.name, p.Path, err, tc.want, tc.err)
		}
	}
}

func TestEnvBlock(t *testing.T) {
	t.Parallel()
	got := envBlock([]string{"A=1", "B=\u00e9", "BAD=\x00x"})
	want := append(utf16.Encode([]rune("A=1\x00B=\u00e9\x00")), 0)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if d := cmp.Diff([]uint16{0, 0}, envBlock(nil)); d != "" {
		t.Errorf("empty block (-want +got):\n%s", d)
	}
}
