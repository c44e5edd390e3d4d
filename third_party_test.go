package peerdesk_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// headscaleDir is peerdesk's copy of Headscale; PEERDESK.md and patches/ in
// it are peerdesk's own, everything else is upstream's with the patches
// applied.
const headscaleDir = "third_party/headscale"

// TestHeadscaleIsPristinePlusPatches rebuilds third_party/headscale from the
// module cache (Headscale at the version go.mod requires, fetched through
// the module proxy only if the cache lacks it) with
// scripts/headscale-vendor.sh, which applies patches/*.patch in order, and
// fails on every file that differs from the committed tree, is missing from
// it or is extra in it. An edit made to the copy without a patch, or a patch
// changed without the copy, fails here; so does an upstream test file or
// testdata committed into the copy (the script copies none).
//
// Files git ignores under third_party/headscale are left out of the
// comparison: those are upstream's tests that
// scripts/headscale-upstream-tests.sh places there for a run (.gitignore
// lists them), so the test passes whether they are present or not.
func TestHeadscaleIsPristinePlusPatches(t *testing.T) {
	t.Parallel()
	ignored := gitIgnored(t, headscaleDir)
	version, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/juanfont/headscale").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/juanfont/headscale: %v", err)
	}
	out := filepath.Join(t.TempDir(), "headscale")
	cmd := exec.Command("bash", "scripts/headscale-vendor.sh", strings.TrimSpace(string(version)), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/headscale-vendor.sh: %v\n%s", err, b)
	}

	want := files(t, out, nil)
	got := files(t, headscaleDir, func(rel string) bool {
		return rel == "PEERDESK.md" || rel == "patches" || strings.HasPrefix(rel, "patches/") || ignored[rel]
	})
	for _, rel := range want {
		if _, ok := slices.BinarySearch(got, rel); !ok {
			t.Errorf("%s/%s: missing (pristine + patches has it)", headscaleDir, rel)
			continue
		}
		a, err := os.ReadFile(filepath.Join(out, rel))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(headscaleDir, rel))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s/%s: differs from pristine + patches (an edit without a patch? make one: see PEERDESK.md)", headscaleDir, rel)
		}
	}
	for _, rel := range got {
		if _, ok := slices.BinarySearch(want, rel); ok {
			continue
		}
		if strings.HasSuffix(rel, "_test.go") || strings.Contains("/"+rel, "/testdata/") {
			t.Errorf("%s/%s: an upstream test file in the copy: remove it (scripts/headscale-upstream-tests.sh places upstream's tests for a run; none is committed)", headscaleDir, rel)
			continue
		}
		t.Errorf("%s/%s: extra (not in pristine + patches)", headscaleDir, rel)
	}
}

// gitIgnored returns the untracked files git ignores under dir, relative to
// it: what scripts/headscale-upstream-tests.sh placed for a run that is on now
// (a symbolic link to a directory counts as one file, as for git).
func gitIgnored(t *testing.T, dir string) map[string]bool {
	t.Helper()
	b, err := exec.Command("git", "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--", dir).Output()
	if err != nil {
		t.Fatalf("git ls-files --others --ignored -- %s: %v (this test needs a git checkout)", dir, err)
	}
	ignored := map[string]bool{}
	for _, p := range strings.Split(string(b), "\x00") {
		if rel, ok := strings.CutPrefix(p, dir+"/"); ok {
			ignored[rel] = true
		}
	}
	return ignored
}

// files lists the regular files under root, relative to it and sorted,
// leaving out those skip names (and, for a directory, all it holds).
func files(t *testing.T, root string, skip func(rel string) bool) []string {
	t.Helper()
	var list []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if skip != nil && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			list = append(list, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(list)
	return list
}
