package harness

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/supportpack"
	"github.com/peerdesk/peerdesk/wire"
)

// SupportBinary makes the one-time support agent the portal would hand out
// for code: the real peerdesk-agent with the code, the coordinator's
// address and its CA pin in the trailer.
func (c *Coordinator) SupportBinary(t testing.TB, code string) string {
	t.Helper()
	agent, err := os.Open(filepath.Join(Binaries(t), "peerdesk-agent"))
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	path := filepath.Join(t.TempDir(), "peerdesk-support-"+code)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := supportpack.Write(f, agent, wire.SupportConfig{Code: code, CoordinatorURL: c.URL(), Pin: c.Pin()}); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// SupportBinaries makes the directory of one-time agents a coordinator's
// portal offers (WithSupportBinaries): the real peerdesk-agent, built for
// this machine, as peerdesk-agent-linux-amd64.
func SupportBinaries(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(Binaries(t), "peerdesk-agent"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "peerdesk-agent-linux-amd64"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// SPKIPin is the base64 SHA-256 of the public key of the coordinator's TLS
// leaf, which TrustSPKI takes.
func (c *Coordinator) SPKIPin(t testing.TB) string {
	t.Helper()
	leaf := c.Identity().Leaf
	cert := leaf.Leaf
	if cert == nil {
		var err error
		if cert, err = x509.ParseCertificate(leaf.Certificate[0]); err != nil {
			t.Fatal(err)
		}
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// SPKIPinAt is SPKIPin for a coordinator the test runs as a process: the
// pin of the TLS key the server at url (https://host:port) presents.
func SPKIPinAt(t testing.TB, url string) string {
	t.Helper()
	host := strings.TrimPrefix(url, "https://")
	conn, err := tls.Dial("tcp", host, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only to read the key whose pin the test then trusts
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sum := sha256.Sum256(conn.ConnectionState().PeerCertificates[0].RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}
