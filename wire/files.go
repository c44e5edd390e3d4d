package wire

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode/utf8"
)

// Files (CapFiles, protocol 2, issue 13 item 2): browse, transfer and
// change files on the agent's machine over the overlay.
//
// Paths on the wire are slash-separated and absolute within what the agent
// exposes: "/" is its top (the whole filesystem on Linux and macOS; the
// list of drives on Windows, whose paths then start with the drive,
// "/C:/Users"). Every path passes CleanFilePath on both ends before
// anything else looks at it.

// Files peer call paths (served by agents on PeerPort; every one needs
// CapFiles).
const (
	// GET ?path=P → FileList.
	PeerPathFilesList = "/v1/files/list"
	// GET ?path=P[&offset=N&version=V] → the file's bytes from N with
	// HeaderFileSize, HeaderFileVersion and, as a trailer,
	// HeaderFileSHA256 (the whole file's, from byte 0). A resumed
	// download names the version it began with: a changed file answers
	// CodeConflict.
	PeerPathFilesDownload = "/v1/files/download"
	// POST UploadStart → UploadState. The same upload started again
	// (same path, size and hash or fingerprint, same technician) is the
	// same upload: it answers where it stands, so a client resumes by
	// starting again.
	PeerPathFilesUploadStart = "/v1/files/upload/start"
	// PUT ?id=I&offset=N, body one chunk (≤ UploadChunk bytes) with
	// HeaderChunkCRC32C or HeaderChunkSHA256 → UploadState. N must be the
	// confirmed offset.
	PeerPathFilesUploadChunk = "/v1/files/upload/chunk"
	// POST UploadFinish → FileInfo of the file under its final name.
	PeerPathFilesUploadFinish = "/v1/files/upload/finish"
	// POST UploadCancel → {}: the partial file is removed.
	PeerPathFilesUploadCancel = "/v1/files/upload/cancel"
	// POST FileMkdir → FileInfo.
	PeerPathFilesMkdir = "/v1/files/mkdir"
	// POST FileRename → FileInfo.
	PeerPathFilesRename = "/v1/files/rename"
	// POST FileDelete → {}.
	PeerPathFilesDelete = "/v1/files/delete"
	// GET ?path=P → a folder as a tar stream (application/x-tar).
	PeerPathFilesArchive = "/v1/files/archive"
	// PUT ?path=P, body a tar stream → ExtractResult: its entries are
	// written under the folder P and nowhere else.
	PeerPathFilesExtract = "/v1/files/extract"
)

// Headers of file transfers.
const (
	HeaderFileSize    = "X-Peerdesk-File-Size"    // the whole file's size in bytes
	HeaderFileVersion = "X-Peerdesk-File-Version" // the file's version (size and modification time)
	HeaderFileSHA256  = "X-Peerdesk-File-Sha256"  // trailer: the whole file's SHA-256, hex
	HeaderChunkSHA256 = "X-Peerdesk-Chunk-Sha256" // an upload chunk's SHA-256, hex
	// HeaderChunkCRC32C is an upload chunk's CRC-32C (Castagnoli), 8 hex
	// digits: the check of a chunk whose file's SHA-256 comes with
	// UploadFinish. It catches a chunk damaged on its way or on the
	// agent's side at the cost of a tenth of a SHA-256 pass; the whole
	// file is still checked against its SHA-256 before it takes its name.
	HeaderChunkCRC32C = "X-Peerdesk-Chunk-Crc32c"
)

// CodeDiskFull: the agent's disk is full; the upload was not kept.
const CodeDiskFull = "disk_full"

// Limits of the files capability.
const (
	UploadChunk      = 4 << 20 // bytes in an upload chunk (the last one may be shorter)
	MaxFilePath      = 4096    // bytes in a path
	MaxFileName      = 255     // bytes in one name
	MaxFileDepth     = 128     // names in a path
	MaxListEntries   = 10000   // entries a listing answers; Truncated says there were more
	MaxUploadSize    = 1 << 40 // bytes in one uploaded file (1 TiB)
	MaxArchiveEntry  = 1 << 40 // bytes in one archive entry
	MaxArchiveCount  = 1 << 20 // entries in one archive
	MaxUploadsActive = 4       // uploads whose chunks an agent takes at once
)

// FileInfo describes one directory entry.
type FileInfo struct {
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
	Mode    string    `json:"mode"` // e.g. "-rw-r--r--", "drwxr-xr-x"
	IsDir   bool      `json:"is_dir"`
	// IsLink: the entry is a symbolic link (Size, Mode and IsDir are the
	// link's own); Target is where it points, as stored.
	IsLink bool   `json:"is_link,omitempty"`
	Target string `json:"target,omitempty"`
}

// FileList is a folder's listing.
type FileList struct {
	Path      string     `json:"path"` // cleaned
	Entries   []FileInfo `json:"entries"`
	Truncated bool       `json:"truncated,omitempty"`
}

// UploadStart begins (or resumes) an upload of one file to Path. It
// names the file's content by exactly one of SHA256 (known before the
// first byte is sent: a client that hashed the file first) and
// Fingerprint (any 64 hex digits the client derives from the file
// without reading all of it: the viewer hashes the size, the
// modification time and the first and last chunk; the SHA-256 then comes
// with UploadFinish, so the client hashes the file as it sends it, in
// one pass).
type UploadStart struct {
	Path        string `json:"path"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256,omitempty"`      // the whole file's, hex
	Fingerprint string `json:"fingerprint,omitempty"` // 64 hex digits
	Overwrite   bool   `json:"overwrite,omitempty"`
}

// UploadState is where an upload stands: bytes from 0 to Offset are on
// the agent's disk, checked and synced.
type UploadState struct {
	ID     string `json:"id"`
	Offset int64  `json:"offset"`
	Size   int64  `json:"size"`
	Chunk  int    `json:"chunk"` // the chunk size to send
}

// UploadFinish completes an upload whose every byte is confirmed: the
// agent checks the whole file's SHA-256, syncs it and renames it to its
// final name. SHA256 is required when the start named a fingerprint; if
// the start named a SHA-256 too, the two must agree.
type UploadFinish struct {
	ID     string `json:"id"`
	SHA256 string `json:"sha256,omitempty"`
}

// UploadCancel abandons an upload.
type UploadCancel struct {
	ID string `json:"id"`
}

// FileMkdir makes a folder (its parent must exist).
type FileMkdir struct {
	Path string `json:"path"`
}

// FileRename renames From to To (To must not exist).
type FileRename struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// FileDelete deletes a file, or a folder with everything in it when
// Recursive (an empty folder without).
type FileDelete struct {
	Path      string `json:"path"`
	Recursive bool   `json:"recursive,omitempty"`
}

// ExtractResult says what an archive upload wrote.
type ExtractResult struct {
	Files int   `json:"files"`
	Dirs  int   `json:"dirs"`
	Bytes int64 `json:"bytes"`
}

// Errors of CleanFilePath and CheckFileName.
var (
	ErrFilePath = errors.New("not a valid path")
	ErrFileName = errors.New("not a valid file name")
)

// CleanFilePath normalises a path of the files capability: absolute,
// slash-separated, no "." or ".." left, no empty names, each name valid
// for CheckFileName (the first may be a Windows drive, "C:"), within the
// length and depth limits. It refuses rather than repairs anything that
// could mean another file: a ".." that climbs, a backslash, a NUL. The
// answer is "/" or "/a/b".
func CleanFilePath(p string) (string, error) {
	if p == "" || len(p) > MaxFilePath || !utf8.ValidString(p) {
		return "", fmt.Errorf("%w: empty, too long or not UTF-8", ErrFilePath)
	}
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%w: %q is not absolute", ErrFilePath, p)
	}
	for _, name := range strings.Split(p, "/") {
		if name == ".." {
			return "", fmt.Errorf("%w: %q climbs with \"..\"", ErrFilePath, p)
		}
	}
	c := path.Clean(p)
	if c == "/" {
		return c, nil
	}
	names := strings.Split(c[1:], "/")
	if len(names) > MaxFileDepth {
		return "", fmt.Errorf("%w: deeper than %d", ErrFilePath, MaxFileDepth)
	}
	for i, name := range names {
		if i == 0 && IsDriveName(name) {
			continue
		}
		if err := CheckFileName(name); err != nil {
			return "", err
		}
	}
	return c, nil
}

// IsDriveName reports a Windows drive as the first name of a path: "C:".
func IsDriveName(name string) bool {
	return len(name) == 2 && name[1] == ':' && (name[0] >= 'A' && name[0] <= 'Z' || name[0] >= 'a' && name[0] <= 'z')
}

// CheckFileName checks one name on every OS against what would make it
// mean something else somewhere: empty, ".", "..", longer than
// MaxFileName, control characters, "/" or "\\", ":" (an NTFS alternate
// data stream, "name:stream"), Windows device names with or without an
// extension ("CON", "nul.txt", "COM1"), and a trailing dot or space
// (which Windows drops, so "a." would be "a").
func CheckFileName(name string) error {
	bad := func(why string) error { return fmt.Errorf("%w: %q %s", ErrFileName, name, why) }
	switch {
	case name == "", name == ".", name == "..":
		return bad("is not a name")
	case len(name) > MaxFileName:
		return bad(fmt.Sprintf("is longer than %d bytes", MaxFileName))
	case !utf8.ValidString(name):
		return bad("is not UTF-8")
	case strings.HasSuffix(name, ".") || strings.HasSuffix(name, " "):
		return bad("ends with a dot or a space")
	}
	for _, r := range name {
		switch {
		case r < 0x20 || r == 0x7f:
			return bad("holds a control character")
		case r == '/' || r == '\\':
			return bad("holds a path separator")
		case r == ':':
			return bad("holds a colon (an alternate data stream on Windows)")
		}
	}
	if isDeviceName(name) {
		return bad("is a Windows device name")
	}
	return nil
}

// isDeviceName: CON, PRN, AUX, NUL, COM0-9, LPT0-9 (and their superscript
// digits), CONIN$, CONOUT$, with any extension, any case, trailing spaces
// before the extension ignored as Windows does.
func isDeviceName(name string) bool {
	base, _, _ := strings.Cut(name, ".")
	base = strings.ToUpper(strings.TrimRight(base, " "))
	switch base {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(base) >= 4 && (strings.HasPrefix(base, "COM") || strings.HasPrefix(base, "LPT")) {
		switch base[3:] {
		case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³":
			return true
		}
	}
	return false
}

// JoinFilePath is dir/name for a cleaned dir and a checked name.
func JoinFilePath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}
