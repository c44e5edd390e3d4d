package wol

import (
	"bytes"
	"errors"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMagicPacket(t *testing.T) {
	mac := net.HardwareAddr{0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc}
	p, err := MagicPacket(mac)
	if err != nil {
		t.Fatalf("MagicPacket(%s): %v", mac, err)
	}
	want := bytes.Repeat([]byte{0xff}, 6)
	for range 16 {
		want = append(want, 0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc)
	}
	if d := cmp.Diff(want, p); d != "" {
		t.Errorf("MagicPacket(%s) (-want +got):\n%s", mac, d)
	}
	if len(p) != 102 || MagicSize != 102 {
		t.Errorf("len = %d, MagicSize = %d, want 102", len(p), MagicSize)
	}

	for _, bad := range []net.HardwareAddr{nil, {1, 2, 3, 4, 5}, {1, 2, 3, 4, 5, 6, 7, 8}, make(net.HardwareAddr, 20)} {
		if _, err := MagicPacket(bad); !errors.Is(err, ErrMAC) {
			t.Errorf("MagicPacket(% x) error = %v, want ErrMAC", []byte(bad), err)
		}
	}
}

func TestParseMagic(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0x00, 0x00, 0x12, 0x34, 0x56}
	good, err := MagicPacket(mac)
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(p []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for _, tc := range []struct {
		name string
		in   []byte
		want net.HardwareAddr // nil: ErrNotMagic
	}{
		{"valid", good, mac},
		{"all 0xff wakes the broadcast address", bytes.Repeat([]byte{0xff}, MagicSize), net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"empty", nil, nil},
		{"one byte short", good[:MagicSize-1], nil},
		{"SecureOn password appended", append(bytes.Clone(good), 1, 2, 3, 4, 5, 6), nil},
		{"padding appended", append(bytes.Clone(good), 0), nil},
		{"sync stream broken", mutate(func(p []byte) []byte { p[3] = 0xfe; return p }), nil},
		{"first repetition differs from the rest", mutate(func(p []byte) []byte { p[6] ^= 1; return p }), nil},
		{"last repetition differs", mutate(func(p []byte) []byte { p[MagicSize-1] ^= 0x80; return p }), nil},
		{"all zero", make([]byte, MagicSize), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMagic(tc.in)
			if tc.want == nil {
				if !errors.Is(err, ErrNotMagic) {
					t.Errorf("ParseMagic = %v, %v; want ErrNotMagic", got, err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Errorf("ParseMagic = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// FuzzParseMagic checks that ParseMagic never panics, that what it accepts
// is exactly MagicPacket of the address it returns, and that the returned
// address does not alias the input.
func FuzzParseMagic(f *testing.F) {
	good, err := MagicPacket(net.HardwareAddr{0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:50])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		in := bytes.Clone(p)
		mac, err := ParseMagic(p)
		if err != nil {
			if !errors.Is(err, ErrNotMagic) {
				t.Fatalf("ParseMagic error %v does not wrap ErrNotMagic", err)
			}
			return
		}
		again, err := MagicPacket(mac)
		if err != nil {
			t.Fatalf("MagicPacket(ParseMagic(p) = %v): %v", mac, err)
		}
		if !bytes.Equal(again, in) {
			t.Fatalf("MagicPacket(ParseMagic(p)) = % x, want p = % x", again, in)
		}
		for i := range mac {
			mac[i] ^= 0xff
		}
		if !bytes.Equal(p, in) {
			t.Fatal("the returned address aliases the input")
		}
	})
}
