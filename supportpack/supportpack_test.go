package supportpack

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/wire"
)

var cfg = wire.SupportConfig{Code: "042917", CoordinatorURL: "https://10.0.0.5:8443", Pin: strings.Repeat("ab", 32)}

func TestRoundTrip(t *testing.T) {
	exe := bytes.Repeat([]byte("\x7fELF binary "), 1000)
	var out bytes.Buffer
	if _, err := Write(&out, bytes.NewReader(exe), cfg); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out.Bytes(), exe) {
		t.Fatal("the executable was changed")
	}
	got, err := Read(bytes.NewReader(out.Bytes()), int64(out.Len()))
	if err != nil || got != cfg {
		t.Fatalf("Read = %+v, %v", got, err)
	}
	if _, err := Read(bytes.NewReader(exe), int64(len(exe))); !errors.Is(err, ErrNone) {
		t.Fatalf("plain executable: %v, want ErrNone", err)
	}
}

func TestRefusals(t *testing.T) {
	for name, c := range map[string]wire.SupportConfig{
		"short code":  {Code: "123", CoordinatorURL: cfg.CoordinatorURL, Pin: cfg.Pin},
		"letter code": {Code: "12345a", CoordinatorURL: cfg.CoordinatorURL, Pin: cfg.Pin},
		"no pin":      {Code: cfg.Code, CoordinatorURL: cfg.CoordinatorURL},
	} {
		if _, err := Encode(c); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
}

// FuzzRead reads arbitrary bytes as an executable, in memory: Read never
// panics; it says ErrNone exactly when the file has no footer (the length
// and the magic);
// what it accepts is a complete configuration, read from a trailer at the
// end of the file, that Encode writes back into a trailer Read reads the
// same after any executable.
func FuzzRead(f *testing.F) {
	good, err := Encode(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(append([]byte("exe"), good...))
	f.Add([]byte(magic))
	f.Add(append(make([]byte, 8), magic...))
	f.Add(append([]byte("exe"), bytes.Replace(good, []byte(`"code"`), []byte(`"Code"`), 1)...))
	f.Add(append([]byte("exe{}"), good[len(good)-footerSize:]...))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Read(bytes.NewReader(b), int64(len(b)))
		if errors.Is(err, ErrNone) != (len(b) < footerSize || !bytes.HasSuffix(b, []byte(magic))) {
			t.Fatalf("Read = %v for a file that ends in %q", err, b[max(0, len(b)-len(magic)):])
		}
		if err != nil {
			if got != (wire.SupportConfig{}) {
				t.Fatalf("Read = %+v with error %v", got, err)
			}
			return
		}
		if check(got) != nil {
			t.Fatalf("accepted an invalid configuration %+v", got)
		}
		trailer, err := Encode(got)
		if err != nil {
			t.Fatalf("Encode(%+v): %v", got, err)
		}
		for _, exe := range [][]byte{nil, []byte("exe"), b} {
			again, err := Read(bytes.NewReader(append(bytes.Clone(exe), trailer...)), int64(len(exe)+len(trailer)))
			if err != nil || again != got {
				t.Fatalf("re-encoded after %d bytes: %+v, %v; want %+v", len(exe), again, err, got)
			}
		}
	})
}
