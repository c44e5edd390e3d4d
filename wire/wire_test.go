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

// FuzzDuration reads arbitrary text as a Duration, as a JSON request's ttl
// would be: it never panics, accepts exactly what time.ParseDuration does,
// and what it accepts encodes to text (and to JSON) it reads back the same.
func FuzzDuration(f *testing.F) {
	for _, seed := range []string{"90m", "1h30m", "-1h", "0", "0s", "1.5h", ".5s", "1e3s", "2562047h47m16.854775807s",
		"2562047h47m16.854775808s", "9223372036854775807ns", "-9223372036854775808ns", "1µs", "1us", "", "soon", "1d", "+5s"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var d Duration
		err := d.UnmarshalText([]byte(s))
		want, werr := time.ParseDuration(s)
		if (err == nil) != (werr == nil) || err == nil && time.Duration(d) != want {
			t.Fatalf("UnmarshalText(%q) = %v, %v; time.ParseDuration says %v, %v", s, time.Duration(d), err, want, werr)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "wire: duration: ") {
				t.Fatalf("error %q does not say what it was reading", err)
			}
			return
		}
		text, err := d.MarshalText()
		if err != nil {
			t.Fatalf("MarshalText(%v): %v", time.Duration(d), err)
		}
		var again Duration
		if err := again.UnmarshalText(text); err != nil || again != d {
			t.Fatalf("%q encodes as %q, which reads back as %v, %v", s, text, time.Duration(again), err)
		}
		js, err := json.Marshal(TokenRequest{TTL: d})
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		var r TokenRequest
		if err := json.Unmarshal(js, &r); err != nil || r.TTL != d {
			t.Fatalf("%s reads back as %v, %v", js, time.Duration(r.TTL), err)
		}
	})
}
