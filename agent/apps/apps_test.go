package apps

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/wire"
)

const status = `Package: bash
Status: install ok installed
Priority: required
Installed-Size: 7163
Maintainer: Matthias Klose <doko@debian.org>
Architecture: amd64
Version: 5.2.15-2+b7
Description: GNU Bourne Again SHell
 Bash is an sh-compatible command language interpreter.
 .
 More lines.

Package: removed-one
Status: deinstall ok config-files
Version: 1.0
Architecture: all
Description: gone

Package: libc6
Status: install ok installed
Architecture: i386
Version: 2.36-9
Installed-Size: x
Description: GNU C Library` + "\x01" + `: Shared libraries
`

func TestParseDpkgStatus(t *testing.T) {
	t.Parallel()
	got, err := ParseDpkgStatus(strings.NewReader(status))
	if err != nil {
		t.Fatal(err)
	}
	want := []wire.App{
		{Name: "bash", Version: "5.2.15-2+b7", Architecture: "amd64", Publisher: "Matthias Klose <doko@debian.org>", Size: 7163 << 10,
			Description: "GNU Bourne Again SHell", Source: "dpkg"},
		{Name: "libc6", Version: "2.36-9", Architecture: "i386", Description: "GNU C Library: Shared libraries", Source: "dpkg"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if _, err := ParseDpkgStatus(strings.NewReader("Package: x\nDescription: " + strings.Repeat("a", maxLine+1) + "\n")); err != ErrTooLarge {
		t.Errorf("a line over the limit: %v", err)
	}
}

// TestDpkgStatusOfThisMachine parses the real database and compares it
// with what dpkg-query says is installed.
func TestDpkgStatusOfThisMachine(t *testing.T) {
	t.Parallel()
	f, err := os.Open(DpkgStatus)
	if err != nil {
		t.Skipf("no dpkg database here: %v", err)
	}
	defer f.Close()
	got, err := ParseDpkgStatus(f)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("dpkg-query", "-W", "-f", "${db:Status-Status}\t${Package}\t${Version}\t${Architecture}\n").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(l, "\t")
		if f[0] == "installed" {
			want[f[1]+" "+f[2]+" "+f[3]] = true
		}
	}
	if len(got) != len(want) || len(got) < 50 {
		t.Fatalf("parsed %d installed packages, dpkg-query says %d", len(got), len(want))
	}
	for _, a := range got {
		if !want[a.Name+" "+a.Version+" "+a.Architecture] {
			t.Errorf("parsed %s %s %s, which dpkg-query does not list", a.Name, a.Version, a.Architecture)
		}
	}
}

func FuzzParseDpkgStatus(f *testing.F) {
	f.Add([]byte(status))
	f.Add([]byte("Package: a\nStatus: install ok installed\nInstalled-Size: 99999999999999999999\n\n\n"))
	f.Add([]byte("\xff\xfe: \n :x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		apps, err := ParseDpkgStatus(bytes.NewReader(b))
		if err != nil && err != ErrTooLarge {
			t.Fatal(err)
		}
		if len(apps) > wire.MaxApps+1 {
			t.Fatalf("%d apps", len(apps))
		}
		for _, a := range apps {
			for _, s := range []string{a.Name, a.Version, a.Architecture, a.Description, a.Publisher} {
				if len(s) > maxField || strings.ContainsAny(s, "\n\r\x00") {
					t.Fatalf("field %q", s)
				}
			}
			if a.Name == "" || a.Source != "dpkg" {
				t.Fatalf("app %+v", a)
			}
		}
	})
}

func TestParseRPM(t *testing.T) {
	t.Parallel()
	in := "bash\t5.1.8-9.el9\tx86_64\t7738521\t1700000000\tRed Hat, Inc.\tThe GNU Bourne Again shell\n" +
		"gpg-pubkey\t1-2\t(none)\t0\t1700000001\t(none)\tgpg(key)\n" +
		"short\tline\n"
	got, err := ParseRPM(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []wire.App{
		{Name: "bash", Version: "5.1.8-9.el9", Architecture: "x86_64", Publisher: "Red Hat, Inc.", Size: 7738521, Installed: "2023-11-14",
			Description: "The GNU Bourne Again shell", Source: "rpm"},
		{Name: "gpg-pubkey", Version: "1-2", Architecture: "(none)", Installed: "2023-11-14", Description: "gpg(key)", Source: "rpm"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestFromRegistry(t *testing.T) {
	t.Parallel()
	got := fromRegistry([]regEntry{
		{DisplayName: "7-Zip 23.01 (x64)", DisplayVersion: "23.01", Publisher: "Igor Pavlov", InstallDate: "20240105", EstimatedSize: 5678, Arch: "x64"},
		{DisplayName: "7-Zip 23.01 (x64)", DisplayVersion: "23.01", Publisher: "Igor Pavlov", Arch: "x64"}, // HKCU copy
		{DisplayName: "", DisplayVersion: "1"},
		{DisplayName: "Hidden driver", SystemComponent: true},
		{DisplayName: "Update for X", ParentKeyName: "X"},
		{DisplayName: "app\x00name", InstallDate: "5/1/2024", Arch: "x86"},
	})
	want := []wire.App{
		{Name: "7-Zip 23.01 (x64)", Version: "23.01", Publisher: "Igor Pavlov", Installed: "2024-01-05", Size: 5678 << 10, Architecture: "x64", Source: "registry"},
		{Name: "appname", Installed: "5/1/2024", Architecture: "x86", Source: "registry"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestHandlerOnThisMachine(t *testing.T) {
	t.Parallel()
	rr := httptest.NewRecorder()
	Handler{}.ServePeer(rr, httptest.NewRequest("GET", wire.PeerPathApps, nil), gate.Caller{})
	var l wire.AppList
	if rr.Code != 200 || json.Unmarshal(rr.Body.Bytes(), &l) != nil || len(l.Apps) < 50 {
		t.Fatalf("%d %.200s", rr.Code, rr.Body)
	}
	if _, err := exec.LookPath("rpm"); err != nil && !strings.Contains(strings.Join(l.Notes, ";"), "rpm is not installed") {
		t.Errorf("notes %q do not say rpm is missing", l.Notes)
	}
}
