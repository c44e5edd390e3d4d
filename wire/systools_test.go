package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSysToolsChecks(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		err  error
		ok   bool
	}{
		{"kill ok", ProcessKill{PID: 42, Started: 1}.Check(), true},
		{"kill with signal kill", ProcessKill{PID: 42, Started: 1, Signal: SignalKill}.Check(), true},
		{"kill without pid", ProcessKill{Started: 1}.Check(), false},
		{"kill of a negative pid (a process group)", ProcessKill{PID: -1, Started: 1}.Check(), false},
		{"kill without start time", ProcessKill{PID: 42}.Check(), false},
		{"kill with an unknown signal", ProcessKill{PID: 42, Started: 1, Signal: "hup"}.Check(), false},
		{"service restart", ServiceAction{Name: "cron.service", Action: ServiceRestart}.Check(), true},
		{"service with template", ServiceAction{Name: "getty@tty1.service", Action: ServiceStart}.Check(), true},
		{"service unknown action", ServiceAction{Name: "cron.service", Action: "mask"}.Check(), false},
		{"service path", ServiceAction{Name: "../../etc/passwd", Action: ServiceStop}.Check(), false},
		{"service backslash", ServiceAction{Name: `a\b`, Action: ServiceStop}.Check(), false},
		{"service option", ServiceAction{Name: "--all", Action: ServiceStop}.Check(), false},
		{"service control char", ServiceAction{Name: "a\nb", Action: ServiceStop}.Check(), false},
		{"service empty", ServiceAction{Action: ServiceStop}.Check(), false},
		{"service too long", ServiceAction{Name: strings.Repeat("a", 257), Action: ServiceStop}.Check(), false},
		{"logs default", LogQuery{}.Check(), true},
		{"logs range", LogQuery{Priority: 3, Since: day, Until: day.Add(time.Hour)}.Check(), true},
		{"logs reversed range", LogQuery{Since: day, Until: day.Add(-time.Hour)}.Check(), false},
		{"logs priority 8", LogQuery{Priority: 8}.Check(), false},
		{"logs priority -1", LogQuery{Priority: -1}.Check(), false},
		{"logs limit too high", LogQuery{Limit: MaxLogEntries + 1}.Check(), false},
		{"logs unit option", LogQuery{Unit: "-fall"}.Check(), false},
		{"logs year 1", LogQuery{Since: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)}.Check(), false},
	} {
		if (c.err == nil) != c.ok {
			t.Errorf("%s: %v, want ok=%v", c.name, c.err, c.ok)
		}
	}
}

func logStream(t testing.TB, entries int, end LogEnd) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for i := range entries {
		if err := enc.Encode(LogLine{Entry: &LogEntry{Time: time.Unix(int64(i), 0).UTC(), Priority: 3, Message: "m"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Encode(LogLine{End: &end}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestReadLogStream(t *testing.T) {
	t.Parallel()
	var got []LogEntry
	end, err := ReadLogStream(bytes.NewReader(logStream(t, 3, LogEnd{Count: 3, Truncated: true})), func(e LogEntry) error {
		got = append(got, e)
		return nil
	})
	if err != nil || len(got) != 3 || !end.Truncated || got[2].Time.Unix() != 2 {
		t.Fatalf("got %v %v %v", got, end, err)
	}
	bad := map[string][]byte{
		"no end":            logStream(t, 2, LogEnd{Count: 2})[:len(logStream(t, 2, LogEnd{Count: 2}))-len(`{"end":{"count":2}}`+"\n")],
		"wrong count":       logStream(t, 2, LogEnd{Count: 5}),
		"unknown field":     []byte(`{"entry":{"message":"x"},"x":1}` + "\n"),
		"both":              []byte(`{"entry":{"message":"x"},"end":{"count":1}}` + "\n"),
		"neither":           []byte(`{}` + "\n"),
		"long line":         []byte(`{"entry":{"message":"` + strings.Repeat("a", MaxLogLine) + `"}}` + "\n"),
		"long message":      []byte(`{"entry":{"message":"` + strings.Repeat("a", MaxLogMessage+1) + `"}}` + "\n"),
		"unterminated line": []byte(`{"end":{"count":0}}`),
		"too many":          logStream(t, MaxLogEntries+1, LogEnd{Count: MaxLogEntries + 1}),
	}
	for name, in := range bad {
		if _, err := ReadLogStream(bytes.NewReader(in), func(LogEntry) error { return nil }); !errors.Is(err, ErrLogStream) {
			t.Errorf("%s: %v, want ErrLogStream", name, err)
		}
	}
}

// FuzzReadLogStream: no input makes the reader panic, call back more
// than MaxLogEntries times, or hand over an oversized message.
func FuzzReadLogStream(f *testing.F) {
	f.Add(logStream(f, 2, LogEnd{Count: 2}))
	f.Add([]byte(`{"entry":{"time":"2026-01-01T00:00:00Z","priority":3,"message":"x"}}` + "\n" + `{"end":{"count":1,"error":"e"}}` + "\n"))
	f.Add([]byte("\n\n{}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		end, err := ReadLogStream(bytes.NewReader(b), func(e LogEntry) error {
			n++
			if len(e.Message) > MaxLogMessage {
				t.Fatalf("a message of %d bytes", len(e.Message))
			}
			return nil
		})
		if n > MaxLogEntries {
			t.Fatalf("%d entries", n)
		}
		if err == nil && end.Count != n {
			t.Fatalf("end counted %d, got %d", end.Count, n)
		}
	})
}

// FuzzSysToolsRequests: every request body a system tool decodes either
// fails its Check or is within bounds.
func FuzzSysToolsRequests(f *testing.F) {
	f.Add([]byte(`{"pid":42,"started":1700000000000,"signal":"term"}`))
	f.Add([]byte(`{"name":"cron.service","action":"restart"}`))
	f.Add([]byte(`{"priority":3,"since":"2026-01-01T00:00:00Z","limit":10,"unit":"cron.service"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var k ProcessKill
		if json.Unmarshal(b, &k) == nil && k.Check() == nil && (k.PID <= 0 || k.Started <= 0) {
			t.Fatalf("accepted %+v", k)
		}
		var a ServiceAction
		if json.Unmarshal(b, &a) == nil && a.Check() == nil {
			if a.Name == "" || len(a.Name) > 256 || strings.ContainsAny(a.Name, "/\\\x00\n") || strings.HasPrefix(a.Name, "-") {
				t.Fatalf("accepted %+v", a)
			}
		}
		var q LogQuery
		if json.Unmarshal(b, &q) == nil && q.Check() == nil {
			if n := q.Entries(); n < 1 || n > MaxLogEntries || q.Priority < 0 || q.Priority > 7 {
				t.Fatalf("accepted %+v", q)
			}
		}
	})
}
