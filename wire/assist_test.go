package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The assistant's answer stream as the agent reads it: known events in
// order, blank lines and later versions' types skipped, each bad line
// refused with the reason (and the decoder going on), a cut line and the
// end told apart.
func TestAssistDecoder(t *testing.T) {
	t.Parallel()
	in := strings.Join([]string{
		`{"type":"token","text":"Hel"}`,
		``,
		`{"type":"token","text":"lo"}`,
		`{"type":"later","x":[1]}`,
		`{"type":"diagnostic","call":"c1","tool":"disk","args":{"path":"/"}}`,
		`{"type":"proposal","tool":"clear_temp","reason":"the disk is full","args":{}}`,
		`{"type":"diagnostic","tool":"disk"}`,
		`{"type":"proposal"}`,
		`{"text":"no type"}`,
		`[1,2]`,
		`{"type":"token","args":5}`,
		`{"type":"token"} {"type":"token"}`,
		`{"type":"refused","tool":"` + strings.Repeat("x", MaxAssistTool+1) + `"}`,
		`{"type":"off","contacts":"` + strings.Repeat("x", MaxAssistContacts+1) + `"}`,
		`{"type":"token","text":"` + strings.Repeat("x", MaxAssistEvent) + `"}`,
		`{"type":"done"}`,
		`{"type":"tok`,
	}, "\n")
	d := NewAssistDecoder(strings.NewReader(in))
	var got []string
	for {
		ev, err := d.Next()
		if errors.Is(err, ErrBadAssistEvent) {
			why := strings.TrimPrefix(err.Error(), ErrBadAssistEvent.Error()+": ")
			got = append(got, "bad: "+why[:min(len(why), 16)])
			continue
		}
		if err != nil {
			got = append(got, "end: "+err.Error())
			break
		}
		b, _ := json.Marshal(ev)
		got = append(got, string(b))
	}
	want := []string{
		`{"type":"token","text":"Hel"}`,
		`{"type":"token","text":"lo"}`,
		`{"type":"diagnostic","call":"c1","tool":"disk","args":{"path":"/"}}`,
		`{"type":"proposal","tool":"clear_temp","reason":"the disk is full"}`,
		"bad: a diagnostic ste",
		"bad: a proposal witho",
		"bad: no type",
		"bad: json: cannot unm",
		"bad: json: cannot unm",
		"bad: invalid characte",
		"bad: a tool name of 1",
		"bad: contacts of 1025",
		"bad: a line longer th",
		`{"type":"done"}`,
		"end: unexpected EOF",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
	if _, err := NewAssistDecoder(strings.NewReader(`{"type":"done"}` + "\n")).Next(); err != nil {
		t.Fatal(err)
	}
	d = NewAssistDecoder(strings.NewReader(`{"type":"done"}` + "\n"))
	d.Next() //nolint:errcheck // read above
	if _, err := d.Next(); err != io.EOF {
		t.Errorf("after the last line: %v, want io.EOF", err)
	}
}

// FuzzAssistDecoder: whatever the coordinator (or anything in its place)
// sends, the decoder neither panics nor stalls, returns only known,
// checked events, and each of them survives encoding and decoding again
// unchanged. Seeds: the f.Add calls and testdata/fuzz/FuzzAssistDecoder
// (streams as the coordinator writes them).
func FuzzAssistDecoder(f *testing.F) {
	f.Add([]byte(`{"type":"token","text":"Hello"}` + "\n" + `{"type":"done"}` + "\n"))
	f.Add([]byte(`{"type":"diagnostic","call":"0123abcd","tool":"disk","args":{"path":"/","n":1.5e3,"deep":{"a":[true,null,"x"]}}}` + "\n"))
	f.Add([]byte(`{"type":"proposal","tool":"clear_temp","reason":"the disk is nearly full"}` + "\n" + `{"type":"done"}` + "\n"))
	f.Add([]byte(`{"type":"refused","tool":"run_shell","reason":"not whitelisted"}` + "\n\n\r\n" + `{"type":"later"}` + "\n"))
	f.Add([]byte(`{"type":"unavailable","text":"I can't reach the help desk","contacts":"call 555-0100"}` + "\n"))
	f.Add([]byte(`{"type":"off","text":"\u00e9\ud800","contacts":"x"}`))
	f.Add([]byte(`{"type":"token","text":"` + strings.Repeat("a", 5000) + `"}` + "\n" + `{"type":"token","args":{}}` + "\n"))
	f.Add([]byte("{\"type\":\"token\",\"text\":\"\xff\xfe\"}\n{\"TYPE\":\"done\"}\nnull\n[]\n\"x\"\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		d := NewAssistDecoder(bytes.NewReader(body))
		for i := 0; ; i++ {
			if i > len(body)+1 {
				t.Fatal("the decoder does not advance")
			}
			ev, err := d.Next()
			if errors.Is(err, ErrBadAssistEvent) {
				continue
			}
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF {
					t.Fatalf("the stream ended with %v", err)
				}
				return
			}
			if !knownAssistType(ev.Type) {
				t.Fatalf("an event of type %q was returned", ev.Type)
			}
			if err := ev.Check(); err != nil {
				t.Fatalf("a returned event fails Check: %v", err)
			}
			line, err := json.Marshal(ev)
			if err != nil {
				t.Fatalf("a returned event does not encode: %v", err)
			}
			if len(line) > MaxAssistEvent*7 { // \u escapes of what was replaced
				t.Fatalf("an event of %d bytes", len(line))
			}
			again, err := NewAssistDecoder(bytes.NewReader(append(line, '\n'))).Next()
			if err != nil && !errors.Is(err, ErrBadAssistEvent) {
				t.Fatalf("re-encoded event unreadable: %v", err)
			}
			if err == nil {
				if diff := cmp.Diff(ev, again); diff != "" {
					t.Fatalf("re-encoded event differs (-first +again):\n%s", diff)
				}
			}
		}
	})
}
