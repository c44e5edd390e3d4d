package state

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// testCA returns a fresh self-signed CA certificate as PEM.
func testCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func enrolled(t *testing.T) *State {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &State{
		CoordinatorURL: "https://192.0.2.10:8443", CAPEM: testCA(t), DeviceID: "dev-0001",
		DeviceSecret: strings.Repeat("ab", 32), GrantKey: pub, AuthKey: "hskey-auth-1", Hostname: "pc-7",
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "agent") // Save creates it
	want := enrolled(t)
	if Exists(dir) {
		t.Fatal("Exists before Save")
	}
	if err := Save(dir, want); err != nil {
		t.Fatal(err)
	}
	if !Exists(dir) {
		t.Fatal("Exists after Save = false")
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Load mismatch (-want +got):\n%s", diff)
	}

	st, err := os.Stat(filepath.Join(dir, fileName))
	if err != nil {
		t.Fatal(err)
	}
	if m := st.Mode().Perm(); m != 0o600 {
		t.Errorf("state file mode = %v, want 0600 (it holds the device secret)", m)
	}
	dst, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m := dst.Mode().Perm(); m != 0o700 {
		t.Errorf("state directory mode = %v, want 0700", m)
	}

	ca, err := got.CA()
	if err != nil {
		t.Fatal(err)
	}
	if ca.Subject.CommonName != "test CA" {
		t.Errorf("CA subject = %q", ca.Subject.CommonName)
	}
	key, err := got.GrantPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	if !key.Equal(ed25519.PublicKey(want.GrantKey)) {
		t.Error("GrantPublicKey differs from the saved key")
	}

	// Saving again replaces the state.
	want.AuthKey = ""
	want.Hostname = "pc-8"
	if err := Save(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err = Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Load after second Save (-want +got):\n%s", diff)
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestLoadNotEnrolled(t *testing.T) {
	t.Parallel()
	if _, err := Load(t.TempDir()); !errors.Is(err, ErrNotEnrolled) {
		t.Fatalf("Load(empty dir) = %v, want ErrNotEnrolled", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, ErrNotEnrolled) {
		t.Fatalf("Load(missing dir) = %v, want ErrNotEnrolled", err)
	}
}

func TestLoadBadFile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, content, want string
	}{
		{"empty", "", "damaged"},
		{"truncated", `{"coordinator_url":"https://x","device_id":"d`, "damaged"},
		{"not an object", `["dev-1"]`, "damaged"},
		{"wrong type", `{"coordinator_url":"https://x","device_id":7}`, "damaged"},
		{"no device", `{"coordinator_url":"https://x"}`, "incomplete"},
		{"no coordinator", `{"device_id":"dev-1"}`, "incomplete"},
		{"empty object", `{}`, "incomplete"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			chmod(t, dir, 0o700) // private, so Load reads the file
			path := filepath.Join(dir, fileName)
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Load(dir)
			if err == nil {
				t.Fatalf("Load accepted %q: %+v", tc.content, s)
			}
			if errors.Is(err, ErrNotEnrolled) {
				t.Fatalf("Load = %v: a damaged state is not the same as no state", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("Load = %q, want it to say %q and name %s", err, tc.want, path)
			}
		})
	}
}

func TestLoadUnreadable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A directory where the file should be: it exists but cannot be read.
	if err := os.Mkdir(filepath.Join(dir, fileName), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || errors.Is(err, ErrNotEnrolled) {
		t.Fatalf("Load = %v, want a read error", err)
	}
}

func TestGrantPublicKeySize(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, ed25519.PublicKeySize - 1, ed25519.PublicKeySize + 1, ed25519.PrivateKeySize} {
		s := &State{GrantKey: make([]byte, n)}
		if k, err := s.GrantPublicKey(); err == nil {
			t.Errorf("GrantPublicKey accepted a %d-byte key: %x", n, k)
		}
	}
	s := &State{GrantKey: make([]byte, ed25519.PublicKeySize)}
	if k, err := s.GrantPublicKey(); err != nil || len(k) != ed25519.PublicKeySize {
		t.Errorf("GrantPublicKey(32 bytes) = %x, %v", k, err)
	}
}

func TestCARefusesGarbage(t *testing.T) {
	t.Parallel()
	s := enrolled(t)
	s.CAPEM = []byte("not a certificate")
	if _, err := s.CA(); err == nil {
		t.Fatal("CA() accepted garbage")
	}
}

func TestNodeDir(t *testing.T) {
	t.Parallel()
	if got, want := NodeDir("/var/lib/peerdesk"), filepath.Join("/var/lib/peerdesk", "node"); got != want {
		t.Fatalf("NodeDir = %q, want %q", got, want)
	}
}

func TestSaveFailsOnBadDir(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Save(filepath.Join(file, "sub"), enrolled(t)); err == nil {
		t.Fatal("Save under a regular file succeeded")
	}
}

// FuzzDecode feeds arbitrary bytes as the state file's contents, in memory
// (TestSaveLoadRoundTrip covers the file): Decode never panics, refuses
// with no state, accepts only a complete state, and what it accepts
// encodes to a file that decodes to the same state (an empty custom field
// map and none are the same) and encodes the same.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"coordinator_url":"https://192.0.2.10:8443","device_id":"dev-1","device_secret":"s","grant_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","ca_pem":"","hostname":"pc"}`,
		`{"coordinator_url":"https://x","device_id":"d","grant_key":"!!"}`,
		`{"coordinator_url":"https://x","device_id":"d","extra":1}`,
		`{"coordinator_url":"https://x","device_id":"d","metadata":{"name":"n","custom":{"asset":"42","":"\u0000"}}}`,
		`{"coordinator_url":"https://x","device_id":"d","ca_pem":null,"grant_key":"","hostname":"\ud800"}`,
		`{"COORDINATOR_URL":"https://x","Device_ID":"d","device_id":"e"}`,
		`{}`, `null`, ``, `{"device_id":""}`, `[]`, `{"device_id":"d","coordinator_url":"u"} x`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode(data)
		if err != nil {
			if s != nil {
				t.Fatalf("Decode = %+v with error %v", s, err)
			}
			if !strings.HasPrefix(err.Error(), "state.Decode: ") {
				t.Fatalf("Decode error %q does not name the operation", err)
			}
			return
		}
		if s.DeviceID == "" || s.CoordinatorURL == "" {
			t.Fatalf("Decode accepted an incomplete state: %+v", s)
		}
		b, err := Encode(s)
		if err != nil {
			t.Fatalf("Encode(%+v): %v", s, err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(Encode(%+v)): %v", s, err)
		}
		if diff := cmp.Diff(s, got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip (-decoded +re-decoded):\n%s", diff)
		}
		again, err := Encode(got)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("Encode is not stable: %q, then %q (%v)", b, again, err)
		}
	})
}
