// Package pki gives the coordinator its TLS identity: a CA it creates on first
// start (kept in its data directory) and a server certificate issued by that
// CA for the coordinator's addresses, or the shop's own certificate and CA.
//
// The server presents only its leaf certificate, with no chain: the overlay's
// DERP clients pin that leaf by hash (tailcfg.DERPNode.CertName
// "sha256-raw:…"), which requires exactly one certificate on the wire, and
// agents verify the leaf against the pinned CA directly.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/peerdesk/peerdesk/trust"
	"tailscale.com/atomicfile"
)

// Lifetimes of what this package issues.
const (
	CALifetime   = 10 * 365 * 24 * time.Hour
	LeafLifetime = 397 * 24 * time.Hour
	renewBefore  = 30 * 24 * time.Hour
)

// Identity is the coordinator's TLS identity.
type Identity struct {
	CA   *x509.Certificate
	Leaf tls.Certificate // exactly one certificate: the leaf
}

// Pin is the CA pin carried by enrollment tokens.
func (id *Identity) Pin() string { return trust.Pin(id.CA) }

// LeafSHA256 is the hex SHA-256 of the leaf certificate's DER bytes, as
// tailcfg.DERPNode.CertName "sha256-raw:<hex>" expects.
func (id *Identity) LeafSHA256() string {
	sum := sha256.Sum256(id.Leaf.Certificate[0])
	return hex.EncodeToString(sum[:])
}

// TLSConfig is the server configuration.
func (id *Identity) TLSConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{id.Leaf},
		MinVersion:   tls.VersionTLS12,
		// HTTP/1.1 only: the overlay's control and DERP protocols upgrade
		// the connection, which HTTP/2 cannot do.
		NextProtos: []string{"http/1.1"},
	}
}

// LoadOrCreate loads the CA and leaf from dir, creating the CA on first use
// and (re)issuing the leaf when it is missing, expiring within 30 days, or
// does not cover every name in hosts (IP literals or DNS names).
func LoadOrCreate(dir string, hosts []string, now time.Time) (*Identity, error) {
	if len(hosts) == 0 {
		return nil, errors.New("pki: no host names for the server certificate")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	caCert, caKey, err := loadPair(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"))
	if errors.Is(err, os.ErrNotExist) {
		caCert, caKey, err = createCA(dir, now)
	}
	if err != nil {
		return nil, err
	}
	leafPath, keyPath := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	leaf, leafKey, err := loadPair(leafPath, keyPath)
	if err != nil || !leafFits(leaf, caCert, hosts, now) {
		leaf, leafKey, err = issueLeaf(dir, caCert, caKey, hosts, now)
		if err != nil {
			return nil, err
		}
	}
	return &Identity{CA: caCert, Leaf: tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: leafKey, Leaf: leaf}}, nil
}

// LoadShop loads a shop's own certificate: certFile holds the server leaf
// (first PEM block; any further blocks are ignored), keyFile its key, and
// caFile the CA that issued the leaf directly.
func LoadShop(certFile, keyFile, caFile string) (*Identity, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("pki: shop certificate: %w", err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("pki: shop CA: %w", err)
	}
	ca, err := trust.ParseCA(caPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: shop CA: %w", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("pki: shop certificate: %w", err)
	}
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		return nil, fmt.Errorf("pki: shop certificate is not issued directly by the shop CA: %w", err)
	}
	return &Identity{CA: ca, Leaf: tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: pair.PrivateKey, Leaf: leaf}}, nil
}

func leafFits(leaf, ca *x509.Certificate, hosts []string, now time.Time) bool {
	if leaf.CheckSignatureFrom(ca) != nil || now.Add(renewBefore).After(leaf.NotAfter) {
		return false
	}
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func createCA(dir string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "peerdesk coordinator CA", Organization: []string{"peerdesk"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CALifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	return writePair(dir, "ca", tmpl, tmpl, key, key)
}

func issueLeaf(dir string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, hosts []string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hosts[0], Organization: []string{"peerdesk"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(LeafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range slices.Compact(slices.Sorted(slices.Values(hosts))) {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return writePair(dir, "server", tmpl, ca, key, caKey)
}

func writePair(dir, name string, tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: %w", err)
	}
	// Key first: a certificate on disk without its key would be a pair
	// that cannot be loaded; the reverse is re-issued on the next start.
	if err := atomicfile.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, nil, fmt.Errorf("pki: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, nil, fmt.Errorf("pki: %w", err)
	}
	return cert, key, nil
}

func loadPair(certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, fmt.Errorf("pki: %s or %s is not PEM", certPath, keyPath)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: %s: %w", certPath, err)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: %s: %w", keyPath, err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, fmt.Errorf("pki: %s does not match %s", keyPath, certPath)
	}
	return cert, key, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("pki: crypto/rand failed: " + err.Error()) // never fails on supported OSes
	}
	return n
}
