package files

import (
	"archive/tar"
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/wire"
)

// hostilePaths are paths a technician's client (or anyone holding a
// grant) might send to reach outside the top or to mean another file.
var hostilePaths = []string{
	"../x", "x", "", "/../x", "/a/../../x", "/a/..", `/a\..\x`, `/..\x`,
	"/CON", "/con", "/nul.txt", "/NUL", "/COM1", "/lpt9.log", "/aux.tar.gz", "/CONIN$",
	"/a:b", "/file.txt:stream", "/C:/x", "/C:",
	"/a\x00b", "/a\nb", "/dot.", "/space ",
	"/" + strings.Repeat("n", 256), "/" + strings.Repeat("d/", 2100),
	"/out/x", "/out/../../x", "/rel/x", // through links that point out
}

// TestHostilePathsRefused: every operation refuses every hostile path,
// and nothing is written outside the top: not by name, not through a
// symbolic link (absolute or relative) that points out of it.
func TestHostilePathsRefused(t *testing.T) {
	e := start(t)
	outside := filepath.Join(filepath.Dir(e.root), "outside-"+filepath.Base(e.root))
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(outside) })
	write(t, filepath.Join(outside, "secret"), []byte("do not read"))
	if err := os.Symlink(outside, filepath.Join(e.root, "out")); err != nil { // absolute
		t.Fatal(err)
	}
	if err := os.Symlink("../"+filepath.Base(outside), filepath.Join(e.root, "rel")); err != nil { // relative
		t.Fatal(err)
	}
	before := ls(t, filepath.Dir(e.root))
	data := []byte("payload")
	for _, p := range []string{"/out/secret", "/rel/secret", "/out", "/rel"} { // reading through the links
		for op, err := range map[string]error{
			"list":     e.call(http.MethodGet, wire.PeerPathFilesList, url.Values{"path": {p}}, nil, nil, nil),
			"download": e.call(http.MethodGet, wire.PeerPathFilesDownload, url.Values{"path": {p}}, nil, nil, nil),
			"archive":  e.call(http.MethodGet, wire.PeerPathFilesArchive, url.Values{"path": {p}}, nil, nil, nil),
		} {
			if c := code(err); c != wire.CodeBadRequest && !(c == wire.CodeNotFound && strings.HasSuffix(p, "/secret")) {
				t.Errorf("%s %q: %v, want refused", op, p, err)
			}
		}
	}
	for _, p := range hostilePaths {
		ops := map[string]error{
			"list":     e.call(http.MethodGet, wire.PeerPathFilesList, url.Values{"path": {p}}, nil, nil, nil),
			"download": e.call(http.MethodGet, wire.PeerPathFilesDownload, url.Values{"path": {p}}, nil, nil, nil),
			"archive":  e.call(http.MethodGet, wire.PeerPathFilesArchive, url.Values{"path": {p}}, nil, nil, nil),
			"mkdir":    e.post(wire.PeerPathFilesMkdir, wire.FileMkdir{Path: p}, nil),
			"delete":   e.post(wire.PeerPathFilesDelete, wire.FileDelete{Path: p + "/secret", Recursive: true}, nil),
			"rename":   e.post(wire.PeerPathFilesRename, wire.FileRename{From: "/in.txt", To: p}, nil),
			"extract":  e.call(http.MethodPut, wire.PeerPathFilesExtract, url.Values{"path": {p}}, bytes.NewReader(tarOf(t, entry{name: "x", body: "x"})), nil, nil),
		}
		_, uerr := e.upload(p, data, true)
		ops["upload"] = uerr
		write(t, filepath.Join(e.root, "in.txt"), []byte("in"))
		for op, err := range ops {
			switch c := code(err); c {
			case wire.CodeBadRequest, wire.CodeNotFound:
			default:
				t.Errorf("%s %q: %v (code %q), want refused", op, p, err, c)
			}
		}
	}
	if got := ls(t, outside); len(got) != 1 || got[0] != "secret" {
		t.Fatalf("written outside the top: %v", got)
	}
	if after := ls(t, filepath.Dir(e.root)); len(after) != len(before) {
		t.Fatalf("beside the top: %v, before %v", after, before)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "do not read" { //nolint:errcheck // compared
		t.Fatal("the secret outside changed")
	}
}

type entry struct {
	name, body, link string
	typ              byte
}

func tarOf(t testing.TB, es ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		hdr := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: e.typ, Linkname: e.link, Format: tar.FormatPAX}
		if e.typ == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Typeflag != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("%q: %v", e.name, err)
		}
		if hdr.Size > 0 {
			tw.Write([]byte(e.body)) //nolint:errcheck // into memory
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestExtractHostileEntries: archives whose entries try to land outside
// the target folder are refused, and nothing lands outside it — by name
// (zip-slip: "../x", "/etc/passwd", "a/../../x", drive and backslash
// paths), through a link the archive makes first or one already in the
// folder, or by a Windows device or stream name.
func TestExtractHostileEntries(t *testing.T) {
	e := start(t)
	outside := filepath.Join(filepath.Dir(e.root), "outside-"+filepath.Base(e.root))
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(outside) })
	target := filepath.Join(e.root, "target")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	// A link already in the target, pointing out.
	if err := os.Symlink(outside, filepath.Join(target, "planted")); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]entry{
		"dotdot":          {{name: "../x", body: "x"}},
		"absolute":        {{name: "/etc/passwd", body: "root::0:0::/:/bin/sh"}},
		"climbs":          {{name: "a/../../x", body: "x"}},
		"deep climb":      {{name: "a/b/../../../x", body: "x"}},
		"drive":           {{name: "C:/x", body: "x"}},
		"drive relative":  {{name: "C:x", body: "x"}},
		"backslash":       {{name: `a\..\..\x`, body: "x"}},
		"device":          {{name: "CON", body: "x"}},
		"device ext":      {{name: "dir/nul.txt", body: "x"}},
		"stream":          {{name: "a:b", body: "x"}},
		"long name":       {{name: strings.Repeat("n", 300), body: "x"}},
		"symlink out":     {{name: "link", typ: tar.TypeSymlink, link: outside}, {name: "link/x", body: "x"}},
		"symlink rel":     {{name: "link2", typ: tar.TypeSymlink, link: "../../"}, {name: "link2/x", body: "x"}},
		"hardlink":        {{name: "hl", typ: tar.TypeLink, link: "/etc/passwd"}},
		"through planted": {{name: "planted/x", body: "x"}},
		"planted dir":     {{name: "planted/d/", typ: tar.TypeDir}},
		"device node":     {{name: "dev", typ: tar.TypeChar}},
	}
	archives := map[string][]byte{
		// A PAX path record with a NUL (tar.Writer refuses to write one).
		"nul byte": append(paxHeader(t, "12 path=a\x00b\n"), tarOf(t, entry{name: "placeholder", body: "x"})...),
	}
	for name, es := range cases {
		archives[name] = tarOf(t, es...)
	}
	for name, a := range archives {
		err := e.call(http.MethodPut, wire.PeerPathFilesExtract, url.Values{"path": {"/target"}}, bytes.NewReader(a), nil, nil)
		if code(err) != wire.CodeBadRequest {
			t.Errorf("%s: %v, want %s", name, err, wire.CodeBadRequest)
		}
	}
	if got := ls(t, outside); len(got) != 0 {
		t.Fatalf("written outside the target: %v", got)
	}
	if got := ls(t, target); len(got) != 1 {
		t.Fatalf("the target holds %v; want only the planted link", got)
	}
	if got := ls(t, e.root); len(got) != 1 {
		t.Fatalf("the top holds %v; want only the target", got)
	}
	// And a good archive extracts.
	var res wire.ExtractResult
	if err := e.call(http.MethodPut, wire.PeerPathFilesExtract, url.Values{"path": {"/target"}}, bytes.NewReader(tarOf(t,
		entry{name: "./docs/", typ: tar.TypeDir}, entry{name: "docs/a.txt", body: "alpha"}, entry{name: "b/c/d.txt", body: "delta"})), nil, &res); err != nil {
		t.Fatal(err)
	}
	if res.Files != 2 || res.Dirs != 1 || res.Bytes != 10 {
		t.Fatalf("extracted %+v", res)
	}
	if b, err := os.ReadFile(filepath.Join(target, "b", "c", "d.txt")); err != nil || string(b) != "delta" {
		t.Fatalf("d.txt: %q %v", b, err)
	}
	if evs := e.audit.find("files.extract"); len(evs) == 0 || evs[len(evs)-1].Fields["files"] != "2" {
		t.Fatalf("extract audit: %+v", evs)
	}
}

// TestArchiveRoundTrip: a folder downloaded as an archive and uploaded
// into another folder arrives whole.
func TestArchiveRoundTrip(t *testing.T) {
	e := start(t)
	big := random(t, 1<<20)
	write(t, filepath.Join(e.root, "src", "a.txt"), []byte("alpha"))
	write(t, filepath.Join(e.root, "src", "sub", "big.bin"), big)
	if err := os.Mkdir(filepath.Join(e.root, "src", "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(e.root, "dst"), 0o755); err != nil {
		t.Fatal(err)
	}
	resp := e.get(wire.PeerPathFilesArchive, url.Values{"path": {"/src"}})
	var res wire.ExtractResult
	err := e.call(http.MethodPut, wire.PeerPathFilesExtract, url.Values{"path": {"/dst"}}, resp.Body, nil, &res)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 2 || res.Dirs != 3 {
		t.Fatalf("extracted %+v", res)
	}
	if b, err := os.ReadFile(filepath.Join(e.root, "dst", "src", "sub", "big.bin")); err != nil || !bytes.Equal(b, big) {
		t.Fatalf("big.bin: %d bytes, %v", len(b), err)
	}
	if fi, err := os.Stat(filepath.Join(e.root, "dst", "src", "empty")); err != nil || !fi.IsDir() {
		t.Fatalf("empty folder: %v", err)
	}
}

// paxHeader is a PAX extended header entry carrying records, made by
// hand: the header block, then the records padded to a block.
func paxHeader(t testing.TB, records string) []byte {
	t.Helper()
	b := make([]byte, 512)
	copy(b, "PaxHeaders/x")
	copy(b[100:], "0000644\x00")
	copy(b[108:], "0000000\x00")
	copy(b[116:], "0000000\x00")
	copy(b[124:], fmt.Sprintf("%011o\x00", len(records)))
	copy(b[136:], "00000000000\x00")
	b[156] = tar.TypeXHeader
	copy(b[257:], "ustar\x0000")
	copy(b[148:156], "        ")
	var sum int
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:], fmt.Sprintf("%06o\x00 ", sum))
	data := make([]byte, (len(records)+511)/512*512)
	copy(data, records)
	return append(b, data...)
}
