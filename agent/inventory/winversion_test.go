package inventory

import (
	"strings"
	"testing"
)

func TestWindowsEdition(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		v    winVersion
		want string
	}{
		{name: "nothing set"},
		{name: "Windows 10", v: winVersion{ProductName: "Windows 10 Pro", EditionID: "Professional", Build: "19045"},
			want: "Microsoft Windows 10 Pro"},
		{name: "Windows 11 still says 10 in the registry", v: winVersion{ProductName: "Windows 10 Pro", Build: "22631"},
			want: "Microsoft Windows 11 Pro"},
		{name: "the first Windows 11 build", v: winVersion{ProductName: "Windows 10 Enterprise", Build: "22000"},
			want: "Microsoft Windows 11 Enterprise"},
		{name: "the last Windows 10 build is left alone", v: winVersion{ProductName: "Windows 10 Enterprise LTSC 2021", Build: "21999"},
			want: "Microsoft Windows 10 Enterprise LTSC 2021"},
		{name: "a server past 22000 is not renamed", v: winVersion{ProductName: "Windows Server 2025 Datacenter", Build: "26100"},
			want: "Microsoft Windows Server 2025 Datacenter"},
		{name: "Windows 7 with its service pack (Wine 8.0's prefix)", v: winVersion{ProductName: "Microsoft Windows 7", CSDVersion: "Service Pack 1", Build: "7601"},
			want: "Microsoft Windows 7 Service Pack 1"},
		{name: "no ProductName: the EditionID", v: winVersion{EditionID: "ServerDatacenter", Build: "20348"},
			want: "Microsoft Windows ServerDatacenter"},
		{name: "white space folded", v: winVersion{ProductName: "  Windows 10\tHome  ", CSDVersion: " ", Build: "x"},
			want: "Microsoft Windows 10 Home"},
		{name: "a garbage build number does not rename", v: winVersion{ProductName: "Windows 10 Home", Build: "99999999999"},
			want: "Microsoft Windows 10 Home"},
		{name: "bounded", v: winVersion{ProductName: strings.Repeat("W", 1000)}, want: "Microsoft " + strings.Repeat("W", maxString-len("Microsoft "))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := windowsEdition(tc.v); got != tc.want {
				t.Errorf("windowsEdition(%+v) = %q, want %q", tc.v, got, tc.want)
			}
		})
	}
}

func TestWindowsBuild(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		v    winVersion
		want string
	}{
		{name: "Windows 11 with its UBR", v: winVersion{CurrentVersion: "6.3", Major: 10, HasMajor: true, Build: "22631", UBR: 4460, HasUBR: true},
			want: "10.0.22631.4460"},
		{name: "a UBR of 0 is kept", v: winVersion{Major: 10, HasMajor: true, Build: "26100", HasUBR: true},
			want: "10.0.26100.0"},
		{name: "Windows 7: no major number, no UBR", v: winVersion{CurrentVersion: "6.1", Build: "7601"},
			want: "6.1.7601"},
		{name: "the major number beats CurrentVersion", v: winVersion{CurrentVersion: "6.3", Major: 10, HasMajor: true, Build: "19045"},
			want: "10.0.19045"},
		{name: "no build number", v: winVersion{Major: 10, HasMajor: true, UBR: 1, HasUBR: true}},
		{name: "a build number that is not a number", v: winVersion{Major: 10, HasMajor: true, Build: "22631.1"}},
		{name: "a negative build number", v: winVersion{CurrentVersion: "6.1", Build: "-1"}},
		{name: "an absurd build number", v: winVersion{CurrentVersion: "6.1", Build: "1234567890"}},
		{name: "no version at all", v: winVersion{Build: "7601"}},
		{name: "a CurrentVersion that is not N.N", v: winVersion{CurrentVersion: "6.1.2", Build: "7601"}},
		{name: "a CurrentVersion with letters", v: winVersion{CurrentVersion: "six.1", Build: "7601"}},
		{name: "spaces around the build", v: winVersion{CurrentVersion: "6.1", Build: " 7601 "}, want: "6.1.7601"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := windowsBuild(tc.v); got != tc.want {
				t.Errorf("windowsBuild(%+v) = %q, want %q", tc.v, got, tc.want)
			}
		})
	}
}

func TestSessionUser(t *testing.T) {
	t.Parallel()
	services := wtsSession{ID: 0, Station: "Services", State: wtsDisconnected}
	for _, tc := range []struct {
		name     string
		sessions []wtsSession
		console  uint32
		want     string
	}{
		{name: "no sessions", console: 1},
		{name: "only session 0 and the logon screen", console: 1, sessions: []wtsSession{
			services, {ID: 1, Station: "Console", State: wtsConnected},
		}},
		{name: "the console user", console: 1, sessions: []wtsSession{
			services, {ID: 1, Station: "Console", State: wtsActive, User: "anna", Domain: "CONTOSO"},
		}, want: `CONTOSO\anna`},
		{name: "the console beats an earlier remote desktop", console: 3, sessions: []wtsSession{
			services,
			{ID: 2, Station: "RDP-Tcp#0", State: wtsActive, User: "admin", Domain: "CONTOSO"},
			{ID: 3, Station: "Console", State: wtsActive, User: "ben", Domain: "PC-17"},
		}, want: `PC-17\ben`},
		{name: "a remote desktop when the console shows the logon screen", console: 1, sessions: []wtsSession{
			{ID: 1, Station: "Console", State: wtsConnected},
			{ID: 4, Station: "RDP-Tcp#2", State: wtsActive, User: "ops", Domain: "CONTOSO"},
		}, want: `CONTOSO\ops`},
		{name: "an active session beats a disconnected one", console: 1, sessions: []wtsSession{
			{ID: 2, State: wtsDisconnected, User: "left", Domain: "D"},
			{ID: 5, State: wtsActive, User: "here", Domain: "D"},
		}, want: `D\here`},
		{name: "a disconnected session when nobody is active (fast user switching)", console: 1, sessions: []wtsSession{
			{ID: 1, Station: "Console", State: wtsConnected},
			{ID: 2, State: wtsDisconnected, User: "carla", Domain: "PC"},
		}, want: `PC\carla`},
		{name: "a connected session beats a disconnected one", console: 9, sessions: []wtsSession{
			{ID: 2, State: wtsDisconnected, User: "b", Domain: "D"},
			{ID: 3, State: wtsConnected, User: "a", Domain: "D"},
		}, want: `D\a`},
		{name: "lowest session ID on a tie", console: 1, sessions: []wtsSession{
			{ID: 7, State: wtsActive, User: "seven"},
			{ID: 6, State: wtsActive, User: "six"},
		}, want: "six"},
		{name: "the console ID alone does not win: it must be active", console: 2, sessions: []wtsSession{
			{ID: 2, State: wtsDisconnected, User: "gone", Domain: "D"},
			{ID: 8, State: wtsActive, User: "rdp", Domain: "D"},
		}, want: `D\rdp`},
		{name: "no domain", console: 1, sessions: []wtsSession{{ID: 1, State: wtsActive, User: " dora "}}, want: "dora"},
		{name: "blank users skipped", console: 1, sessions: []wtsSession{
			{ID: 1, State: wtsActive, User: "   ", Domain: "D"},
			{ID: 2, State: wtsDisconnected, User: "eve", Domain: "D"},
		}, want: `D\eve`},
		{name: "bounded", console: 1, sessions: []wtsSession{{ID: 1, State: wtsActive, User: strings.Repeat("u", 1000), Domain: "D"}},
			want: `D\` + strings.Repeat("u", maxString-2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := sessionUser(tc.sessions, tc.console); got != tc.want {
				t.Errorf("sessionUser = %q, want %q", got, tc.want)
			}
		})
	}
}
