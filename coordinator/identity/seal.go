package identity

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"tailscale.com/atomicfile"
)

// sealKeyLen is the length of the key that seals TOTP secrets (AES-256).
const sealKeyLen = 32

// sealKeyPrefix starts the key file, so a wrong file is recognised.
const sealKeyPrefix = "peerdesk-identity-seal-v1:"

// LoadOrCreateSealKey reads the key that seals TOTP secrets in the store
// from path, or makes one there (mode 0600, written atomically). Keep it
// beside the coordinator's other private keys, outside the store: a copy
// of the store alone then reveals no TOTP secret.
func LoadOrCreateSealKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, sealKeyLen)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("identity.LoadOrCreateSealKey: %w", err)
		}
		if err := atomicfile.WriteFile(path, []byte(sealKeyPrefix+hex.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("identity.LoadOrCreateSealKey: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("identity.LoadOrCreateSealKey: %w", err)
	}
	s, ok := strings.CutPrefix(strings.TrimSpace(string(b)), sealKeyPrefix)
	key, herr := hex.DecodeString(s)
	if !ok || herr != nil || len(key) != sealKeyLen {
		return nil, fmt.Errorf("identity.LoadOrCreateSealKey: %s is not a seal key", path)
	}
	return key, nil
}

// maxSealed bounds a sealed secret as stored (nonce, secret, tag).
const maxSealed = 12 + 64 + 16

// seal encrypts plain with key (AES-256-GCM, random nonce), bound to aad.
func seal(key []byte, aad string, plain []byte) ([]byte, error) {
	g, err := gcm(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, g.NonceSize(), g.NonceSize()+len(plain)+g.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return g.Seal(nonce, nonce, plain, []byte(aad)), nil
}

// open decrypts what seal made with the same key and aad.
func open(key []byte, aad string, sealed []byte) ([]byte, error) {
	g, err := gcm(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < g.NonceSize()+g.Overhead() || len(sealed) > maxSealed {
		return nil, fmt.Errorf("%w: sealed secret of %d bytes", ErrCorrupt, len(sealed))
	}
	plain, err := g.Open(nil, sealed[:g.NonceSize()], sealed[g.NonceSize():], []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("%w: sealed secret does not open with this key", ErrCorrupt)
	}
	return plain, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	if len(key) != sealKeyLen {
		return nil, ErrNoSealKey
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// totpAAD binds a sealed TOTP secret to its account: a sealed secret
// copied into another user's record does not open.
func totpAAD(u User) string { return "peerdesk-totp-v1\x00" + u.ID + "\x00" + u.Name }
