package wire

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestEnrollTokenRoundTrip(t *testing.T) {
	tok := EnrollToken{ID: "0123abcd", Secret: strings.Repeat("ab", 20), Pin: strings.Repeat("0f", 32)}
	got, err := ParseEnrollToken(" " + tok.String() + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if got != tok {
		t.Fatalf("got %+v, want %+v", got, tok)
	}
}

func TestEnrollTokenRefusals(t *testing.T) {
	good := EnrollToken{ID: "0123abcd", Secret: strings.Repeat("ab", 20), Pin: strings.Repeat("0f", 32)}.String()
	for _, s := range []string{
		"", "pde1-", good[:len(good)-1], strings.ToUpper(good), "pde2" + good[4:],
		good + "-00", strings.Replace(good, "0123abcd", "0123abcg", 1),
	} {
		if _, err := ParseEnrollToken(s); !errors.Is(err, ErrBadToken) {
			t.Errorf("ParseEnrollToken(%q) = %v, want ErrBadToken", s, err)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"alice", "host-1.lan", "A_b"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a b", "../etc", strings.Repeat("x", MaxNameLen+1), "ünï"} {
		if err := CheckName(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("CheckName(%q) = %v, want ErrBadName", bad, err)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	var r TokenRequest
	if err := json.Unmarshal([]byte(`{"ttl":"90m"}`), &r); err != nil {
		t.Fatal(err)
	}
	if time.Duration(r.TTL) != 90*time.Minute {
		t.Fatalf("ttl = %v", time.Duration(r.TTL))
	}
	if err := json.Unmarshal([]byte(`{"ttl":"soon"}`), &r); err == nil {
		t.Fatal("accepted a bad duration")
	}
}

func TestCapabilities(t *testing.T) {
	if !CapSysInfo.Valid() || Capability("root").Valid() {
		t.Fatal("Capability.Valid is wrong")
	}
}

func FuzzParseEnrollToken(f *testing.F) {
	f.Add(EnrollToken{ID: "0123abcd", Secret: strings.Repeat("ab", 20), Pin: strings.Repeat("0f", 32)}.String())
	f.Add("pde1---")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseEnrollToken(s)
		if err != nil {
			return
		}
		again, err := ParseEnrollToken(tok.String())
		if err != nil || again != tok {
			t.Fatalf("accepted token does not round-trip: %v", err)
		}
	})
}
