package grant

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/peerdesk/peerdesk/wire"
)

var (
	t0    = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	nodeA = "nodekey:" + strings.Repeat("a", 64)
	nodeB = "nodekey:" + strings.Repeat("b", 64)
)

func sample() Grant {
	return Grant{
		ID: "g1", Technician: "alice", NodeKey: nodeA, Device: "dev1",
		Capabilities: []wire.Capability{wire.CapSysInfo},
		IssuedAt:     t0.Unix(), Expires: t0.Add(5 * time.Minute).Unix(),
	}
}

func keys(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func TestRoundTrip(t *testing.T) {
	pub, priv := keys(t)
	s, err := Sign(priv, sample())
	if err != nil {
		t.Fatal(err)
	}
	got, err := Verify(pub, s, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(sample(), got); d != "" {
		t.Fatalf("round trip (-want +got):\n%s", d)
	}
	if err := got.Check("dev1", nodeA, wire.CapSysInfo); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	pub, priv := keys(t)
	otherPub, otherPriv := keys(t)
	_ = otherPub
	good, err := Sign(priv, sample())
	if err != nil {
		t.Fatal(err)
	}
	forged, err := Sign(otherPriv, sample())
	if err != nil {
		t.Fatal(err)
	}
	// Flip one byte of the payload: the signature must no longer match.
	tampered := []byte(good)
	tampered[len(prefix)+3] ^= 1
	for _, tc := range []struct {
		name string
		s    string
		now  time.Time
		want error
	}{
		{"expired", good, t0.Add(5*time.Minute + ClockSkew + time.Second), ErrExpired},
		{"not yet valid", good, t0.Add(-ClockSkew - time.Second), ErrNotYetValid},
		{"other signer", forged, t0, ErrSignature},
		{"tampered", string(tampered), t0, nil}, // malformed or bad signature
		{"empty", "", t0, ErrMalformed},
		{"no prefix", "x" + good, t0, ErrMalformed},
		{"too long", prefix + strings.Repeat("A", MaxEncoded), t0, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(pub, tc.s, tc.now)
			if err == nil {
				t.Fatal("Verify accepted a grant it must refuse")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	g := sample()
	for _, tc := range []struct {
		name         string
		device, node string
		want         error
	}{
		{"other device", "dev2", nodeA, ErrWrongDevice},
		{"other node", "dev1", nodeB, ErrWrongNode},
	} {
		if err := g.Check(tc.device, tc.node, wire.CapSysInfo); !errors.Is(err, tc.want) {
			t.Errorf("%s: Check = %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := g.Check("dev1", nodeA, wire.Capability("screen")); !errors.Is(err, ErrCapability) {
		t.Errorf("missing capability: Check = %v, want %v", err, ErrCapability)
	}
}

func TestSignRefusesBadGrants(t *testing.T) {
	_, priv := keys(t)
	long := sample()
	long.Expires = t0.Add(MaxLifetime + time.Second).Unix()
	unknown := sample()
	unknown.Capabilities = []wire.Capability{"launch-missiles"}
	noNode := sample()
	noNode.NodeKey = "alice"
	for name, g := range map[string]Grant{"too long": long, "unknown capability": unknown, "bad node key": noNode} {
		if _, err := Sign(priv, g); err == nil {
			t.Errorf("%s: Sign accepted an invalid grant", name)
		}
	}
}

func FuzzVerify(f *testing.F) {
	pub, priv := keys(f)
	good, err := Sign(priv, sample())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("pdg1.e30.AAAA")
	f.Add("pdg1..")
	f.Fuzz(func(t *testing.T, s string) {
		g, err := Verify(pub, s, t0)
		if err != nil {
			return
		}
		// Anything accepted must be a well-formed grant that re-signs to a
		// grant that verifies the same.
		s2, err := Sign(priv, g)
		if err != nil {
			t.Fatalf("accepted grant does not re-sign: %v", err)
		}
		g2, err := Verify(pub, s2, t0)
		if err != nil || !cmp.Equal(g, g2) {
			t.Fatalf("re-signed grant differs: %v", err)
		}
	})
}

// FuzzVerifyPayload fuzzes the JSON payload of a grant that carries a good
// signature, which FuzzVerify cannot forge: what the coordinator's key
// signed is decoded as strictly as what anyone else sent. Verify never
// panics; what it accepts at t0 is a well-formed grant valid at t0 (within
// the clock skew) for at most MaxLifetime, of known capabilities, for a
// node key, and it re-signs to a grant that verifies the same.
func FuzzVerifyPayload(f *testing.F) {
	pub, priv := keys(f)
	good, err := json.Marshal(sample())
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(good),
		`{"id":"g","tech":"t","node":"nodekey:1","dev":"d","caps":["sysinfo","screen","input"],"iat":1795262400,"exp":1795266000}`,
		`{"id":"g","tech":"t","node":"nodekey:1","dev":"d","caps":["sysinfo"],"iat":1795262400,"exp":1795266001}`,
		`{"id":"g","tech":"t","node":"nodekey:1","dev":"d","caps":["sysinfo"],"iat":0,"exp":9223372036854775807}`,
		`{"id":"g","tech":"t","node":"nodekey:1","dev":"d","caps":["sysinfo"],"iat":-9223372036854775808,"exp":1795266000}`,
		`{"id":"g","tech":"t","node":"nodekey:1","dev":"d","caps":["root"],"iat":1795262400,"exp":1795262460}`,
		`{"id":"g","tech":"t","node":"alice","dev":"d","caps":["sysinfo"],"iat":1795262400,"exp":1795262460}`,
		`{"id":"g","tech":"t","node":"nodekey:1","dev":"d","caps":["sysinfo"],"iat":1795262400,"exp":1795262460,"admin":true}`,
		`{"id":"g","tech":"t","node":"nodekey:1","dev":"d","caps":["sysinfo"],"iat":1795262400,"exp":1795262460} {}`,
		`{"ID":"g","TECH":"t","node":"nodekey:1","dev":"d","caps":["sysinfo"],"iat":1795262400.0,"exp":1795262460}`,
		`{}`, `null`, `[]`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		signed := prefix + base64.RawURLEncoding.EncodeToString(payload)
		s := signed + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(priv, []byte(signed)))
		g, err := Verify(pub, s, t0)
		if err != nil {
			if errors.Is(err, ErrSignature) {
				t.Fatalf("a good signature refused: %v", err)
			}
			return
		}
		skew := int64(ClockSkew / time.Second)
		switch {
		case g.ID == "" || g.Technician == "" || g.Device == "" || !strings.HasPrefix(g.NodeKey, "nodekey:"):
			t.Fatalf("accepted an incomplete grant %+v", g)
		case len(g.Capabilities) == 0 || slices.ContainsFunc(g.Capabilities, func(c wire.Capability) bool { return !c.Valid() }):
			t.Fatalf("accepted capabilities %q", g.Capabilities)
		case g.Expires <= g.IssuedAt || g.Expires-g.IssuedAt > int64(MaxLifetime/time.Second) || g.Expires-g.IssuedAt < 0:
			t.Fatalf("accepted a grant from %d to %d, longer than %v", g.IssuedAt, g.Expires, MaxLifetime)
		case t0.Unix() > g.Expires+skew || t0.Unix() < g.IssuedAt-skew:
			t.Fatalf("accepted at %d a grant from %d to %d", t0.Unix(), g.IssuedAt, g.Expires)
		}
		s2, err := Sign(priv, g)
		if err != nil {
			t.Fatalf("accepted grant does not re-sign: %v", err)
		}
		g2, err := Verify(pub, s2, t0)
		if err != nil || !cmp.Equal(g, g2) {
			t.Fatalf("re-signed grant differs: %+v, %v", g2, err)
		}
	})
}
