package wire

import (
	"path"
	"strings"
	"testing"
)

func TestCleanFilePath(t *testing.T) {
	t.Parallel()
	good := map[string]string{
		"/": "/", "/a": "/a", "/a/b/": "/a/b", "//a//b": "/a/b", "/a/./b": "/a/b", "/C:/Users": "/C:/Users",
		"/a..b": "/a..b", "/.hidden": "/.hidden", "/ü/名前": "/ü/名前",
	}
	for in, want := range good {
		if got, err := CleanFilePath(in); err != nil || got != want {
			t.Errorf("CleanFilePath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "a", "../x", "/..", "/a/../b", "/a/..", `/a\b`, "/a\x00", "/CON", "/Nul.txt", "/com1",
		"/LPT3.x.y", "/con .txt", "/a:b", "/a/C:", "/x.", "/x ", "/\xff", "/" + strings.Repeat("x", 256), strings.Repeat("/x", 2049)} {
		if got, err := CleanFilePath(in); err == nil {
			t.Errorf("CleanFilePath(%q) = %q, want refused", in, got)
		}
	}
}

// FuzzCleanFilePath: an accepted path is absolute, clean, within the
// limits, has no ".." and only names CheckFileName accepts, and cleaning
// it again changes nothing.
func FuzzCleanFilePath(f *testing.F) {
	for _, s := range []string{"/", "/a/b", "../x", "/a/../b", "/C:/x", "/CON", "/a:b", "/a\x00b", "//a/./b/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		c, err := CleanFilePath(p)
		if err != nil {
			return
		}
		if !strings.HasPrefix(c, "/") || path.Clean(c) != c || len(c) > MaxFilePath {
			t.Fatalf("CleanFilePath(%q) = %q: not clean", p, c)
		}
		again, err := CleanFilePath(c)
		if err != nil || again != c {
			t.Fatalf("CleanFilePath(%q) = %q, but again %q, %v", p, c, again, err)
		}
		if c == "/" {
			return
		}
		for i, name := range strings.Split(c[1:], "/") {
			if i == 0 && IsDriveName(name) {
				continue
			}
			if name == ".." || CheckFileName(name) != nil {
				t.Fatalf("CleanFilePath(%q) = %q holds %q", p, c, name)
			}
		}
	})
}
