package state

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// H2: on Windows the state directory under ProgramData inherited "Users may
// read". The descriptor set at enroll and install is exactly SYSTEM and
// Administrators with full control, inherited by the directory's contents,
// and protected from its parent's entries.
func TestH2StateDirDescriptorIsSystemAndAdminsOnly(t *testing.T) {
	t.Parallel()
	d, err := parseDACL(StateDirSDDL)
	if err != nil {
		t.Fatal(err)
	}
	if d.Flags != "P" {
		t.Errorf("DACL flags = %q, want exactly P (protected: nothing inherited from ProgramData)", d.Flags)
	}
	want := []ace{
		{Type: "A", Flags: "OICI", Rights: "FA", Trustee: "SY"},
		{Type: "A", Flags: "OICI", Rights: "FA", Trustee: "BA"},
	}
	if diff := cmp.Diff(want, d.ACEs); diff != "" {
		t.Errorf("StateDirSDDL entries (-want +got):\n%s", diff)
	}
	for _, a := range d.ACEs {
		// Users, Everyone, Authenticated Users, Interactive, Guests,
		// Creator Owner and Owner Rights must not appear.
		for _, other := range []string{"BU", "WD", "AU", "IU", "BG", "CO", "OW", "S-1-5-32-545", "S-1-1-0"} {
			if a.Trustee == other {
				t.Errorf("StateDirSDDL has an entry for %s", other)
			}
		}
	}
	if err := checkDACL(StateDirSDDL, "SY", "BA"); err != nil {
		t.Errorf("checkDACL(StateDirSDDL) = %v", err)
	}
}

// An agent enrolled by a user without elevation keeps access for that user
// only, besides SYSTEM and Administrators.
func TestH2DescriptorForUnelevatedUser(t *testing.T) {
	t.Parallel()
	const sid = "S-1-5-21-1004336348-1177238915-682003330-1001"
	if got := descriptorFor(""); got != StateDirSDDL {
		t.Errorf("descriptorFor(elevated) = %q, want StateDirSDDL", got)
	}
	d, err := parseDACL(descriptorFor(sid))
	if err != nil {
		t.Fatal(err)
	}
	want := []ace{
		{Type: "A", Flags: "OICI", Rights: "FA", Trustee: "SY"},
		{Type: "A", Flags: "OICI", Rights: "FA", Trustee: "BA"},
		{Type: "A", Flags: "OICI", Rights: "FA", Trustee: sid},
	}
	if diff := cmp.Diff(want, d.ACEs); diff != "" || d.Flags != "P" {
		t.Errorf("descriptorFor(%s): flags %q, entries (-want +got):\n%s", sid, d.Flags, diff)
	}
	if err := checkDACL(descriptorFor(sid), "SY", "BA", sid); err != nil {
		t.Errorf("checkDACL(descriptorFor(user)) = %v", err)
	}
	if err := checkDACL(descriptorFor(sid), "SY", "BA"); !errors.Is(err, ErrNotPrivate) {
		t.Errorf("an elevated agent accepted a directory a user can read: %v", err)
	}
}

// What the Windows check accepts and refuses, as Windows writes descriptors
// (ConvertSecurityDescriptorToStringSecurityDescriptor adds owner, group and
// the AI flag).
func TestH2CheckDACL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, sddl string
		ok         bool
		says       string
	}{
		{"as set", StateDirSDDL, true, ""},
		{"as Windows reads it back", "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)", true, ""},
		{"with a SACL", "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)S:AI(AU;SAFA;FA;;;WD)", true, ""},
		{"hex rights", "D:P(A;OICI;0x1f01ff;;;SY)(A;OICI;0x1f01ff;;;BA)", true, ""},
		// The finding: ProgramData's inherited entries.
		{"inherited from ProgramData", "O:BAG:SYD:AI(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIID;0x1200a9;;;BU)(A;CIID;DCLCRPCR;;;BU)(A;OICIIOID;GA;;;CO)", false, "not protected"},
		{"protected but Users may read", "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FR;;;BU)", false, "BU has an entry"},
		{"Everyone", "D:P(A;OICI;FA;;;SY)(A;;FR;;;WD)", false, "WD has an entry"},
		{"a user's SID", "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;S-1-5-21-1-2-3-1001)", false, "S-1-5-21-1-2-3-1001 has an entry"},
		{"deny entry", "D:P(D;;FA;;;BU)(A;OICI;FA;;;SY)", false, "entry type"},
		{"NULL DACL", "D:NO_ACCESS_CONTROL", false, "NULL"},
		{"empty DACL", "D:P", false, "empty"},
		{"no DACL", "O:BAG:SY", false, "no DACL"},
		{"two DACLs", "D:P(A;;FA;;;SY)D:P(A;;FA;;;BU)", false, "two D:"},
		{"short ACE", "D:P(A;OICI;FA;;SY)", false, "fields"},
		{"unterminated ACE", "D:P(A;OICI;FA;;;SY", false, "unterminated"},
		{"unknown flag", "D:PX(A;OICI;FA;;;SY)", false, "flags"},
		{"garbage", "Users may read", false, "section"},
		{"empty", "", false, "no DACL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := checkDACL(tc.sddl, "SY", "BA")
			if tc.ok {
				if err != nil {
					t.Fatalf("checkDACL(%q) = %v, want accepted", tc.sddl, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("checkDACL(%q) = %v, want a refusal saying %q", tc.sddl, err, tc.says)
			}
		})
	}
}

// FuzzParseDACL: parseDACL never panics, and checkDACL never accepts a
// descriptor whose DACL lets in anyone but the allowed trustees.
func FuzzParseDACL(f *testing.F) {
	for _, seed := range []string{
		StateDirSDDL, descriptorFor("S-1-5-21-1-2-3-1001"),
		"O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)",
		"O:BAG:SYD:AI(A;OICIID;FA;;;SY)(A;OICIID;0x1200a9;;;BU)",
		"D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)S:AI(AU;SAFA;FA;;;WD)",
		"D:NO_ACCESS_CONTROL", "D:P", "", "D:P((;;;;;))", "D:P(A;;;;;SY))", "O:D:", "S:(A;;;;;WD)D:P",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, sddl string) {
		d, err := parseDACL(sddl)
		if err != nil {
			if checkDACL(sddl, "SY", "BA") == nil {
				t.Fatalf("checkDACL accepted %q, which parseDACL refuses: %v", sddl, err)
			}
			return
		}
		if checkDACL(sddl, "SY", "BA") != nil {
			return
		}
		if !strings.Contains(d.Flags, "P") || len(d.ACEs) == 0 {
			t.Fatalf("checkDACL accepted %q: flags %q, %d entries", sddl, d.Flags, len(d.ACEs))
		}
		for _, a := range d.ACEs {
			if a.Type != "A" || (a.Trustee != "SY" && a.Trustee != "BA") {
				t.Fatalf("checkDACL accepted %q with entry %+v", sddl, a)
			}
		}
	})
}
