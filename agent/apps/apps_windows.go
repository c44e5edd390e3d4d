package apps

import (
	"context"
	"errors"

	"golang.org/x/sys/windows/registry"

	"github.com/peerdesk/peerdesk/wire"
)

// List reads the uninstall keys of HKLM (64- and 32-bit views) and HKCU.
func List(ctx context.Context) (wire.AppList, error) {
	var entries []regEntry
	var l wire.AppList
	for _, src := range []struct {
		root   registry.Key
		access uint32
		arch   string
		name   string
	}{
		{registry.LOCAL_MACHINE, registry.WOW64_64KEY, "x64", `HKLM`},
		{registry.LOCAL_MACHINE, registry.WOW64_32KEY, "x86", `HKLM (32-bit)`},
		{registry.CURRENT_USER, registry.WOW64_64KEY, "x64", `HKCU`},
		{registry.CURRENT_USER, registry.WOW64_32KEY, "x86", `HKCU (32-bit)`},
	} {
		if ctx.Err() != nil {
			return wire.AppList{}, ctx.Err()
		}
		es, err := readUninstall(src.root, src.access, src.arch)
		if err != nil && !errors.Is(err, registry.ErrNotExist) {
			l.Notes = append(l.Notes, src.name+" could not be read: "+err.Error())
		}
		entries = append(entries, es...)
	}
	l.Apps = fromRegistry(entries)
	return l, nil
}

func readUninstall(root registry.Key, view uint32, arch string) ([]regEntry, error) {
	k, err := registry.OpenKey(root, UninstallKey, registry.ENUMERATE_SUB_KEYS|registry.QUERY_VALUE|view)
	if err != nil {
		return nil, err
	}
	defer k.Close()
	names, err := k.ReadSubKeyNames(wire.MaxApps)
	if err != nil && len(names) == 0 {
		return nil, err
	}
	var out []regEntry
	for _, n := range names {
		sk, err := registry.OpenKey(k, n, registry.QUERY_VALUE|view)
		if err != nil {
			continue
		}
		e := regEntry{Arch: arch}
		e.DisplayName, _, _ = sk.GetStringValue("DisplayName")       //nolint:errcheck // absent is empty
		e.DisplayVersion, _, _ = sk.GetStringValue("DisplayVersion") //nolint:errcheck // as above
		e.Publisher, _, _ = sk.GetStringValue("Publisher")           //nolint:errcheck // as above
		e.InstallDate, _, _ = sk.GetStringValue("InstallDate")       //nolint:errcheck // as above
		e.ParentKeyName, _, _ = sk.GetStringValue("ParentKeyName")   //nolint:errcheck // as above
		if v, _, err := sk.GetIntegerValue("EstimatedSize"); err == nil {
			e.EstimatedSize = v
		}
		if v, _, err := sk.GetIntegerValue("SystemComponent"); err == nil && v == 1 {
			e.SystemComponent = true
		}
		sk.Close()
		out = append(out, e)
	}
	return out, nil
}
