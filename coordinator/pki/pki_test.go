package pki

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/trust"
	"github.com/peerdesk/peerdesk/wire"
)

var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func TestLoadOrCreateKeepsCA(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreate(dir, []string{"127.0.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreate(dir, []string{"127.0.0.1"}, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if a.Pin() != b.Pin() || a.LeafSHA256() != b.LeafSHA256() {
		t.Fatal("second start changed the CA or re-issued a fitting leaf")
	}
	// A new host name re-issues the leaf under the same CA.
	c, err := LoadOrCreate(dir, []string{"127.0.0.1", "coord.lan"}, now.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if c.Pin() != a.Pin() || c.LeafSHA256() == a.LeafSHA256() {
		t.Fatal("a new host name must re-issue the leaf and keep the CA")
	}
	if err := c.Leaf.Leaf.VerifyHostname("coord.lan"); err != nil {
		t.Fatal(err)
	}
	// Near expiry the leaf is renewed.
	d, err := LoadOrCreate(dir, []string{"127.0.0.1", "coord.lan"}, c.Leaf.Leaf.NotAfter.Add(-renewBefore/2))
	if err != nil {
		t.Fatal(err)
	}
	if d.LeafSHA256() == c.LeafSHA256() {
		t.Fatal("leaf close to expiry was not renewed")
	}
}

// serve starts a TLS server with id on loopback that answers the CA path.
func serve(t *testing.T, id *Identity) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc(wire.PathCA, func(w http.ResponseWriter, r *http.Request) { w.Write(trust.EncodeCA(id.CA)) })
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = id.TLSConfig()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestFetchCAByPin(t *testing.T) {
	leak.Check(t)
	id, err := LoadOrCreate(t.TempDir(), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, id)
	ca, err := trust.FetchCA(context.Background(), url, id.Pin())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := trust.Client(ca).Get(url + wire.PathCA)
	if err != nil {
		t.Fatalf("pinned client refused the coordinator: %v", err)
	}
	resp.Body.Close()

	// Another coordinator (an impostor with its own CA) is refused.
	other, err := LoadOrCreate(t.TempDir(), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trust.FetchCA(context.Background(), serve(t, other), id.Pin()); !errors.Is(err, trust.ErrPinMismatch) {
		t.Fatalf("impostor: FetchCA = %v, want ErrPinMismatch", err)
	}
	if _, err := trust.Client(ca).Get(serve(t, other) + wire.PathCA); err == nil {
		t.Fatal("pinned client accepted an impostor")
	}
	// The leaf only: DERP clients pin it by hash and need exactly one.
	conn, err := tlsDial(strings.TrimPrefix(url, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(conn); n != 1 {
		t.Fatalf("server presented %d certificates, want 1", n)
	}
}

func TestLoadShop(t *testing.T) {
	shop := t.TempDir()
	id, err := LoadOrCreate(shop, []string{"coord.shop"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got, err := LoadShop(shop+"/server.crt", shop+"/server.key", shop+"/ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	if got.Pin() != id.Pin() {
		t.Fatal("shop identity has another pin")
	}
	other := t.TempDir()
	if _, err := LoadOrCreate(other, []string{"x"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadShop(shop+"/server.crt", shop+"/server.key", other+"/ca.crt"); err == nil {
		t.Fatal("accepted a leaf not issued by the given CA")
	}
}

func tlsDial(addr string) ([][]byte, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return handshakeCerts(c)
}

func handshakeCerts(c net.Conn) ([][]byte, error) {
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // counting certificates only
	if err := tc.Handshake(); err != nil {
		return nil, err
	}
	var out [][]byte
	for _, cert := range tc.ConnectionState().PeerCertificates {
		out = append(out, cert.Raw)
	}
	return out, nil
}

func TestSigningKeyPersists(t *testing.T) {
	path := t.TempDir() + "/grant.key"
	a, err := LoadOrCreateSigningKey(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateSigningKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Equal(b) {
		t.Fatal("signing key changed across loads")
	}
}

func TestLoadOrCreateSecretKey(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.key")
	k1, created, err := LoadOrCreateSecretKey(path)
	if err != nil || !created || len(k1) != SecretKeySize {
		t.Fatalf("create: %x, %v, %v", k1, created, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v, %v", fi, err)
	}
	k2, created, err := LoadOrCreateSecretKey(path)
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("load: %x (created %v), %v; want %x", k2, created, err, k1)
	}
	if err := os.WriteFile(path, []byte("abcd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateSecretKey(path); err == nil {
		t.Fatal("a short key was accepted")
	}
}
