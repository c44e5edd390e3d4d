package files

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/wire"
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

// FuzzUploadChecks: whatever an upload's start names and whatever check
// headers a chunk carries, the agent refuses or accepts without panicking;
// a CRC-32C it accepts is the body's, a SHA-256 likewise; a content key
// is never shared between a SHA-256 and a fingerprint.
func FuzzUploadChecks(f *testing.F) {
	f.Add("", "", "", "", []byte("body"))
	f.Add(strings.Repeat("a", 64), "", fmt.Sprintf("%08x", crc32.Checksum([]byte("body"), castagnoli)), "", []byte("body"))
	f.Add("", strings.Repeat("0", 64), "", sum([]byte("body")), []byte("body"))
	f.Add(strings.Repeat("A", 64), strings.Repeat("0", 64), "+1234567", "zz", []byte{})
	f.Fuzz(func(t *testing.T, sha, fp, crcHdr, shaHdr string, body []byte) {
		key, want, err := contentKey(wire.UploadStart{SHA256: sha, Fingerprint: fp})
		if err == nil {
			if (sha == "") == (fp == "") || (want == nil) != (sha == "") {
				t.Fatalf("start sha %q fingerprint %q accepted as %q, %x", sha, fp, key, want)
			}
			if strings.HasPrefix(key, "fingerprint:") != (fp != "") {
				t.Fatalf("content key %q for sha %q fingerprint %q", key, sha, fp)
			}
		}
		hd := http.Header{}
		if crcHdr != "" {
			hd.Set(wire.HeaderChunkCRC32C, crcHdr)
		}
		if shaHdr != "" {
			hd.Set(wire.HeaderChunkSHA256, shaHdr)
		}
		check, err := chunkCheck(hd)
		if err != nil || !check(body) {
			return
		}
		switch {
		case crcHdr != "" && shaHdr != "":
			t.Fatal("a chunk with both checks accepted")
		case crcHdr != "":
			if got, _ := strconv.ParseUint(crcHdr, 16, 32); uint32(got) != crc32.Checksum(body, castagnoli) {
				t.Fatalf("CRC %q accepted for a body whose CRC-32C is %08x", crcHdr, crc32.Checksum(body, castagnoli))
			}
		default:
			if !strings.EqualFold(shaHdr, sum(body)) {
				t.Fatalf("SHA-256 %q accepted for a body whose SHA-256 is %s", shaHdr, sum(body))
			}
		}
	})
}
