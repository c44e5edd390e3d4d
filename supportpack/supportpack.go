// Package supportpack puts a support code and the coordinator's address and
// CA pin into a copy of the agent executable, without rebuilding it, and
// reads them back in the running one-time agent (S3, S4).
//
// The configuration travels as a trailer after the executable's last byte:
//
//	[executable][JSON wire.SupportConfig][uint64 length, big endian]["PDSUPRT1"]
//
// Executable formats ignore bytes past their last section (on Windows this
// is the PE "overlay"), so the copy runs as the original does. A signed
// Windows executable's signature does not cover the trailer; see
// docs/SECURITY.md.
package supportpack

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/peerdesk/peerdesk/wire"
)

const (
	magic      = "PDSUPRT1"
	footerSize = 8 + len(magic)
	maxConfig  = 4096
)

// ErrNone means the executable carries no support configuration.
var ErrNone = errors.New("supportpack: no support configuration")

// Encode returns the trailer for cfg.
func Encode(cfg wire.SupportConfig) ([]byte, error) {
	if err := check(cfg); err != nil {
		return nil, err
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("supportpack: %w", err)
	}
	var b bytes.Buffer
	b.Write(js)
	binary.Write(&b, binary.BigEndian, uint64(len(js))) //nolint:errcheck // bytes.Buffer cannot fail
	b.WriteString(magic)
	return b.Bytes(), nil
}

// Write copies the executable from exe to w followed by cfg's trailer.
func Write(w io.Writer, exe io.Reader, cfg wire.SupportConfig) (int64, error) {
	trailer, err := Encode(cfg)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(w, exe)
	if err != nil {
		return n, fmt.Errorf("supportpack: %w", err)
	}
	m, err := w.Write(trailer)
	return n + int64(m), err
}

// Read reads the configuration from the end of the file r of size size.
func Read(r io.ReaderAt, size int64) (wire.SupportConfig, error) {
	if size < int64(footerSize) {
		return wire.SupportConfig{}, ErrNone
	}
	foot := make([]byte, footerSize)
	if _, err := r.ReadAt(foot, size-int64(footerSize)); err != nil {
		return wire.SupportConfig{}, fmt.Errorf("supportpack: %w", err)
	}
	if string(foot[8:]) != magic {
		return wire.SupportConfig{}, ErrNone
	}
	n := binary.BigEndian.Uint64(foot[:8])
	if n == 0 || n > maxConfig || int64(n) > size-int64(footerSize) {
		return wire.SupportConfig{}, errors.New("supportpack: damaged trailer")
	}
	js := make([]byte, n)
	if _, err := r.ReadAt(js, size-int64(footerSize)-int64(n)); err != nil {
		return wire.SupportConfig{}, fmt.Errorf("supportpack: %w", err)
	}
	var cfg wire.SupportConfig
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return wire.SupportConfig{}, fmt.Errorf("supportpack: damaged trailer: %w", err)
	}
	if err := check(cfg); err != nil {
		return wire.SupportConfig{}, err
	}
	return cfg, nil
}

// ReadFile reads the configuration of the executable at path.
func ReadFile(path string) (wire.SupportConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return wire.SupportConfig{}, fmt.Errorf("supportpack: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return wire.SupportConfig{}, fmt.Errorf("supportpack: %w", err)
	}
	return Read(f, st.Size())
}

// ReadSelf reads the running executable's configuration.
func ReadSelf() (wire.SupportConfig, error) {
	exe, err := os.Executable()
	if err != nil {
		return wire.SupportConfig{}, fmt.Errorf("supportpack: %w", err)
	}
	return ReadFile(exe)
}

func check(cfg wire.SupportConfig) error {
	if len(cfg.Code) != 6 || len(cfg.Pin) != 64 || len(cfg.CoordinatorURL) < len("https://x") || len(cfg.CoordinatorURL) > 512 {
		return errors.New("supportpack: incomplete support configuration")
	}
	for _, r := range cfg.Code {
		if r < '0' || r > '9' {
			return errors.New("supportpack: the code must be six digits")
		}
	}
	return nil
}
