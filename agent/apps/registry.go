package apps

import (
	"strings"

	"github.com/peerdesk/peerdesk/wire"
)

// UninstallKey is the registry key, under HKLM and HKCU, whose subkeys are
// the installed applications.
const UninstallKey = `SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall`

// regEntry is the values of one uninstall subkey that the list uses.
type regEntry struct {
	DisplayName, DisplayVersion, Publisher, InstallDate string
	EstimatedSize                                       uint64 // KiB
	SystemComponent                                     bool   // hidden from Programs and Features
	ParentKeyName                                       string // an update of another entry
	Arch                                                string // "x64" or "x86", from the view it was read in
}

// fromRegistry turns uninstall entries into apps as Programs and Features
// shows them: entries without a name, system components and updates are
// left out, and an application seen in two views or hives is listed once.
func fromRegistry(entries []regEntry) []wire.App {
	seen := map[string]bool{}
	var out []wire.App
	for _, e := range entries {
		name := clean(strings.TrimSpace(e.DisplayName))
		if name == "" || e.SystemComponent || e.ParentKeyName != "" {
			continue
		}
		k := strings.ToLower(name) + "\x00" + e.DisplayVersion + "\x00" + e.Arch
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, wire.App{Name: name, Version: clean(e.DisplayVersion), Publisher: clean(e.Publisher),
			Installed: installDate(e.InstallDate), Size: e.EstimatedSize << 10, Architecture: e.Arch, Source: "registry"})
		if len(out) > wire.MaxApps {
			break
		}
	}
	sortApps(out)
	return out
}

// installDate turns the registry's YYYYMMDD into YYYY-MM-DD; anything
// else is kept as written (cut and cleaned).
func installDate(s string) string {
	s = strings.TrimSpace(s)
	if len(s) == 8 && strings.Trim(s, "0123456789") == "" {
		return s[:4] + "-" + s[4:6] + "-" + s[6:]
	}
	return clean(s)
}
