// Package apps is the installed-applications capability (wire.CapApps,
// issue 13 item 4, R4): the technician reads the machine's software
// inventory.
//
// # Overview
//
// A [Handler] serves wire.PeerPathApps (GET → wire.AppList). On Linux it
// parses the dpkg database (/var/lib/dpkg/status, [ParseDpkgStatus]) and,
// when an rpm binary is installed, lists RPM packages with `rpm -qa
// --queryformat` ([ParseRPM]); a database it cannot read is named in the
// list's notes, in words. On Windows it reads the uninstall registry keys
// (HKLM and HKCU, the 64- and 32-bit views). Elsewhere it is
// errors.ErrUnsupported.
//
// It reads an inventory and changes nothing, so it is a peer.ConsentNever
// row (policy.AttendedConsent does not list apps); the gate still checks
// the grant and audits the call.
package apps

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/wire"
)

// Handler serves wire.PeerPathApps.
type Handler struct {
	// List reads the inventory; List (this system's) if nil.
	List   func(ctx context.Context) (wire.AppList, error)
	Logger *slog.Logger
}

// Capability is what a caller's grant must include.
func (Handler) Capability() wire.Capability { return wire.CapApps }

// ServePeer answers the list.
func (h Handler) ServePeer(w http.ResponseWriter, r *http.Request, _ gate.Caller) {
	list := h.List
	if list == nil {
		list = List
	}
	l, err := list(r.Context())
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		gate.WriteError(w, http.StatusNotImplemented, wire.CodeBadRequest, "listing applications is not supported on this system")
		return
	case err != nil:
		if h.Logger != nil {
			h.Logger.Error("listing applications", "err", err)
		}
		gate.WriteError(w, http.StatusInternalServerError, wire.CodeInternal, "the applications could not be listed")
		return
	}
	if len(l.Apps) > wire.MaxApps {
		l.Apps, l.Truncated = l.Apps[:wire.MaxApps], true
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(l); err != nil {
		return // the technician left
	}
}

// DpkgStatus is the dpkg database's status file.
const DpkgStatus = "/var/lib/dpkg/status"

// Limits of the parsers.
const (
	maxLine   = 1 << 20 // bytes of one line of a package database
	maxField  = 512     // bytes kept of one field
	maxDBSize = 256 << 20
)

// ErrTooLarge: a database line or the database itself exceeds the limits.
var ErrTooLarge = errors.New("apps: the package database is larger than the agent reads")

// ParseDpkgStatus reads a dpkg status file: one paragraph per package,
// kept when its Status says "installed". Fields are cut to 512 bytes, the
// description to its first line; Installed-Size (KiB) becomes bytes. It
// stops with ErrTooLarge at a line over 1 MiB or after wire.MaxApps
// packages (the list is then marked truncated by the caller).
func ParseDpkgStatus(r io.Reader) ([]wire.App, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var out []wire.App
	var cur wire.App
	installed, field := false, ""
	flush := func() {
		if installed && cur.Name != "" && len(out) < wire.MaxApps+1 {
			cur.Source = "dpkg"
			out = append(out, cur)
		}
		cur, installed, field = wire.App{}, false, ""
	}
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			flush()
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // a continuation line: only descriptions have them, and only their first line is kept
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			field = ""
			continue
		}
		field = string(k)
		val := clean(string(bytes.TrimSpace(v)))
		switch field {
		case "Package":
			cur.Name = val
		case "Status":
			f := strings.Fields(val)
			installed = len(f) == 3 && f[2] == "installed"
		case "Version":
			cur.Version = val
		case "Architecture":
			cur.Architecture = val
		case "Maintainer":
			cur.Publisher = val
		case "Installed-Size":
			if n, err := strconv.ParseUint(val, 10, 64); err == nil && n < 1<<44 {
				cur.Size = n << 10
			}
		case "Description":
			cur.Description = val
		}
		if len(out) > wire.MaxApps {
			break
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return out, ErrTooLarge
		}
		return out, fmt.Errorf("apps: reading the dpkg database: %w", err)
	}
	flush()
	sortApps(out)
	return out, nil
}

// clean cuts s to maxField bytes at a character boundary and drops
// control characters.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) <= maxField {
		return s
	}
	n := maxField
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}

// RPMQueryFormat is the --queryformat ParseRPM reads: tab-separated name,
// version-release, architecture, size (bytes), install time (Unix
// seconds), vendor and summary, one package a line.
const RPMQueryFormat = `%{NAME}\t%{VERSION}-%{RELEASE}\t%{ARCH}\t%{SIZE}\t%{INSTALLTIME}\t%{VENDOR}\t%{SUMMARY}\n`

// ParseRPM reads the output of rpm -qa --queryformat RPMQueryFormat.
func ParseRPM(r io.Reader) ([]wire.App, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var out []wire.App
	for sc.Scan() && len(out) <= wire.MaxApps {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 7 || f[0] == "" {
			continue
		}
		a := wire.App{Name: clean(f[0]), Version: clean(f[1]), Architecture: clean(f[2]), Publisher: clean(none(f[5])),
			Description: clean(f[6]), Source: "rpm"}
		if n, err := strconv.ParseUint(f[3], 10, 64); err == nil {
			a.Size = n
		}
		if t, err := strconv.ParseInt(f[4], 10, 64); err == nil && t > 0 && t < 1<<40 {
			a.Installed = unixDate(t)
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return out, ErrTooLarge
		}
		return out, fmt.Errorf("apps: reading rpm's list: %w", err)
	}
	sortApps(out)
	return out, nil
}

// none is rpm's "(none)" as empty.
func none(s string) string {
	if s == "(none)" {
		return ""
	}
	return s
}

func sortApps(a []wire.App) {
	slices.SortStableFunc(a, func(x, y wire.App) int {
		if c := strings.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name)); c != 0 {
			return c
		}
		return strings.Compare(x.Architecture, y.Architecture)
	})
}
