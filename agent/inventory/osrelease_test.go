package inventory

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestParseOSRelease(t *testing.T) {
	for _, tc := range []struct {
		name  string
		data  string
		want  map[string]string
		build string
	}{
		{name: "Debian", data: `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
`, want: map[string]string{"PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)", "NAME": "Debian GNU/Linux", "VERSION_ID": "12",
			"VERSION": "12 (bookworm)", "VERSION_CODENAME": "bookworm", "ID": "debian"}, build: "12 (bookworm)"},
		{name: "Arch: BUILD_ID", data: "NAME=\"Arch Linux\"\nID=arch\nBUILD_ID=rolling\n",
			want: map[string]string{"NAME": "Arch Linux", "ID": "arch", "BUILD_ID": "rolling"}, build: "rolling"},
		{name: "quoting and escapes", data: "A='single $quoted'\n" +
			"B=\"say \\\"hi\\\" \\\\ \\$HOME \\` \\n\"\n" +
			"C=\nD=\"\"\nE=plain\n# COMMENT=1\n  F=\"indented\"  \n", want: map[string]string{"A": "single $quoted", "B": "say \"hi\" \\ $HOME ` \\n", "C": "", "D": "", "E": "plain", "F": "indented"}},
		{name: "bad lines are skipped", data: `lower=1
1ABC=2
=3
NOEQUALS
UNTERMINATED="abc
TRAILING="abc"def
SPACES=a b
SQ='it's'
GOOD=yes
`, want: map[string]string{"GOOD": "yes"}},
		{name: "the last assignment wins", data: "ID=a\nID=b\n", want: map[string]string{"ID": "b"}},
		{name: "CRLF", data: "ID=debian\r\nVERSION=\"12\"\r\n", want: map[string]string{"ID": "debian", "VERSION": "12"}, build: "12"},
		{name: "empty", want: map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parseOSRelease([]byte(tc.data))
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("parseOSRelease (-want +got):\n%s", d)
			}
			if b := osBuild(got); b != tc.build {
				t.Errorf("osBuild = %q, want %q", b, tc.build)
			}
		})
	}
}

func TestParseOSReleaseBounds(t *testing.T) {
	var b strings.Builder
	for i := range 2 * maxOSReleaseKeys {
		b.WriteString("K")
		b.WriteString(strings.Repeat("X", i%7))
		b.WriteString(string(rune('A' + i%26)))
		b.WriteString(string(rune('A' + i/26)))
		b.WriteString("=" + strings.Repeat("v", 3*maxString) + "\n")
	}
	got := parseOSRelease([]byte(b.String()))
	if len(got) != maxOSReleaseKeys {
		t.Errorf("%d keys, want %d", len(got), maxOSReleaseKeys)
	}
	for k, v := range got {
		if len(v) > maxString {
			t.Errorf("%s is %d bytes long", k, len(v))
		}
	}
}

func FuzzParseOSRelease(f *testing.F) {
	f.Add([]byte("NAME=\"Debian GNU/Linux\"\nVERSION=\"12 (bookworm)\"\nID=debian\n"))
	f.Add([]byte("BUILD_ID='rolling'\nB=\"a\\\"b\"\n# c\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		got := parseOSRelease(data)
		if len(got) > maxOSReleaseKeys {
			t.Fatalf("%d keys", len(got))
		}
		for k, v := range got {
			if !validOSReleaseKey(k) || !strings.Contains(string(data), k+"=") {
				t.Fatalf("key %q", k)
			}
			if len(v) > maxString || !utf8.ValidString(v) {
				t.Fatalf("%s=%q is not bounded valid UTF-8", k, v)
			}
		}
		if b := osBuild(got); b != got["BUILD_ID"] && b != got["VERSION"] {
			t.Fatalf("osBuild = %q", b)
		}
	})
}
