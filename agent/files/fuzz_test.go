package files

import (
	"bytes"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzSink checks that every path Extract hands it is local and clean,
// and reads what it is given, in memory.
type fuzzSink struct{ t *testing.T }

func (s fuzzSink) check(rel string) {
	if rel == "" || !filepath.IsLocal(rel) || strings.Contains(rel, `\`) || strings.HasPrefix(rel, "/") {
		s.t.Fatalf("Extract passed %q to its sink", rel)
	}
}

func (s fuzzSink) MkdirAll(rel string) error { s.check(rel); return nil }

func (s fuzzSink) WriteFile(rel string, r io.Reader, size int64, _ fs.FileMode) error {
	s.check(rel)
	_, err := io.Copy(io.Discard, io.LimitReader(r, size))
	return err
}

// FuzzExtract: whatever the bytes, Extract never hands its sink a path
// that is not local.
func FuzzExtract(f *testing.F) {
	f.Add(tarOf(f, entry{name: "a/b.txt", body: "x"}, entry{name: "d/", typ: '5'}))
	f.Add(tarOf(f, entry{name: "../x", body: "x"}))
	f.Add(tarOf(f, entry{name: "/etc/passwd", body: "x"}))
	f.Add(tarOf(f, entry{name: "l", typ: '2', link: "/"}, entry{name: "l/x", body: "x"}))
	f.Add(append(paxHeader(f, "12 path=a\x00b\n"), tarOf(f, entry{name: "p", body: "x"})...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		Extract(bytes.NewReader(b), fuzzSink{t}) //nolint:errcheck // only the sink's checks matter
	})
}
