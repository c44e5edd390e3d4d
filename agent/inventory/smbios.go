package inventory

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// errNotSMBIOS means bytes are not a RawSMBIOSData block as
// GetSystemFirmwareTable('RSMB') returns it.
var errNotSMBIOS = errors.New("not an SMBIOS table")

// SMBIOS structure types (DMTF DSP0134).
const (
	smbiosSystem = 1   // System Information: maker, product, serial
	smbiosEnd    = 127 // End-of-Table
)

// rawSMBIOSHeader is the size of RawSMBIOSData's fields before the table:
// Used20CallingMethod, SMBIOSMajorVersion, SMBIOSMinorVersion, DmiRevision
// (one byte each) and Length (a little-endian DWORD).
const rawSMBIOSHeader = 8

// maxSMBIOS bounds the firmware table the agent reads (real ones are a
// few KiB; SMBIOS 3 allows 4 GiB).
const maxSMBIOS = 1 << 20

// hardware is what the DMI/SMBIOS System Information structure says about
// the machine, cleaned with dmiValue.
type hardware struct {
	Serial, Maker, Model string
}

// parseSMBIOS reads the System Information structure (type 1) of a
// RawSMBIOSData block: its manufacturer, product name and serial number,
// each cleaned by dmiValue (placeholders read as ""). A table without one
// gives the zero hardware. It fails with errNotSMBIOS when the block's
// header or its declared length do not fit, and when a structure runs
// past the table before a type 1 is found.
func parseSMBIOS(raw []byte) (hardware, error) {
	if len(raw) < rawSMBIOSHeader {
		return hardware{}, fmt.Errorf("%w: %d bytes", errNotSMBIOS, len(raw))
	}
	n := binary.LittleEndian.Uint32(raw[4:8])
	if uint64(n) > uint64(len(raw)-rawSMBIOSHeader) {
		return hardware{}, fmt.Errorf("%w: declares %d bytes of table, has %d", errNotSMBIOS, n, len(raw)-rawSMBIOSHeader)
	}
	tbl := raw[rawSMBIOSHeader : rawSMBIOSHeader+int(n)]
	for len(tbl) > 0 {
		if len(tbl) < 4 {
			return hardware{}, fmt.Errorf("%w: a structure header is cut off", errNotSMBIOS)
		}
		typ, l := tbl[0], int(tbl[1])
		if l < 4 || l > len(tbl) {
			return hardware{}, fmt.Errorf("%w: a type %d structure of %d bytes in %d", errNotSMBIOS, typ, l, len(tbl))
		}
		formatted := tbl[:l]
		// The strings follow the formatted area, each NUL-terminated, the
		// set ended by one more NUL (two NULs when there are none).
		end := bytes.Index(tbl[l:], []byte{0, 0})
		if end < 0 {
			return hardware{}, fmt.Errorf("%w: the strings of a type %d structure are not terminated", errNotSMBIOS, typ)
		}
		strs := bytes.Split(tbl[l:l+end], []byte{0})
		if typ == smbiosSystem {
			str := func(off int) string {
				if off >= len(formatted) || formatted[off] == 0 || int(formatted[off]) > len(strs) {
					return ""
				}
				return dmiValue(strs[formatted[off]-1])
			}
			return hardware{Maker: str(4), Model: str(5), Serial: str(7)}, nil
		}
		if typ == smbiosEnd {
			break
		}
		tbl = tbl[l+end+2:]
	}
	return hardware{}, nil
}
