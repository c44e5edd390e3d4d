package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// residentKiB sums the resident size of the executable's read-only
// mappings (/proc/self/smaps).
func residentKiB(t *testing.T) int {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	total, ours := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		switch {
		case len(fs) >= 5 && strings.Contains(fs[0], "-") && !strings.HasSuffix(fs[0], ":"):
			ours = len(fs) >= 6 && strings.Join(fs[5:], " ") == exe && fs[1][1] != 'w'
		case ours && len(fs) == 3 && fs[0] == "Rss:":
			n, err := strconv.Atoi(fs[1])
			if err != nil {
				t.Fatal(err)
			}
			total += n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return total
}

// TestTrimExecutable: trimming hands back most of the executable's
// resident code and read-only data (this test binary links the agent, so
// it is as large), and what is used again comes back.
func TestTrimExecutable(t *testing.T) {
	before := residentKiB(t)
	if before < 2048 {
		t.Fatalf("only %d KiB of the executable resident: nothing to show", before)
	}
	if err := trimExecutable(); err != nil {
		t.Fatal(err)
	}
	after := residentKiB(t)
	t.Logf("the executable's read-only mappings: %d KiB resident before, %d KiB after", before, after)
	if after > before/2 {
		t.Errorf("after trimming %d KiB of %d KiB are still resident", after, before)
	}
	// Code runs on as before: the help of every command still prints.
	TestHelp(t)
}

func TestReadOnlyMappings(t *testing.T) {
	t.Parallel()
	maps := []byte(`00400000-00403000 r--p 00000000 fe:00 1 /opt/peer desk/agent
00403000-01023000 r-xp 00003000 fe:00 1 /opt/peer desk/agent
01e12000-01e13000 rw-p 01a12000 fe:00 1 /opt/peer desk/agent
7f00-7f10 r-xp 00000000 fe:00 2 /usr/lib/libc.so.6
7f20-7f30 rw-p 00000000 00:00 0
7f40-7f50 r--p 00000000 fe:00 3 /opt/peer desk/agent (deleted)
`)
	got, err := readOnlyMappings(maps, "/opt/peer desk/agent")
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]uintptr{{0x400000, 0x403000}, {0x403000, 0x1023000}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := readOnlyMappings([]byte("zz-00 r-xp 0 0 1 /a\n"), "/a"); err == nil {
		t.Error("an unreadable mapping passed")
	}
}
