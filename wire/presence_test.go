package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	testKey  = "nodekey:" + strings.Repeat("ab", 32)
	testAt   = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	goodLine = `{"type":"revoke","technician":"bob","node_keys":["` + testKey + `"],"reason":"disabled","at":"2026-12-07T10:00:00Z"}`
)

// A presence stream's body: messages in order, blank lines and unknown
// types skipped, a bad line reported without ending the stream, the end
// of the stream reported as the reader's.
func TestPresenceDecoder(t *testing.T) {
	t.Parallel()
	long := `{"type":"revoke","technician":"bob","reason":"` + strings.Repeat("x", MaxPresenceMessage) + `"}`
	body := strings.Join([]string{
		goodLine,
		"",
		`{"type":"hello","anything":[1,2,3],"at":5}`, // a later version's type: ignored
		`  `,
		`not json`,
		long,
		`{"type":"revoke","technician":"alice","at":"2026-12-07T10:00:01Z","later_field":true}`, // a later field: ignored
		`{"type":"revoke","at":"2026-12-07T10:00:01Z"}`,                                         // names nobody
		`{"reason":"no type"}`,
		`{"type":"revoke","technician":"bob","at":"2026-12-07T10:00:02Z"} {"x":1}`,
	}, "\n") + "\n"
	d := NewPresenceDecoder(strings.NewReader(body))
	type result struct {
		msg PresenceMessage
		bad bool
	}
	var got []result
	for {
		m, err := d.Next()
		if err != nil && !errors.Is(err, ErrBadPresenceMessage) {
			if err != io.EOF {
				t.Fatalf("end of stream: %v, want io.EOF", err)
			}
			break
		}
		got = append(got, result{m, err != nil})
	}
	want := []result{
		{msg: PresenceMessage{Type: PresenceRevoke, Technician: "bob", NodeKeys: []string{testKey}, Reason: "disabled", At: testAt}},
		{bad: true}, // not json
		{bad: true}, // too long
		{msg: PresenceMessage{Type: PresenceRevoke, Technician: "alice", At: testAt.Add(time.Second)}},
		{bad: true}, // names nobody
		{bad: true}, // no type
		{bad: true}, // data after the object
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(result{})); diff != "" {
		t.Fatalf("messages (-want +got):\n%s", diff)
	}
}

// A stream cut in the middle of a line yields no message from the part.
func TestPresenceDecoderCutLine(t *testing.T) {
	t.Parallel()
	d := NewPresenceDecoder(strings.NewReader(goodLine))
	if m, err := d.Next(); err != io.ErrUnexpectedEOF {
		t.Fatalf("a cut line gave %+v, %v; want io.ErrUnexpectedEOF", m, err)
	}
}

func TestPresenceMessageCheck(t *testing.T) {
	t.Parallel()
	ok := PresenceMessage{Type: PresenceRevoke, Technician: "bob", At: testAt}
	many := make([]string, MaxPresenceNodeKeys+1)
	for i := range many {
		many[i] = testKey
	}
	for _, tc := range []struct {
		name string
		edit func(*PresenceMessage)
		bad  bool
	}{
		{"technician", func(*PresenceMessage) {}, false},
		{"node keys only", func(m *PresenceMessage) { m.Technician, m.NodeKeys = "", []string{testKey} }, false},
		{"unknown type passes", func(m *PresenceMessage) { *m = PresenceMessage{Type: "later"} }, false},
		{"nobody", func(m *PresenceMessage) { m.Technician = "" }, true},
		{"bad name", func(m *PresenceMessage) { m.Technician = "bob smith" }, true},
		{"upper-case key", func(m *PresenceMessage) { m.NodeKeys = []string{strings.ToUpper(testKey)} }, true},
		{"short key", func(m *PresenceMessage) { m.NodeKeys = []string{"nodekey:abcd"} }, true},
		{"too many keys", func(m *PresenceMessage) { m.NodeKeys = many }, true},
		{"control in reason", func(m *PresenceMessage) { m.Reason = "a\nb" }, true},
		{"long reason", func(m *PresenceMessage) { m.Reason = strings.Repeat("x", MaxPresenceReason+1) }, true},
		{"no time", func(m *PresenceMessage) { m.At = time.Time{} }, true},
	} {
		m := ok
		tc.edit(&m)
		err := m.Check()
		if (err != nil) != tc.bad || err != nil && !errors.Is(err, ErrBadPresenceMessage) {
			t.Errorf("%s: Check = %v, want bad %v", tc.name, err, tc.bad)
		}
	}
}

// What EncodePresenceMessage writes, the decoder reads back the same.
func TestPresenceMessageRoundTrip(t *testing.T) {
	t.Parallel()
	in := PresenceMessage{Type: PresenceRevoke, Technician: "bob", NodeKeys: []string{testKey}, Reason: "disabled", At: testAt}
	b, err := EncodePresenceMessage(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := NewPresenceDecoder(bytes.NewReader(b)).Next()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Fatalf("round trip (-in +out):\n%s", diff)
	}
	if _, err := EncodePresenceMessage(PresenceMessage{Type: PresenceRevoke}); !errors.Is(err, ErrBadPresenceMessage) {
		t.Fatalf("an invalid message was encoded: %v", err)
	}
}

// FuzzPresenceDecoder reads arbitrary bytes as a presence stream's body:
// it never panics, ends with the reader's error, returns only messages of
// a known type that pass Check and re-encode to lines it reads back the
// same, and never holds more than a line's limit of bytes in a message.
func FuzzPresenceDecoder(f *testing.F) {
	f.Add([]byte(goodLine + "\n"))
	f.Add([]byte(goodLine + "\n\n" + `{"type":"later"}` + "\n" + goodLine))
	f.Add([]byte(`{"type":"revoke","node_keys":["` + testKey + `"],"at":"2026-12-07T10:00:00Z"}` + "\n"))
	f.Add([]byte("\n\n\r\n"))
	f.Add([]byte(`{"type":"revoke"` + strings.Repeat(" ", 5000) + "}\n"))
	f.Add([]byte(`{"type":"consent-rules","ask":["screen","input"]}` + "\n" + `{"type":"consent-rules","ask":[]}` + "\n"))
	f.Add([]byte(`{"type":"consent-rules","no_rules":true,"at":"2026-12-07T10:00:00Z"}` + "\n" + `{"type":"consent-rules","ask":["x","x"]}` + "\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		d := NewPresenceDecoder(bytes.NewReader(body))
		for i := 0; ; i++ {
			if i > len(body)+1 {
				t.Fatal("the decoder does not advance")
			}
			m, err := d.Next()
			if errors.Is(err, ErrBadPresenceMessage) {
				continue
			}
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF {
					t.Fatalf("the stream ended with %v", err)
				}
				return
			}
			if !knownPresenceType(m.Type) {
				t.Fatalf("a message of type %q was returned", m.Type)
			}
			if err := m.Check(); err != nil {
				t.Fatalf("a returned message fails Check: %v", err)
			}
			line, err := EncodePresenceMessage(m)
			if err != nil {
				t.Fatalf("a returned message does not encode: %v", err)
			}
			again, err := NewPresenceDecoder(bytes.NewReader(line)).Next()
			if err != nil {
				t.Fatalf("re-encoded message unreadable: %v", err)
			}
			if diff := cmp.Diff(m, again); diff != "" {
				t.Fatalf("re-encoded message differs (-first +again):\n%s", diff)
			}
		}
	})
}

// A consent-rules message: what it may carry, and how the decoder reads it.
func TestPresenceConsentRules(t *testing.T) {
	t.Parallel()
	ok := PresenceMessage{Type: PresenceConsentRules, Ask: []Capability{CapScreen, CapInput}}
	for _, tc := range []struct {
		name string
		edit func(*PresenceMessage)
		bad  bool
	}{
		{"ask", func(*PresenceMessage) {}, false},
		{"ask nothing", func(m *PresenceMessage) { m.Ask = nil }, false},
		{"no rules", func(m *PresenceMessage) { m.Ask, m.NoRules = nil, true }, false},
		{"a later capability", func(m *PresenceMessage) { m.Ask = []Capability{"files-2"} }, false},
		{"no time needed", func(m *PresenceMessage) { m.At = time.Time{} }, false},
		{"no rules but asks", func(m *PresenceMessage) { m.NoRules = true }, true},
		{"repeated", func(m *PresenceMessage) { m.Ask = []Capability{CapScreen, CapScreen} }, true},
		{"malformed capability", func(m *PresenceMessage) { m.Ask = []Capability{"Screen!"} }, true},
		{"empty capability", func(m *PresenceMessage) { m.Ask = []Capability{""} }, true},
		{"long capability", func(m *PresenceMessage) { m.Ask = []Capability{Capability(strings.Repeat("a", 33))} }, true},
		{"too many", func(m *PresenceMessage) {
			m.Ask = nil
			for i := range MaxPresenceAsk + 1 {
				m.Ask = append(m.Ask, Capability(fmt.Sprint("c", i)))
			}
		}, true},
		{"a revoke's fields", func(m *PresenceMessage) { m.Technician = "bob" }, true},
	} {
		m := ok
		tc.edit(&m)
		err := m.Check()
		if (err != nil) != tc.bad || err != nil && !errors.Is(err, ErrBadPresenceMessage) {
			t.Errorf("%s: Check = %v, want bad %v", tc.name, err, tc.bad)
		}
	}
	body := `{"type":"consent-rules","ask":["screen"],"at":"2026-12-07T10:00:00Z"}` + "\n" +
		`{"type":"consent-rules","ask":[]}` + "\n" +
		`{"type":"consent-rules","no_rules":true}` + "\n" +
		`{"type":"consent-rules","ask":["screen","screen"]}` + "\n"
	d := NewPresenceDecoder(strings.NewReader(body))
	for i, want := range []PresenceMessage{
		{Type: PresenceConsentRules, Ask: []Capability{CapScreen}, At: testAt},
		{Type: PresenceConsentRules},
		{Type: PresenceConsentRules, NoRules: true},
	} {
		got, err := d.Next()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("message %d (-want +got):\n%s", i, diff)
		}
	}
	if _, err := d.Next(); !errors.Is(err, ErrBadPresenceMessage) {
		t.Errorf("a repeated capability: %v, want ErrBadPresenceMessage", err)
	}
	line, err := EncodePresenceMessage(ok)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := NewPresenceDecoder(bytes.NewReader(line)).Next(); err != nil || !cmp.Equal(ok, got) {
		t.Errorf("round trip: %+v, %v", got, err)
	}
}
