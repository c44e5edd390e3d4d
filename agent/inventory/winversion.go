package inventory

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// The Windows facts' decisions and decoders (facts_windows.go reads the
// sources). They are plain Go, built on every platform, so their tests run
// on Linux.

// winVersion is what HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion
// says about the installed Windows.
type winVersion struct {
	ProductName    string // "Windows 10 Pro" (Windows 11 still says 10)
	EditionID      string // "Professional", "ServerDatacenter"
	CSDVersion     string // service pack, before Windows 8
	CurrentVersion string // "6.3" (fixed since Windows 8.1)
	Major, Minor   uint32 // CurrentMajorVersionNumber, CurrentMinorVersionNumber (Windows 10 and later)
	HasMajor       bool   // whether the two above were present
	Build          string // CurrentBuildNumber: "22631"
	UBR            uint32 // update build revision: the cumulative update's number
	HasUBR         bool
}

// firstWindows11Build is the first build Microsoft ships as Windows 11;
// its registry still names the product "Windows 10".
const firstWindows11Build = 22000

// windowsEdition is the edition the way gopsutil's Platform spells it on
// Windows ("Microsoft Windows 11 Pro"): ProductName, corrected to Windows
// 11 from build 22000 on, with the service pack if any. Without a
// ProductName it is built from the EditionID ("Microsoft Windows
// Professional"); "" if neither is set.
func windowsEdition(v winVersion) string {
	name := strings.Join(strings.Fields(v.ProductName), " ")
	if name == "" {
		id := strings.Join(strings.Fields(v.EditionID), " ")
		if id == "" {
			return ""
		}
		name = "Windows " + id
	}
	if b, ok := buildNumber(v.Build); ok && b >= firstWindows11Build && strings.Contains(name, "Windows 10") {
		name = strings.Replace(name, "Windows 10", "Windows 11", 1)
	}
	if !strings.HasPrefix(name, "Microsoft ") {
		name = "Microsoft " + name
	}
	if sp := strings.Join(strings.Fields(v.CSDVersion), " "); sp != "" {
		name += " " + sp
	}
	return bound(name)
}

// windowsBuild is the full version as `ver` prints it,
// major.minor.build.UBR ("10.0.22631.4460"); the UBR is left out where
// the registry has none (before Windows 10), and the version is
// CurrentVersion ("6.1") where the major and minor numbers are absent.
// "" if the build number is missing or not a number.
func windowsBuild(v winVersion) string {
	b, ok := buildNumber(v.Build)
	if !ok {
		return ""
	}
	var ver string
	switch {
	case v.HasMajor:
		ver = strconv.FormatUint(uint64(v.Major), 10) + "." + strconv.FormatUint(uint64(v.Minor), 10)
	case validDotted(v.CurrentVersion):
		ver = v.CurrentVersion
	default:
		return ""
	}
	s := ver + "." + strconv.FormatUint(b, 10)
	if v.HasUBR {
		s += "." + strconv.FormatUint(uint64(v.UBR), 10)
	}
	return s
}

// buildNumber parses a build number: decimal digits only, at most 9.
func buildNumber(s string) (uint64, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 9 || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return n, err == nil
}

// validDotted reports whether s is "N.N": two short decimal numbers.
func validDotted(s string) bool {
	a, b, ok := strings.Cut(s, ".")
	_, okA := buildNumber(a)
	_, okB := buildNumber(b)
	return ok && okA && okB && len(s) <= 9
}

// Session states of WTS_CONNECTSTATE_CLASS (wtsapi32.h).
const (
	wtsActive       = 0
	wtsConnected    = 1
	wtsDisconnected = 4
)

// wtsSession is one Windows session with the user logged on to it.
type wtsSession struct {
	ID      uint32
	Station string // window station: "Console", "RDP-Tcp#3", "Services"
	State   uint32 // wtsActive…
	User    string // "" if nobody is logged on to the session
	Domain  string // "CONTOSO", or the machine's name for a local account
}

// sessionUser returns the user a technician most likely means, as
// DOMAIN\user (user alone without a domain): the one at the physical
// console (session console, active) first, then one in any other active
// session (remote desktop), then one whose session is disconnected
// (switched away from, or a remote desktop left open); within each, the
// lowest session ID. Sessions without a user (session 0, the logon screen)
// are skipped. "" if nobody is logged on.
func sessionUser(sessions []wtsSession, console uint32) string {
	rank := func(s wtsSession) int {
		switch {
		case s.State == wtsActive && s.ID == console:
			return 0
		case s.State == wtsActive:
			return 1
		case s.State == wtsConnected:
			return 2
		default: // disconnected, idle, …
			return 3
		}
	}
	var users []wtsSession
	for _, s := range sessions {
		if strings.TrimSpace(s.User) != "" {
			users = append(users, s)
		}
	}
	if len(users) == 0 {
		return ""
	}
	s := slices.MinFunc(users, func(a, b wtsSession) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a.ID, b.ID))
	})
	user, domain := strings.TrimSpace(s.User), strings.TrimSpace(s.Domain)
	if domain == "" {
		return bound(user)
	}
	return bound(domain + `\` + user)
}
