package inventory

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// smbiosStruct is one SMBIOS structure to encode: its type, the formatted
// area after the 4-byte header, and its strings.
type smbiosStruct struct {
	typ       byte
	formatted []byte
	strs      []string
}

// rawSMBIOS encodes structs as GetSystemFirmwareTable('RSMB') returns
// them: the RawSMBIOSData header, then the table.
func rawSMBIOS(structs ...smbiosStruct) []byte {
	var tbl []byte
	for i, s := range structs {
		tbl = append(tbl, s.typ, byte(4+len(s.formatted)))
		tbl = binary.LittleEndian.AppendUint16(tbl, uint16(i))
		tbl = append(tbl, s.formatted...)
		for _, str := range s.strs {
			tbl = append(append(tbl, str...), 0)
		}
		if len(s.strs) == 0 {
			tbl = append(tbl, 0)
		}
		tbl = append(tbl, 0)
	}
	raw := []byte{0, 3, 4, 0}
	raw = binary.LittleEndian.AppendUint32(raw, uint32(len(tbl)))
	return append(raw, tbl...)
}

// systemInfo is a type 1 structure naming maker, model and serial by
// string number (0 for none), as SMBIOS 2.4 lays it out (27 bytes).
func systemInfo(maker, model, serial byte, strs ...string) smbiosStruct {
	f := make([]byte, 27-4)
	f[0], f[1], f[3] = maker, model, serial // offsets 4, 5 and 7 of the structure
	f[2] = 0                                // version: none
	return smbiosStruct{typ: smbiosSystem, formatted: f, strs: strs}
}

// wineSMBIOS is the table Wine 8.0 returned under the lane on a host
// without /sys/class/dmi (read by a probe, 2026-12-07): BIOS, system,
// board, chassis and processor structures with no strings at all.
const wineSMBIOS = "\x00\x02\x04\x00{\x00\x00\x00\x00\x18\x00\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\x00\x00\x01\x1b\x01\x00\x00\x00\x00\x00=\x12\x19\xc7\xc4\xc5@J\xaa\x1fm*H\xad\xfd\xa4\x02\x00\x00\x00\x00\x03\x15\x02\x00\x00\x02\x00\x00\x00\x02\x02\x02\x02\x00\x00\x00\x00\x00\x00\x00\x03\x00\x00\x02\x0f\x03\x00\x00\x00\x00\x00\x00\x05\x00\x02\x00\n\x00\x00\x00 \x14\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\x04\x05\x00\x00\x00"

func TestParseSMBIOS(t *testing.T) {
	t.Parallel()
	bios := smbiosStruct{typ: 0, formatted: []byte{1, 2, 0, 0xe8, 3, 0x7f}, strs: []string{"LENOVO", "N2JET92W (1.70 )"}}
	end := smbiosStruct{typ: smbiosEnd}
	for _, tc := range []struct {
		name string
		data []byte
		want hardware
		err  error
	}{
		{name: "a laptop", data: rawSMBIOS(bios, systemInfo(1, 2, 4, "LENOVO", "20L8S2N800", "ThinkPad T480s", "PF1ABCDE"), end),
			want: hardware{Maker: "LENOVO", Model: "20L8S2N800", Serial: "PF1ABCDE"}},
		{name: "placeholders read as empty", data: rawSMBIOS(systemInfo(1, 2, 3, "System manufacturer", "To Be Filled By O.E.M.", "Default string"), end)},
		{name: "a string number past the strings", data: rawSMBIOS(systemInfo(1, 5, 9, "Dell Inc."), end),
			want: hardware{Maker: "Dell Inc."}},
		{name: "no strings at all", data: rawSMBIOS(systemInfo(1, 2, 3), end)},
		{name: "SMBIOS 2.0's short type 1 (8 bytes)", data: rawSMBIOS(smbiosStruct{typ: 1, formatted: []byte{1, 2, 0, 3}, strs: []string{"HP", "ProLiant", "CZ1234"}}),
			want: hardware{Maker: "HP", Model: "ProLiant", Serial: "CZ1234"}},
		{name: "a type 1 cut before its serial", data: rawSMBIOS(smbiosStruct{typ: 1, formatted: []byte{1, 2}, strs: []string{"HP", "ProLiant"}}),
			want: hardware{Maker: "HP", Model: "ProLiant"}},
		{name: "values trimmed", data: rawSMBIOS(systemInfo(1, 2, 3, "  QEMU ", "Standard PC (Q35 + ICH9, 2009)", " 42 ")),
			want: hardware{Maker: "QEMU", Model: "Standard PC (Q35 + ICH9, 2009)", Serial: "42"}},
		{name: "bounded", data: rawSMBIOS(systemInfo(1, 0, 0, strings.Repeat("M", 300))),
			want: hardware{Maker: strings.Repeat("M", maxString)}},
		{name: "nothing after the end-of-table structure is read", data: rawSMBIOS(bios, end, systemInfo(1, 0, 0, "Late"))},
		{name: "no type 1", data: rawSMBIOS(bios, end)},
		{name: "an empty table", data: rawSMBIOS()},
		{name: "Wine 8.0 on a host without DMI", data: []byte(wineSMBIOS)},
		{name: "shorter than its header", data: []byte{0, 3, 4, 0, 1}, err: errNotSMBIOS},
		{name: "a length past the bytes", data: binary.LittleEndian.AppendUint32([]byte{0, 3, 4, 0}, 1), err: errNotSMBIOS},
		{name: "a structure header cut off", data: append(binary.LittleEndian.AppendUint32([]byte{0, 3, 4, 0}, 3), 1, 27, 0), err: errNotSMBIOS},
		{name: "a structure length under 4", data: append(binary.LittleEndian.AppendUint32([]byte{0, 3, 4, 0}, 6), 1, 3, 0, 0, 0, 0), err: errNotSMBIOS},
		{name: "a structure longer than the table", data: append(binary.LittleEndian.AppendUint32([]byte{0, 3, 4, 0}, 6), 1, 27, 0, 0, 0, 0), err: errNotSMBIOS},
		{name: "unterminated strings", data: func() []byte {
			b := rawSMBIOS(systemInfo(1, 0, 0, "Acer"))
			binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-rawSMBIOSHeader-1)) // drop the final NUL
			return b[:len(b)-1]
		}(), err: errNotSMBIOS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseSMBIOS(tc.data)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Errorf("parseSMBIOS = %+v, %v; want %+v, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func FuzzParseSMBIOS(f *testing.F) {
	f.Add(rawSMBIOS(systemInfo(1, 2, 4, "LENOVO", "20L8S2N800", "ThinkPad T480s", "PF1ABCDE"), smbiosStruct{typ: smbiosEnd}))
	f.Add([]byte(wineSMBIOS))
	f.Add([]byte{0, 3, 4, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		hw, err := parseSMBIOS(data)
		if err != nil {
			if !errors.Is(err, errNotSMBIOS) || hw != (hardware{}) {
				t.Fatalf("parseSMBIOS = %+v, %v", hw, err)
			}
			return
		}
		for _, s := range []string{hw.Maker, hw.Model, hw.Serial} {
			if len(s) > maxString || strings.ContainsRune(s, 0) || s != strings.TrimSpace(s) || dmiValue([]byte(s)) != s {
				t.Fatalf("parseSMBIOS field %q is not a clean DMI value", s)
			}
		}
	})
}
