package identity

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzParseAPIKey: a presented API key is parsed strictly: no panic, and
// whatever parses is exactly the key its parts make.
func FuzzParseAPIKey(f *testing.F) {
	f.Add("pdk_0123456789abcdef_" + strings.Repeat("A", 43))
	f.Add("pdk_0123456789ABCDEF_" + strings.Repeat("A", 43))
	f.Add("pdk_0123456789abcdef_" + strings.Repeat("_", 43))
	f.Add("")
	f.Fuzz(func(t *testing.T, key string) {
		id, secret, ok := parseAPIKey(key)
		if !ok {
			return
		}
		if again := APIKeyPrefix + id + "_" + b64.EncodeToString(secret); again != key {
			t.Fatalf("parsed %q, which makes %q", key, again)
		}
	})
}

// FuzzDecodeUser: a stored user record that decodes passes its checks,
// and encodes and decodes to the same record.
func FuzzDecodeUser(f *testing.F) {
	f.Add([]byte(`{"name":"alice","role":"admin","hash":"$argon2id$x","created":"2026-11-21T12:00:00Z","failures":2,"locked_until":"0001-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"name":"bob","role":"technician","hash":"h","companies":["acme"],"id":"00ff","epoch":3,"disabled":true,"totp":{"enabled":true,"sealed":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","last_step":5,"recovery":["` + strings.Repeat("0", 64) + `"]}}`))
	f.Add([]byte(`{"name":"x","role":"god"}`))
	f.Add([]byte(`{"name":"x","role":"viewer","failures":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := decodeUser(b)
		if err != nil {
			return
		}
		enc, err := json.Marshal(u)
		if err != nil {
			t.Fatal(err)
		}
		v, err := decodeUser(enc)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", enc, err)
		}
		enc2, _ := json.Marshal(v)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip changed the record:\n%s\n%s", enc, enc2)
		}
	})
}

// FuzzOpenSealed: a stored sealed secret either opens with the key and
// account it was sealed for or is refused; never a panic, never another
// account's.
func FuzzOpenSealed(f *testing.F) {
	good, err := seal(testSealKey, "aad", []byte("secret"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, "aad")
	f.Add(good, "other")
	f.Add([]byte{}, "")
	f.Add(bytes.Repeat([]byte{1}, maxSealed+1), "aad")
	f.Fuzz(func(t *testing.T, sealed []byte, aad string) {
		plain, err := open(testSealKey, aad, sealed)
		if err != nil {
			return
		}
		if aad != "aad" || string(plain) != "secret" { // only a seal made here opens: GCM cannot be forged
			t.Fatalf("opened %x for %q: %q", sealed, aad, plain)
		}
	})
}

// FuzzSecondFactor: whatever is typed as a second factor, checking it
// neither panics nor accepts anything but the current code or a recovery
// code, and a code once accepted is not accepted again.
func FuzzSecondFactor(f *testing.F) {
	f.Add("123456")
	f.Add("abcd-efgh-ijkl-mnop")
	f.Add("ABCD EFGH IJKL MNOP")
	f.Add(" 123456 ")
	f.Add("١٢٣٤٥٦") // Arabic-Indic digits
	secret := []byte("0123456789abcdefghij")
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	a := &Accounts{sealKey: testSealKey}
	f.Fuzz(func(t *testing.T, input string) {
		u := User{Name: "alice", ID: "id"}
		sealed, err := seal(testSealKey, totpAAD(u), secret)
		if err != nil {
			t.Fatal(err)
		}
		recovery := "abcdefghijklmnop"
		u.TOTP = TOTPState{Enabled: true, Sealed: sealed, Recovery: []string{recoveryHash(u, recovery)}}
		ok, err := a.secondFactor(&u, input, now)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		if n := normalizeRecovery(input); n != "" && n != recovery {
			t.Fatalf("accepted %q as a recovery code", input)
		}
		if again, _ := a.secondFactor(&u, input, now); again {
			t.Fatalf("accepted %q twice", input)
		}
	})
}
