package trust_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peerdesk/peerdesk/coordinator/pki"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/trust"
	"github.com/peerdesk/peerdesk/wire"
)

// coordinator makes a coordinator TLS identity (a CA and a leaf for hosts).
func coordinator(t testing.TB, hosts ...string) (*pki.Identity, string) {
	t.Helper()
	dir := t.TempDir()
	id, err := pki.LoadOrCreate(dir, hosts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return id, dir
}

// serveTLS starts a loopback TLS server presenting id's leaf.
func serveTLS(t *testing.T, id *pki.Identity, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = id.TLSConfig()
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

func servingCA(pemBytes []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != wire.PathCA || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		w.Write(pemBytes)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseCA(t *testing.T) {
	id, dir := coordinator(t, "127.0.0.1")
	caPEM := trust.EncodeCA(id.CA)
	der, _ := pem.Decode(caPEM)

	got, err := trust.ParseCA(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(id.CA) {
		t.Fatal("ParseCA returned another certificate")
	}
	// Text around the block and a second block are tolerated; the first
	// block is the CA.
	if got, err := trust.ParseCA(append(append([]byte("issued by the shop\n"), caPEM...), readFile(t, filepath.Join(dir, "server.crt"))...)); err != nil || !got.Equal(id.CA) {
		t.Fatalf("ParseCA with surrounding text = %v", err)
	}

	for _, tc := range []struct {
		name  string
		in    []byte
		notCA bool // the refusal must be ErrNotCA
	}{
		{name: "empty", in: nil},
		{name: "not PEM", in: []byte("hello")},
		{name: "raw DER", in: der.Bytes},
		{name: "a private key", in: readFile(t, filepath.Join(dir, "ca.key"))},
		{name: "certificate block of garbage", in: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("garbage")})},
		{name: "truncated certificate", in: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der.Bytes[:len(der.Bytes)/2]})},
		{name: "lower-case type", in: pem.EncodeToMemory(&pem.Block{Type: "certificate", Bytes: der.Bytes})},
		{name: "the server's leaf", in: readFile(t, filepath.Join(dir, "server.crt")), notCA: true},
		{name: "a self-signed non-CA", in: selfSigned(t, false), notCA: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert, err := trust.ParseCA(tc.in)
			if err == nil {
				t.Fatalf("ParseCA accepted it: %v", cert.Subject)
			}
			if tc.notCA != errors.Is(err, trust.ErrNotCA) {
				t.Fatalf("ParseCA = %v; ErrNotCA expected: %v", err, tc.notCA)
			}
		})
	}
	if _, err := trust.ParseCA(selfSigned(t, true)); err != nil {
		t.Fatalf("a self-signed CA: %v", err)
	}
}

// selfSigned returns a PEM certificate that is, or is not, a CA.
func selfSigned(t testing.TB, isCA bool) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "self"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		BasicConstraintsValid: true, IsCA: isCA,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestPin(t *testing.T) {
	a, dirA := coordinator(t, "127.0.0.1")
	b, _ := coordinator(t, "127.0.0.1")
	pin := trust.Pin(a.CA)
	if raw, err := hex.DecodeString(pin); err != nil || len(raw) != 32 || strings.ToLower(pin) != pin {
		t.Fatalf("pin %q is not 64 lower-case hex digits", pin)
	}
	if trust.Pin(a.CA) != pin {
		t.Fatal("Pin is not stable")
	}
	// Reloaded from disk (a restart), the CA has the same pin.
	again, err := pki.LoadOrCreate(dirA, []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if trust.Pin(again.CA) != pin {
		t.Fatal("the pin changed across a restart")
	}
	if trust.Pin(b.CA) == pin {
		t.Fatal("two CAs share a pin")
	}
	// The pin is of the public key: the leaf (another key) differs.
	if trust.Pin(a.Leaf.Leaf) == pin {
		t.Fatal("the leaf has the CA's pin")
	}
	// Tokens carry the pin; it must fit the token format.
	tok := wire.EnrollToken{ID: "0123abcd", Secret: strings.Repeat("ab", 20), Pin: pin}
	if _, err := wire.ParseEnrollToken(tok.String()); err != nil {
		t.Fatalf("a token carrying the pin does not parse: %v", err)
	}
}

func TestFetchCA(t *testing.T) {
	leak.Check(t)
	ctx := context.Background()
	genuine, _ := coordinator(t, "127.0.0.1")
	impostor, _ := coordinator(t, "127.0.0.1")
	elsewhere, _ := coordinator(t, "coord.example") // a leaf for another host name

	url := serveTLS(t, genuine, servingCA(trust.EncodeCA(genuine.CA)))
	ca, err := trust.FetchCA(ctx, url, genuine.Pin())
	if err != nil {
		t.Fatal(err)
	}
	if !ca.Equal(genuine.CA) {
		t.Fatal("FetchCA returned another CA")
	}

	for _, tc := range []struct {
		name     string
		url      string
		pin      string
		mismatch bool // the error must be ErrPinMismatch
	}{
		{name: "pin of another CA", url: url, pin: impostor.Pin(), mismatch: true},
		{name: "impostor serving its own CA", url: serveTLS(t, impostor, servingCA(trust.EncodeCA(impostor.CA))), pin: genuine.Pin(), mismatch: true},
		// The impostor copies the genuine (public) CA certificate but
		// cannot present a leaf issued by it.
		{name: "impostor serving the genuine CA", url: serveTLS(t, impostor, servingCA(trust.EncodeCA(genuine.CA))), pin: genuine.Pin()},
		{name: "leaf for another host", url: serveTLS(t, elsewhere, servingCA(trust.EncodeCA(elsewhere.CA))), pin: elsewhere.Pin()},
		{name: "not found", url: serveTLS(t, genuine, http.NotFound), pin: genuine.Pin()},
		{name: "server error", url: serveTLS(t, genuine, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			w.Write(trust.EncodeCA(genuine.CA))
		}), pin: genuine.Pin()},
		{name: "not a certificate", url: serveTLS(t, genuine, servingCA([]byte("<html>hello</html>"))), pin: genuine.Pin()},
		{name: "the leaf instead of the CA", url: serveTLS(t, genuine, servingCA(trust.EncodeCA(genuine.Leaf.Leaf))), pin: trust.Pin(genuine.Leaf.Leaf)},
		{name: "plain HTTP", url: "http" + strings.TrimPrefix(url, "https"), pin: genuine.Pin()},
		{name: "bad URL", url: "://nowhere", pin: genuine.Pin()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca, err := trust.FetchCA(ctx, tc.url, tc.pin)
			if err == nil {
				t.Fatalf("FetchCA accepted %v", ca.Subject)
			}
			if tc.mismatch != errors.Is(err, trust.ErrPinMismatch) {
				t.Fatalf("FetchCA = %v; ErrPinMismatch expected: %v", err, tc.mismatch)
			}
		})
	}
}

func TestClientTrustsOnlyTheCA(t *testing.T) {
	leak.Check(t)
	genuine, _ := coordinator(t, "127.0.0.1")
	impostor, _ := coordinator(t, "127.0.0.1")
	ok := func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }

	resp, err := trust.Client(genuine.CA).Get(serveTLS(t, genuine, ok))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := trust.Client(genuine.CA).Get(serveTLS(t, impostor, ok)); err == nil {
		t.Fatal("the client trusted a server of another CA")
	}
	if err := trust.VerifyServer(genuine.CA, genuine.Leaf.Leaf, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"another host": trust.VerifyServer(genuine.CA, genuine.Leaf.Leaf, "coord.example"),
		"another CA":   trust.VerifyServer(impostor.CA, genuine.Leaf.Leaf, "127.0.0.1"),
		"no leaf":      trust.VerifyServer(genuine.CA, nil, "127.0.0.1"),
	} {
		if err == nil {
			t.Errorf("VerifyServer accepted %s", name)
		}
	}
}

// FuzzParseCA: ParseCA never panics, accepts only CA certificates, and what
// it accepts survives EncodeCA with the same pin.
func FuzzParseCA(f *testing.F) {
	id, dir := coordinator(f, "127.0.0.1")
	caPEM := trust.EncodeCA(id.CA)
	for _, seed := range [][]byte{
		caPEM,
		readFile(f, filepath.Join(dir, "server.crt")),
		readFile(f, filepath.Join(dir, "ca.key")),
		selfSigned(f, true),
		selfSigned(f, false),
		caPEM[:len(caPEM)/2],
		bytes.ReplaceAll(caPEM, []byte("CERTIFICATE"), []byte("CERTIFICATE REQUEST")),
		[]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"),
		nil,
		[]byte("hello"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		cert, err := trust.ParseCA(in)
		if err != nil {
			if cert != nil {
				t.Fatal("ParseCA returned a certificate with an error")
			}
			return
		}
		if !cert.IsCA {
			t.Fatal("ParseCA accepted a certificate that is not a CA")
		}
		again, err := trust.ParseCA(trust.EncodeCA(cert))
		if err != nil {
			t.Fatalf("re-encoded CA does not parse: %v", err)
		}
		if !again.Equal(cert) || trust.Pin(again) != trust.Pin(cert) {
			t.Fatal("re-encoding changed the CA")
		}
	})
}
