//go:build !linux

package inventory

// volatileHostID reports whether id changes on every boot. Only gopsutil's
// Linux code falls back to a per-boot id; elsewhere it reads persistent
// sources (the Windows MachineGuid, the macOS IOPlatformUUID, FreeBSD's
// kern.hostuuid) or returns an error.
func volatileHostID(string) bool { return false }
