package inventory

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/shirou/gopsutil/v4/host"

	"github.com/peerdesk/peerdesk/wire"
)

// osFact reads facts that only some operating systems give (facts_linux.go,
// facts_other.go) into inv. read returns an error only when the source
// should have been readable; a fact the machine simply lacks (no default
// route, nobody logged on) is left empty without one. An optional fact
// never fails (its read returns nil even when it read nothing), so it does
// not count as a part Collect could read.
type osFact struct {
	name     string
	optional bool
	read     func(ctx context.Context, inv *wire.Inventory) error
}

// loggedOnUser returns the user of the first interactive session: a local
// one (console, seat or X display) if any, else a remote one; within each,
// the earliest started, then the first listed. "" if nobody is logged on.
func loggedOnUser(users []host.UserStat) string {
	var local, remote []host.UserStat
	for _, u := range users {
		switch {
		case strings.TrimSpace(u.User) == "":
		case u.Host == "" || strings.HasPrefix(u.Host, ":"):
			local = append(local, u)
		default:
			remote = append(remote, u)
		}
	}
	earliest := func(a, b host.UserStat) int { return cmp.Compare(a.Started, b.Started) }
	for _, us := range [][]host.UserStat{local, remote} {
		if len(us) > 0 {
			return bound(strings.TrimSpace(slices.MinFunc(us, earliest).User))
		}
	}
	return ""
}

// dmiPlaceholders are values firmware vendors leave in DMI fields instead
// of a real serial number, maker or model.
var dmiPlaceholders = []string{
	"", "none", "n/a", "na", "not applicable", "not specified", "default string",
	"to be filled by o.e.m.", "to be filled by oem", "o.e.m.", "oem", "system serial number",
	"system manufacturer", "system product name", "system version", "0", "00000000",
	"0123456789", "123456789", "chassis serial number", "type1productconfigid",
}

// dmiValue cleans one DMI field: trimmed, NUL-free, bounded, and empty if
// it is a known placeholder rather than a real value.
func dmiValue(raw []byte) string {
	// Trimmed again once bounded: the cut can end on white space.
	s := strings.TrimSpace(bound(strings.TrimSpace(strings.ReplaceAll(string(raw), "\x00", ""))))
	if slices.Contains(dmiPlaceholders, strings.ToLower(s)) {
		return ""
	}
	return s
}
