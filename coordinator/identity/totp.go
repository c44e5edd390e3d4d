package identity

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"image/png"
	"log/slog"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/peerdesk/peerdesk/coordinator/store"
)

// TOTP parameters: what every authenticator app understands (RFC 6238
// defaults), one step of clock skew either way.
const (
	totpPeriod     = 30 // seconds
	totpSkew       = 1  // steps either side of now
	totpDigits     = otp.DigitsSix
	totpSecretSize = 20 // bytes (160 bits, RFC 4226's recommendation)
	totpSetupTTL   = 10 * time.Minute
	// RecoveryCodeCount is how many recovery codes ConfirmTOTP hands out.
	RecoveryCodeCount = 10
	recoveryLen       = 16 // base32 characters: 80 bits
	maxCodeLen        = 64 // longest second-factor input looked at
)

// ErrNoTOTPSetup is returned by ConfirmTOTP without a BeginTOTP in the
// last 10 minutes.
var ErrNoTOTPSetup = errors.New("identity: no two-factor setup in progress; start again")

// TOTPState is an account's second factor as stored.
type TOTPState struct {
	Enabled bool `json:"enabled,omitempty"`
	// Sealed is the secret, sealed with the seal key and bound to the
	// account (see seal).
	Sealed []byte `json:"sealed,omitempty"`
	// LastStep is the time step of the last code accepted; a code of
	// that step or an earlier one is refused (no replay in its window).
	LastStep int64 `json:"last_step,omitempty"`
	// Recovery holds the SHA-256 of each unused recovery code.
	Recovery []string `json:"recovery,omitempty"`
	// PendingSealed is a secret handed out by BeginTOTP and not yet
	// confirmed; PendingExpires ends it.
	PendingSealed  []byte    `json:"pending_sealed,omitempty"`
	PendingExpires time.Time `json:"pending_expires,omitzero"`
}

// TOTPSetup is what an authenticator app needs, shown once: the secret
// (base32), the otpauth:// URL, and that URL as a QR code (PNG).
type TOTPSetup struct {
	Secret string
	URL    string
	PNG    []byte
}

// String prints the setup without its secret.
func (TOTPSetup) String() string { return "TOTP setup (secret redacted)" }

// GoString is String.
func (s TOTPSetup) GoString() string { return s.String() }

// LogValue implements slog.LogValuer without the secret.
func (s TOTPSetup) LogValue() slog.Value { return slog.StringValue(s.String()) }

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// BeginTOTP starts turning on TOTP for name: it returns a new secret for
// the authenticator app, kept sealed and pending until ConfirmTOTP proves
// the app has it. An earlier unconfirmed secret is replaced.
func (a *Accounts) BeginTOTP(name string) (TOTPSetup, error) {
	if a.sealKey == nil {
		return TOTPSetup{}, ErrNoSealKey
	}
	secret := make([]byte, totpSecretSize)
	if _, err := rand.Read(secret); err != nil {
		return TOTPSetup{}, fmt.Errorf("identity.BeginTOTP: %w", err)
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: a.issuer, AccountName: name, Period: totpPeriod,
		Secret: secret, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return TOTPSetup{}, fmt.Errorf("identity.BeginTOTP: %w", err)
	}
	img, err := key.Image(256, 256)
	if err != nil {
		return TOTPSetup{}, fmt.Errorf("identity.BeginTOTP: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return TOTPSetup{}, fmt.Errorf("identity.BeginTOTP: %w", err)
	}
	err = a.db.Update(func(tx store.Tx) error {
		u, err := getUser(tx, name)
		if err != nil {
			return err
		}
		if u.Disabled {
			return ErrDisabled
		}
		if u.TOTP.Enabled {
			return ErrTOTPEnabled
		}
		sealed, err := seal(a.sealKey, totpAAD(u), secret)
		if err != nil {
			return err
		}
		u.TOTP.PendingSealed, u.TOTP.PendingExpires = sealed, a.now().Add(totpSetupTTL).UTC()
		return tx.Put(nsUser, name, u)
	})
	if err != nil {
		return TOTPSetup{}, fmt.Errorf("identity.BeginTOTP: %w", err)
	}
	return TOTPSetup{Secret: key.Secret(), URL: key.URL(), PNG: buf.Bytes()}, nil
}

// ConfirmTOTP turns TOTP on for name once code proves the authenticator
// app holds the secret BeginTOTP gave, and returns RecoveryCodeCount
// recovery codes: shown once, stored hashed, each good for one login.
func (a *Accounts) ConfirmTOTP(name, code string) ([]string, error) {
	if a.sealKey == nil {
		return nil, ErrNoSealKey
	}
	codes := make([]string, RecoveryCodeCount)
	for i := range codes {
		codes[i] = newRecoveryCode()
	}
	now := a.now()
	var result error
	err := a.db.Update(func(tx store.Tx) error {
		result = nil
		u, err := getUser(tx, name)
		if err != nil {
			return err
		}
		switch {
		case u.Disabled:
			return ErrDisabled
		case u.TOTP.Enabled:
			return ErrTOTPEnabled
		case len(u.TOTP.PendingSealed) == 0 || !now.Before(u.TOTP.PendingExpires):
			return ErrNoTOTPSetup
		}
		secret, err := open(a.sealKey, totpAAD(u), u.TOTP.PendingSealed)
		if err != nil {
			return err
		}
		step, ok := matchTOTP(secret, code, now, -1)
		if !ok {
			result = ErrBadCode
			return nil
		}
		hashes := make([]string, len(codes))
		for i, c := range codes {
			hashes[i] = recoveryHash(u, normalizeRecovery(c))
		}
		u.TOTP = TOTPState{Enabled: true, Sealed: u.TOTP.PendingSealed, LastStep: step, Recovery: hashes}
		return tx.Put(nsUser, name, u)
	})
	if err == nil {
		err = result
	}
	if err != nil {
		return nil, fmt.Errorf("identity.ConfirmTOTP: %w", err)
	}
	return codes, nil
}

// DisableTOTP turns TOTP off for name, who proves it with a code or a
// recovery code; a wrong one counts toward the lockout like a wrong
// password.
func (a *Accounts) DisableTOTP(name, code string) error {
	now := a.now()
	var result error
	err := a.db.Update(func(tx store.Tx) error {
		result = nil
		u, err := getUser(tx, name)
		if err != nil {
			return err
		}
		if !u.TOTP.Enabled {
			return ErrTOTPNotEnabled
		}
		if now.Before(u.LockedUntil) {
			result = lockedErr(u.LockedUntil)
			return nil
		}
		ok, err := a.secondFactor(&u, code, now)
		if err != nil {
			return err
		}
		if !ok {
			result = fmt.Errorf("%w: %w", ErrBadCode, countFailure(&u, now))
			return tx.Put(nsUser, name, u)
		}
		u.TOTP = TOTPState{}
		return tx.Put(nsUser, name, u)
	})
	if err == nil {
		err = result
	}
	if err != nil {
		return fmt.Errorf("identity.DisableTOTP: %w", err)
	}
	return nil
}

// ResetTOTP turns TOTP off for name without a code: an admin's reset for
// a technician who lost their authenticator. Where TOTP is required, the
// account's sessions then answer ErrTOTPSetupRequired until it is set up
// again.
func (a *Accounts) ResetTOTP(name string) error {
	err := a.db.Update(func(tx store.Tx) error {
		u, err := getUser(tx, name)
		if err != nil {
			return err
		}
		u.TOTP = TOTPState{}
		return tx.Put(nsUser, name, u)
	})
	if err != nil {
		return fmt.Errorf("identity.ResetTOTP: %w", err)
	}
	return nil
}

// secondFactor checks code (a TOTP code or an unused recovery code)
// against u and, when it is right, uses it up in u (LastStep moves on, the
// recovery code is removed) for the caller to write in the same
// transaction.
func (a *Accounts) secondFactor(u *User, code string, now time.Time) (bool, error) {
	if len(code) > maxCodeLen {
		return false, nil
	}
	code = strings.TrimSpace(code)
	if len(code) == int(totpDigits) {
		secret, err := open(a.sealKey, totpAAD(*u), u.TOTP.Sealed)
		if err != nil {
			return false, err
		}
		step, ok := matchTOTP(secret, code, now, u.TOTP.LastStep)
		if ok {
			u.TOTP.LastStep = step
		}
		return ok, nil
	}
	norm := normalizeRecovery(code)
	if norm == "" {
		return false, nil
	}
	want := recoveryHash(*u, norm)
	for i, h := range u.TOTP.Recovery {
		if subtle.ConstantTimeCompare([]byte(h), []byte(want)) == 1 {
			u.TOTP.Recovery = append(u.TOTP.Recovery[:i:i], u.TOTP.Recovery[i+1:]...)
			return true, nil
		}
	}
	return false, nil
}

// matchTOTP returns the time step, later than after, whose code is code,
// looking one step either side of now.
func matchTOTP(secret []byte, code string, now time.Time, after int64) (int64, bool) {
	if len(code) != int(totpDigits) {
		return 0, false
	}
	enc := b32.EncodeToString(secret)
	cur := now.Unix() / totpPeriod
	var (
		found int64
		ok    bool
	)
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		step := cur + d
		if step < 0 {
			continue
		}
		want, err := hotp.GenerateCodeCustom(enc, uint64(step), hotp.ValidateOpts{Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && step > after && !ok {
			found, ok = step, true
		}
	}
	return found, ok
}

const recoveryAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

// newRecoveryCode is 80 random bits as xxxx-xxxx-xxxx-xxxx (base32).
func newRecoveryCode() string {
	b := make([]byte, recoveryLen)
	if _, err := rand.Read(b); err != nil {
		panic("identity: crypto/rand failed: " + err.Error()) // never fails on supported OSes
	}
	var sb strings.Builder
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(recoveryAlphabet[c&31])
	}
	return sb.String()
}

// normalizeRecovery accepts a recovery code as typed (any case, dashes or
// spaces between groups) and returns its 16 characters, or "" if it is not
// one.
func normalizeRecovery(s string) string {
	if len(s) > maxCodeLen {
		return ""
	}
	var sb strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r == '-' || r == ' ':
		case strings.ContainsRune(recoveryAlphabet, r):
			sb.WriteRune(r)
		default:
			return ""
		}
	}
	if sb.Len() != recoveryLen {
		return ""
	}
	return sb.String()
}

// recoveryHash is the stored form of a recovery code: SHA-256 bound to
// the account. The code's 80 random bits make a slow hash unnecessary.
func recoveryHash(u User, norm string) string {
	sum := sha256.Sum256([]byte("peerdesk-recovery-v1\x00" + u.ID + "\x00" + u.Name + "\x00" + norm))
	return hex.EncodeToString(sum[:])
}
