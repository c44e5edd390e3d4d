package grant

import (
	"crypto/ed25519"
	"errors"
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
