package inventory

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/shirou/gopsutil/v4/host"
)

func TestLoggedOnUser(t *testing.T) {
	for _, tc := range []struct {
		name  string
		users []host.UserStat
		want  string
	}{
		{name: "nobody"},
		{name: "one console user", users: []host.UserStat{{User: "anna", Terminal: "tty1", Started: 100}}, want: "anna"},
		{name: "X display counts as local", users: []host.UserStat{
			{User: "root", Terminal: "pts/0", Host: "203.0.113.9", Started: 50},
			{User: "ben", Terminal: ":0", Host: ":0", Started: 200},
		}, want: "ben"},
		{name: "a local session beats an earlier remote one", users: []host.UserStat{
			{User: "admin", Terminal: "pts/1", Host: "10.0.0.5", Started: 1},
			{User: "carla", Terminal: "seat0", Started: 500},
		}, want: "carla"},
		{name: "earliest local session", users: []host.UserStat{
			{User: "late", Terminal: "tty2", Started: 900},
			{User: "early", Terminal: "tty1", Started: 300},
		}, want: "early"},
		{name: "first listed on a tie", users: []host.UserStat{
			{User: "first", Terminal: "tty1", Started: 300},
			{User: "second", Terminal: "tty2", Started: 300},
		}, want: "first"},
		{name: "only remote sessions", users: []host.UserStat{
			{User: "ops", Terminal: "pts/0", Host: "198.51.100.1", Started: 20},
			{User: "dev", Terminal: "pts/1", Host: "198.51.100.2", Started: 10},
		}, want: "dev"},
		{name: "empty names skipped", users: []host.UserStat{{User: "  ", Terminal: "tty1"}, {User: "dora", Terminal: "tty2", Started: 5}}, want: "dora"},
		{name: "bounded", users: []host.UserStat{{User: strings.Repeat("u", 1000), Terminal: "tty1"}}, want: strings.Repeat("u", maxString)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := loggedOnUser(tc.users); got != tc.want {
				t.Errorf("loggedOnUser = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDMIValue(t *testing.T) {
	for in, want := range map[string]string{
		"PF2ABCDE\n":                 "PF2ABCDE",
		"LENOVO\n":                   "LENOVO",
		"  Dell Inc.  \n":            "Dell Inc.",
		"ThinkPad\x00 X1\n":          "ThinkPad X1",
		"To Be Filled By O.E.M.\n":   "",
		"Default string\n":           "",
		"System Serial Number\n":     "",
		"0\n":                        "",
		"\n":                         "",
		"":                           "",
		strings.Repeat("S", 999):     strings.Repeat("S", maxString),
		"caf\xe9 serial\n":           "caf\uFFFD serial",
		"System Product Name   \n\n": "",
	} {
		if got := dmiValue([]byte(in)); got != want {
			t.Errorf("dmiValue(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzDMIValue reads arbitrary bytes as a DMI field from sysfs (firmware
// writes them): dmiValue never panics and returns a value that is at most
// maxString bytes of valid UTF-8, without NUL or surrounding white space,
// not a known placeholder, and that cleans to itself.
func FuzzDMIValue(f *testing.F) {
	for _, seed := range []string{
		"PF2ABCDE\n", "  Dell Inc.  \n", "ThinkPad\x00 X1\n", "To Be Filled By O.E.M.\n", "0\x00\n", "\n", "",
		"caf\xe9 serial\n", "System Product Name   \n\n", "\x00 none \x00", "N/\x00A",
		strings.Repeat("é", maxString), strings.Repeat("\xff", maxString+1),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		v := dmiValue(raw)
		if v == "" {
			return
		}
		switch {
		case len(v) > maxString || !utf8.ValidString(v) || strings.ContainsRune(v, 0):
			t.Fatalf("dmiValue(%q) = %q: not bounded, valid UTF-8 without NUL", raw, v)
		case strings.TrimSpace(v) != v:
			t.Fatalf("dmiValue(%q) = %q: not trimmed", raw, v)
		case slices.Contains(dmiPlaceholders, strings.ToLower(v)):
			t.Fatalf("dmiValue(%q) = %q, a placeholder", raw, v)
		case dmiValue([]byte(v)) != v:
			t.Fatalf("dmiValue(%q) = %q, which cleans to %q", raw, v, dmiValue([]byte(v)))
		}
	})
}
