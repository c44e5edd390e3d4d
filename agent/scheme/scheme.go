// Package scheme registers the installed agent as the handler of
// peerdesk:// links, so that the portal's "Open the installed peerdesk
// agent" (peerdesk://session/CODE) starts it with the code.
//
// # What gets registered
//
//   - Linux: a desktop entry, peerdesk-agent.desktop, with
//     MimeType=x-scheme-handler/peerdesk and Exec="<agent>" %u, in
//     /usr/share/applications when installing system-wide (as root) or in
//     the user's $XDG_DATA_HOME/applications (~/.local/share/applications)
//     otherwise; then `xdg-mime default` makes it the handler where
//     xdg-mime is installed, and `update-desktop-database` refreshes the
//     system's cache where it is installed.
//   - Windows: HKEY_CLASSES_ROOT\peerdesk with "URL Protocol" and
//     shell\open\command = "<agent>" "%1".
//   - elsewhere: [errors.ErrUnsupported] (a macOS URL scheme belongs in an
//     app bundle's Info.plist, which the agent does not ship).
//
// The agent handles the link as its only argument (see cmd/peerdesk-agent).
//
// # Usage
//
//	where, err := scheme.Register(ctx, scheme.Config{Exe: exe, System: os.Geteuid() == 0})
//	err = scheme.Unregister(ctx, scheme.Config{System: true})
package scheme

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// Scheme is the URL scheme the agent handles.
const Scheme = "peerdesk"

// ErrBadExe is returned for an executable path that cannot be registered:
// not absolute, or holding a control character.
var ErrBadExe = errors.New("scheme: the agent's path must be absolute and printable")

// Config says what to register and where.
type Config struct {
	// Exe is the agent executable's absolute path (Register only).
	Exe string
	// System registers for every user of the machine (Linux: in
	// /usr/share/applications, which needs root); otherwise for the
	// current user. Windows always registers in HKEY_CLASSES_ROOT.
	System bool
	// Run runs a helper program (xdg-mime, update-desktop-database) if it
	// is installed; nil runs it with os/exec when it is on $PATH.
	Run func(ctx context.Context, name string, args ...string) error
}

func (c Config) run(ctx context.Context, name string, args ...string) error {
	if c.Run != nil {
		return c.Run(ctx, name, args...)
	}
	if _, err := exec.LookPath(name); err != nil {
		return nil // not installed: nothing to refresh
	}
	if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func checkExe(exe string) error {
	if !filepath.IsAbs(exe) || strings.ContainsFunc(exe, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("%w: %q", ErrBadExe, exe)
	}
	return nil
}
