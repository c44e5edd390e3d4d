package inventory

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"

	"github.com/peerdesk/peerdesk/wire"
)

// osFacts on Windows. The decisions and decoders are in winversion.go,
// winroute.go and smbios.go; this file only reads the sources.
var osFacts = []osFact{
	{name: "os build", read: readWindowsVersion},
	{name: "gateway", read: readWindowsGateway},
	{name: "logged-on user", read: readWindowsSessions},
	{name: "hardware", optional: true, read: readWindowsHardware},
}

var (
	modIphlpapi             = windows.NewLazySystemDLL("iphlpapi.dll")
	procGetIpInterfaceEntry = modIphlpapi.NewProc("GetIpInterfaceEntry")
	procGetIpNetTable       = modIphlpapi.NewProc("GetIpNetTable")
	modKernel32             = windows.NewLazySystemDLL("kernel32.dll")
	procGetFirmwareTable    = modKernel32.NewProc("GetSystemFirmwareTable")
	modWtsapi32             = windows.NewLazySystemDLL("wtsapi32.dll")
	procWTSQuerySessionInfo = modWtsapi32.NewProc("WTSQuerySessionInformationW")
)

// readWindowsVersion fills Platform (the edition) and OSBuild from
// HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion, read as the 64-bit
// view also from a 32-bit agent.
func readWindowsVersion(_ context.Context, inv *wire.Inventory) error {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Windows NT\CurrentVersion`,
		registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return fmt.Errorf("CurrentVersion key: %w", err)
	}
	defer k.Close()
	str := func(name string) string {
		s, _, err := k.GetStringValue(name) // absent values read as ""
		if err != nil {
			return ""
		}
		return s
	}
	dword := func(name string) (uint32, bool) {
		v, typ, err := k.GetIntegerValue(name)
		return uint32(v), err == nil && typ == registry.DWORD
	}
	v := winVersion{
		ProductName:    str("ProductName"),
		EditionID:      str("EditionID"),
		CSDVersion:     str("CSDVersion"),
		CurrentVersion: str("CurrentVersion"),
		Build:          str("CurrentBuildNumber"),
	}
	if v.Build == "" {
		v.Build = str("CurrentBuild")
	}
	var okMinor bool
	v.Major, v.HasMajor = dword("CurrentMajorVersionNumber")
	v.Minor, okMinor = dword("CurrentMinorVersionNumber")
	v.HasMajor = v.HasMajor && okMinor
	v.UBR, v.HasUBR = dword("UBR")
	if e := windowsEdition(v); e != "" {
		inv.Platform = e
	}
	inv.OSBuild = windowsBuild(v)
	return nil
}

// readWindowsGateway fills Gateway from the forwarding table
// (GetIpForwardTable2; the interface metrics from GetIpInterfaceEntry) and
// GatewayMAC from the ARP cache (GetIpNetTable). No default route leaves
// both empty.
func readWindowsGateway(_ context.Context, inv *wire.Inventory) error {
	var tbl *windows.MibIpForwardTable2
	if err := windows.GetIpForwardTable2(windows.AF_INET, &tbl); err != nil {
		return fmt.Errorf("GetIpForwardTable2: %w", err)
	}
	n := uintptr(*(*uint32)(unsafe.Pointer(tbl)))
	if n > maxRouteRows {
		windows.FreeMibTable(unsafe.Pointer(tbl))
		return fmt.Errorf("GetIpForwardTable2: %d rows", n)
	}
	b := make([]byte, fwdTableRows+n*fwdRowSize)
	copy(b, unsafe.Slice((*byte)(unsafe.Pointer(tbl)), len(b)))
	windows.FreeMibTable(unsafe.Pointer(tbl))
	routes, err := parseForwardTable2(b)
	if err != nil {
		return err
	}
	// Windows adds the interface's metric to the route's. Where
	// GetIpInterfaceEntry is missing (Wine 8.0) the route metrics alone
	// decide.
	metrics := map[uint32]uint32{}
	for _, r := range routes {
		if _, seen := metrics[r.IfIndex]; !seen && r.Dest.Bits() == 0 {
			m, err := interfaceMetric(r.IfIndex)
			if errors.Is(err, errors.ErrUnsupported) {
				break
			}
			if err != nil {
				return err
			}
			metrics[r.IfIndex] = m
		}
	}
	gw, ok := defaultGateway(routes, metrics)
	if !ok {
		return nil
	}
	inv.Gateway = gw.NextHop.String()
	arp, err := ipNetTable()
	if err != nil {
		return fmt.Errorf("arp cache: %w", err)
	}
	inv.GatewayMAC, err = parseIPNetTable(arp, gw.NextHop, gw.IfIndex)
	return err
}

// MIB_IPINTERFACE_ROW layout (netioapi.h), the same on x86 and x64; read
// as bytes because golang.org/x/sys/windows's MibIpInterfaceRow puts
// InterfaceLuid at offset 4 on 386 (Go aligns uint64 to 4 there, C to 8).
const (
	ipIfRowSize   = 168
	ipIfRowFamily = 0
	ipIfRowIndex  = 16
	ipIfRowMetric = 148
)

// interfaceMetric returns the IPv4 metric of interface index.
func interfaceMetric(index uint32) (uint32, error) {
	var row [ipIfRowSize / 8]uint64 // 8-byte aligned, as the C struct
	b := unsafe.Slice((*byte)(unsafe.Pointer(&row[0])), ipIfRowSize)
	binary.LittleEndian.PutUint16(b[ipIfRowFamily:], windows.AF_INET)
	binary.LittleEndian.PutUint32(b[ipIfRowIndex:], index)
	r, err := call(procGetIpInterfaceEntry, uintptr(unsafe.Pointer(&row[0])))
	if err != nil {
		return 0, err
	}
	if r != 0 {
		return 0, fmt.Errorf("GetIpInterfaceEntry %d: %w", index, windows.Errno(r))
	}
	return binary.LittleEndian.Uint32(b[ipIfRowMetric:]), nil
}

// ipNetTable returns the IPv4 ARP cache (GetIpNetTable) as bytes.
func ipNetTable() ([]byte, error) {
	size := uint32(4096)
	for range 4 { // the table can grow between the calls
		buf := make([]uint32, (size+3)/4) // 4-byte aligned
		r, err := call(procGetIpNetTable, uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&size)), 0)
		if err != nil {
			return nil, err
		}
		switch windows.Errno(r) {
		case 0:
			return unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), len(buf)*4)[:size], nil
		case windows.ERROR_NO_DATA: // an empty cache
			return []byte{0, 0, 0, 0}, nil
		case windows.ERROR_INSUFFICIENT_BUFFER:
			if size > maxFactFile {
				return nil, fmt.Errorf("GetIpNetTable: %d bytes", size)
			}
		default:
			return nil, fmt.Errorf("GetIpNetTable: %w", windows.Errno(r))
		}
	}
	return nil, errors.New("GetIpNetTable: the table kept growing")
}

// maxFactFile bounds a table read from the system.
const maxFactFile = 1 << 20

// readWindowsSessions fills LoggedOnUser from the sessions WTS lists
// (sessionUser picks one). Wine lists none (its WTSEnumerateSessionsW is a
// stub); then the active console session is asked directly.
func readWindowsSessions(_ context.Context, inv *wire.Inventory) error {
	var p *windows.WTS_SESSION_INFO
	var n uint32
	if err := windows.WTSEnumerateSessions(0, 0, 1, &p, &n); err != nil {
		return fmt.Errorf("WTSEnumerateSessions: %w", err)
	}
	var sessions []wtsSession
	if p != nil {
		for _, s := range unsafe.Slice(p, min(n, maxSessions)) {
			sessions = append(sessions, wtsSession{ID: s.SessionID, Station: bound(windows.UTF16PtrToString(s.WindowStationName)), State: s.State})
		}
		windows.WTSFreeMemory(uintptr(unsafe.Pointer(p)))
	}
	console := windows.WTSGetActiveConsoleSessionId()
	if len(sessions) == 0 && console != 0xFFFFFFFF {
		sessions = append(sessions, wtsSession{ID: console, Station: "Console", State: wtsActive})
	}
	for i := range sessions {
		sessions[i].User = wtsString(sessions[i].ID, wtsUserName)
		if sessions[i].User != "" {
			sessions[i].Domain = wtsString(sessions[i].ID, wtsDomainName)
		}
	}
	inv.LoggedOnUser = sessionUser(sessions, console)
	return nil
}

// maxSessions bounds the sessions looked at (a terminal server has
// hundreds at most).
const maxSessions = 4096

// WTS_INFO_CLASS values (wtsapi32.h).
const (
	wtsUserName   = 5
	wtsDomainName = 7
)

// wtsString asks WTSQuerySessionInformationW for a string of session id;
// "" if it has none or cannot say.
func wtsString(id uint32, class uint32) string {
	var p *uint16
	var size uint32
	r, err := call(procWTSQuerySessionInfo, 0, uintptr(id), uintptr(class), uintptr(unsafe.Pointer(&p)), uintptr(unsafe.Pointer(&size)))
	if err != nil || r == 0 || p == nil {
		return ""
	}
	defer windows.WTSFreeMemory(uintptr(unsafe.Pointer(p)))
	return bound(windows.UTF16PtrToString(p))
}

// readWindowsHardware fills Serial, Maker and Model from the SMBIOS table
// (GetSystemFirmwareTable 'RSMB'), which is what WMI's Win32_BIOS and
// Win32_ComputerSystem report too, without COM or the WMI service.
// Fields the firmware leaves empty or as placeholders stay empty.
func readWindowsHardware(_ context.Context, inv *wire.Inventory) error {
	const rsmb = 'R'<<24 | 'S'<<16 | 'M'<<8 | 'B'
	if err := procGetFirmwareTable.Find(); err != nil {
		return fmt.Errorf("%w: %w", errors.ErrUnsupported, err)
	}
	size, _, err := procGetFirmwareTable.Call(rsmb, 0, 0, 0)
	if size == 0 {
		return fmt.Errorf("GetSystemFirmwareTable: %w", err)
	}
	if size > maxSMBIOS {
		return fmt.Errorf("GetSystemFirmwareTable: %d bytes", size)
	}
	buf := make([]byte, size)
	got, _, err := procGetFirmwareTable.Call(rsmb, 0, uintptr(unsafe.Pointer(&buf[0])), size)
	if got == 0 || got > size {
		return fmt.Errorf("GetSystemFirmwareTable: %w", err)
	}
	hw, err := parseSMBIOS(buf[:got])
	if err != nil {
		return err
	}
	inv.Serial, inv.Maker, inv.Model = hw.Serial, hw.Maker, hw.Model
	return nil
}

// call calls p, or fails with an error wrapping errors.ErrUnsupported if
// this system's DLL lacks it (rather than LazyProc.Call's panic).
func call(p *windows.LazyProc, args ...uintptr) (uintptr, error) {
	if err := p.Find(); err != nil {
		return 0, fmt.Errorf("%w: %w", errors.ErrUnsupported, err)
	}
	r, _, _ := p.Call(args...)
	return r, nil
}
