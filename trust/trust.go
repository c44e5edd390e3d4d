// Package trust is how agents and viewers come to trust the coordinator
// without touching the operating system's trust store.
//
// The coordinator has its own CA (or the shop's). An enrollment token carries
// the SHA-256 of that CA's public key (the pin), as `kubeadm join` carries its
// CA hash. On first contact a node fetches the CA certificate over an
// unauthenticated TLS connection, accepts it only if its public key matches
// the pin, and from then on verifies every connection against that CA alone.
// The CA certificate is kept in the node's state directory.
package trust

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/peerdesk/peerdesk/wire"
)

// Errors returned by this package; test with errors.Is.
var (
	ErrPinMismatch = errors.New("trust: coordinator CA does not match the pin")
	ErrNotCA       = errors.New("trust: certificate is not a CA")
)

// Pin returns the hex SHA-256 of cert's SubjectPublicKeyInfo.
func Pin(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

// ParseCA decodes one PEM CA certificate.
func ParseCA(pemBytes []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("trust: no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("trust: %w", err)
	}
	if !cert.IsCA {
		return nil, ErrNotCA
	}
	return cert, nil
}

// EncodeCA returns cert as PEM.
func EncodeCA(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// TLSConfig returns a client TLS configuration that trusts only ca.
func TLSConfig(ca *x509.Certificate) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// Client returns an HTTP client that trusts only ca. It never uses a proxy
// from the environment: the coordinator is always dialled directly.
func Client(ca *x509.Certificate) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			TLSClientConfig:     TLSConfig(ca),
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConns:        4,
			IdleConnTimeout:     90 * time.Second,
		},
	}
}

// FetchCA fetches the coordinator's CA certificate from baseURL and accepts
// it only if its public key matches pin and the server's own certificate
// chains to it for the host dialled. Nothing secret is sent on this request.
func FetchCA(ctx context.Context, baseURL, pin string) (*x509.Certificate, error) {
	var serverCert *x509.Certificate
	insecure := &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{
			Proxy: nil,
			TLSClientConfig: &tls.Config{
				MinVersion: tls.VersionTLS12,
				// The pin below is the verification: the certificate the
				// server presents is checked against the pinned CA after
				// the CA itself has been checked against the pin.
				InsecureSkipVerify: true, //nolint:gosec // verified by pin, see above
				VerifyConnection: func(cs tls.ConnectionState) error {
					if len(cs.PeerCertificates) == 0 {
						return errors.New("trust: server sent no certificate")
					}
					serverCert = cs.PeerCertificates[0]
					return nil
				},
			},
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+wire.PathCA, nil)
	if err != nil {
		return nil, fmt.Errorf("trust.FetchCA: %w", err)
	}
	resp, err := insecure.Do(req)
	if err != nil {
		return nil, fmt.Errorf("trust.FetchCA: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("trust.FetchCA: %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("trust.FetchCA: %w", err)
	}
	ca, err := ParseCA(body)
	if err != nil {
		return nil, fmt.Errorf("trust.FetchCA: %w", err)
	}
	if !wire.PinEqual(Pin(ca), pin) {
		return nil, ErrPinMismatch
	}
	if err := VerifyServer(ca, serverCert, req.URL.Hostname()); err != nil {
		return nil, fmt.Errorf("trust.FetchCA: %w", err)
	}
	return ca, nil
}

// VerifyServer checks that leaf is a server certificate issued by ca for host.
func VerifyServer(ca, leaf *x509.Certificate, host string) error {
	if leaf == nil {
		return errors.New("trust: no server certificate")
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	_, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}
