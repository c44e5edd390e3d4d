package screen

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseMessage reads arbitrary bytes as a data-channel message from the
// technician's browser, on either channel: parsing never panics; what it
// accepts is at most maxMessage bytes and is exactly one of a control
// message of a known type (never from the pointer channel) or an input
// event of a known type (only moves from the pointer channel); what the
// pointer channel accepts the input channel accepts the same; and what it
// accepts re-encodes to a message it reads back the same.
func FuzzParseMessage(f *testing.F) {
	for _, seed := range []struct {
		msg     string
		pointer bool
	}{
		{`{"t":"move","x":10,"y":20}`, true},
		{`{"t":"move","x":-1,"y":9223372036854775807}`, false},
		{`{"t":"button","b":2,"d":true,"x":1,"y":1}`, false},
		{`{"t":"button","b":0}`, true},
		{`{"t":"wheel","dx":-3,"dy":21}`, false},
		{`{"t":"key","c":"KeyA","d":true}`, false},
		{`{"t":"key","c":"\u00e9\ud800<>&"}`, false},
		{`{"t":"monitor","monitor":1}`, false},
		{`{"t":"monitor","monitor":1}`, true},
		{`{"t":"cad"}`, false},
		{`{"t":"end","reason":"x"}`, false},
		{`{"t":"ended","reason":"x"}`, false},
		{`{"T":"MOVE"}`, true},
		{`{"t":"move","T":"key","c":"KeyA"}`, true},
		{`{"t":"move","x":"1"}`, true},
		{`{"t":"monitor","monitor":1.5}`, false},
		{`{"t":"move"} {}`, false},
		{`{"t":"key","c":"` + strings.Repeat("K", maxMessage) + `"}`, false},
		{`null`, false}, {`[]`, false}, {`"move"`, true}, {``, false},
	} {
		f.Add([]byte(seed.msg), seed.pointer)
	}
	f.Fuzz(func(t *testing.T, b []byte, pointer bool) {
		m, ok := parseMessage(b, pointer)
		if !ok {
			if m != (message{}) {
				t.Fatalf("refused %q with a message %+v", b, m)
			}
			return
		}
		if len(b) > maxMessage {
			t.Fatalf("accepted a message of %d bytes", len(b))
		}
		var v any
		switch {
		case m.control != nil && m.input == nil:
			if pointer {
				t.Fatalf("control message %+v from the pointer channel", *m.control)
			}
			if typ := m.control.Type; typ != "monitor" && typ != "cad" && typ != "end" {
				t.Fatalf("control message of type %q", typ)
			}
			v = m.control
		case m.input != nil && m.control == nil:
			switch m.input.Type {
			case "move":
			case "button", "wheel", "key":
				if pointer {
					t.Fatalf("%s event from the pointer channel", m.input.Type)
				}
			default:
				t.Fatalf("input event of type %q", m.input.Type)
			}
			v = m.input
		default:
			t.Fatalf("message %+v is not exactly one of a control message and an input event", m)
		}
		if pointer {
			again, ok := parseMessage(b, false)
			if !ok || !cmp.Equal(again, m, cmp.AllowUnexported(message{})) {
				t.Fatalf("the input channel reads %q as %+v, %v; the pointer channel as %+v", b, again, ok, m)
			}
		}
		re, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", v, err)
		}
		if len(re) > maxMessage {
			return // escaping can make a message that fitted too long
		}
		again, ok := parseMessage(re, pointer)
		if !ok || !cmp.Equal(again, m, cmp.AllowUnexported(message{})) {
			t.Fatalf("re-encoded %q reads as %+v, %v; want %+v", re, again, ok, m)
		}
	})
}
