package pki

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"tailscale.com/atomicfile"
)

// LoadOrCreateSigningKey loads the ed25519 key that signs session grants
// from path, creating it (mode 0600) on first use.
func LoadOrCreateSigningKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("pki: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, fmt.Errorf("pki: %w", err)
		}
		if err := atomicfile.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, fmt.Errorf("pki: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("pki: %s is not PEM", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("pki: %s is not an ed25519 key", path)
	}
	return key, nil
}

// SecretKeySize is the size of the symmetric keys LoadOrCreateSecretKey
// keeps (the audit trail's HMAC key, the support codes' key).
const SecretKeySize = 32

// LoadOrCreateSecretKey loads a 32-byte symmetric key from path (hex, one
// line), creating it (mode 0600, written atomically) on first use; created
// reports that it did. Keys kept here, outside the store, are what stop
// someone who can write the store from forging what they protect.
func LoadOrCreateSecretKey(path string) (key []byte, created bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, SecretKeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, false, fmt.Errorf("pki: %w", err)
		}
		if err := atomicfile.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, false, fmt.Errorf("pki: %w", err)
		}
		return key, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("pki: %w", err)
	}
	key, err = hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != SecretKeySize {
		return nil, false, fmt.Errorf("pki: %s is not a %d-byte hex key", path, SecretKeySize)
	}
	return key, false, nil
}
