package logs

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/peerdesk/peerdesk/agent/gate"
	"github.com/peerdesk/peerdesk/harness/leak"
	"github.com/peerdesk/peerdesk/wire"
)

// journalDir unpacks testdata/test.journal.gz (made by
// testdata/make-journal.sh) into a directory for journalctl --directory.
func journalDir(t *testing.T) string {
	t.Helper()
	f, err := os.Open("testdata/test.journal.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "test.journal"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, zr); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

type records struct {
	mu  sync.Mutex
	evs []wire.AuditEvent
}

func (r *records) Record(ev wire.AuditEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, ev)
	return nil
}

func query(t *testing.T, h *Handler, body string) (int, []string, wire.LogEnd) {
	t.Helper()
	rr := httptest.NewRecorder()
	h.ServePeer(rr, httptest.NewRequest("POST", wire.PeerPathLogs, strings.NewReader(body)), gate.Caller{Technician: "tina"})
	if rr.Code != 200 {
		return rr.Code, []string{rr.Body.String()}, wire.LogEnd{}
	}
	var got []string
	end, err := wire.ReadLogStream(rr.Body, func(e wire.LogEntry) error {
		got = append(got, e.Time.Format("01-02T15:04")+" "+string(rune('0'+e.Priority))+" "+e.Source+" "+e.Message)
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return rr.Code, got, end
}

func TestJournalFilters(t *testing.T) {
	leak.Check(t)
	rec := &records{}
	h := &Handler{JournalDir: journalDir(t), Audit: rec, Device: "dev1"}
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	js := func(q wire.LogQuery) string { b, _ := json.Marshal(q); return string(b) }
	for _, c := range []struct {
		name      string
		q         wire.LogQuery
		want      []string
		truncated bool
	}{
		{"errors and worse, newest first", wire.LogQuery{Priority: 3}, []string{
			"01-02T00:00 3 app later error", "01-01T00:01 3 disk read error on sda", "01-01T00:00 2 kernel disk on fire"}, false},
		{"errors on the first day", wire.LogQuery{Priority: 3, Since: day, Until: day.Add(12 * time.Hour)}, []string{
			"01-01T00:01 3 disk read error on sda", "01-01T00:00 2 kernel disk on fire"}, false},
		{"warnings after midnight and a minute", wire.LogQuery{Priority: 4, Since: day.Add(time.Minute)}, []string{
			"01-02T00:00 3 app later error", "01-01T00:02 4 cron job slow", "01-01T00:01 3 disk read error on sda"}, false},
		{"everything, two at most", wire.LogQuery{Priority: 7, Limit: 2}, []string{
			"01-02T00:01 5 app a notice", "01-02T00:00 3 app later error"}, true},
		{"one unit", wire.LogQuery{Priority: 7, Unit: "cron.service"}, []string{
			"01-01T00:03 6 cron job ran", "01-01T00:02 4 cron job slow"}, false},
		{"nothing in range", wire.LogQuery{Priority: 7, Since: day.AddDate(1, 0, 0)}, nil, false},
	} {
		code, got, end := query(t, h, js(c.q))
		if code != 200 {
			t.Fatalf("%s: %d %v", c.name, code, got)
		}
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, d)
		}
		if end.Truncated != c.truncated || end.Error != "" {
			t.Errorf("%s: end %+v", c.name, end)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.evs) != 6 || rec.evs[1].Action != "logs.query" || rec.evs[1].Fields["priority"] != "3" || rec.evs[1].Fields["until"] != "2026-01-01T12:00:00Z" {
		t.Errorf("audit %+v", rec.evs)
	}
}

func TestQueryRefusals(t *testing.T) {
	leak.Check(t)
	h := &Handler{JournalDir: t.TempDir()}
	for _, bad := range []string{`{"priority":9}`, `{"priority":3,"limit":100000}`, `{"priority":3,"unit":"--merge"}`,
		`{"priority":3,"since":"2026-01-02T00:00:00Z","until":"2026-01-01T00:00:00Z"}`, `{"priority":3,"x":1}`, `not json`} {
		if code, got, _ := query(t, h, bad); code != 400 {
			t.Errorf("%s: %d %v", bad, code, got)
		}
	}
	// An empty journal directory is an empty answer.
	if code, got, end := query(t, h, `{"priority":7}`); code != 200 || len(got) != 0 || end.Error != "" {
		t.Errorf("empty journal: %d %v %+v", code, got, end)
	}
}

func TestJournalArgs(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	got := JournalArgs(wire.LogQuery{Priority: 4, Since: day, Until: day.Add(time.Hour), Limit: 10, Unit: "cron.service"}, "/j")
	want := []string{"--output=json", "--output-fields=" + journalFields, "--no-pager", "--quiet", "--reverse", "--priority=0..4", "--lines=11",
		"--since=@1767225600", "--until=@1767229200", "--unit=cron.service", "--directory=/j"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestParseJournalLine(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want wire.LogEntry
		ok   bool
	}{
		{`{"__REALTIME_TIMESTAMP":"1767225600000000","PRIORITY":"3","MESSAGE":"x","SYSLOG_IDENTIFIER":"disk","_PID":"12","_SYSTEMD_UNIT":"d.service"}`,
			wire.LogEntry{Time: time.Unix(1767225600, 0).UTC(), Priority: 3, Message: "x", Source: "disk", PID: 12, Unit: "d.service"}, true},
		{`{"__REALTIME_TIMESTAMP":"1767225600000000","MESSAGE":[104,105,255],"_COMM":"sh"}`,
			wire.LogEntry{Time: time.Unix(1767225600, 0).UTC(), Priority: 6, Message: "hi\uFFFD", Source: "sh"}, true},
		{`{"__REALTIME_TIMESTAMP":"1767225600000000","MESSAGE":["first","second"],"PRIORITY":"99"}`,
			wire.LogEntry{Time: time.Unix(1767225600, 0).UTC(), Priority: 6, Message: "first"}, true},
		{`{"MESSAGE":"no time"}`, wire.LogEntry{}, false},
		{`{"__REALTIME_TIMESTAMP":"-5","MESSAGE":"x"}`, wire.LogEntry{}, false},
		{`[]`, wire.LogEntry{}, false},
	} {
		got, ok := ParseJournalLine([]byte(c.in))
		if ok != c.ok || (ok && !cmp.Equal(got, c.want)) {
			t.Errorf("%s: %+v %v, want %+v %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func FuzzParseJournalLine(f *testing.F) {
	f.Add([]byte(`{"__REALTIME_TIMESTAMP":"1767225600000000","PRIORITY":"3","MESSAGE":[104,105],"SYSLOG_IDENTIFIER":"disk","_PID":"12"}`))
	f.Add([]byte(`{"__REALTIME_TIMESTAMP":"1","MESSAGE":[["a"]]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, ok := ParseJournalLine(b)
		if !ok {
			return
		}
		if len(e.Message) > wire.MaxLogMessage || e.Priority < 0 || e.Priority > 7 || len(e.Source) > 256 || len(e.Unit) > 256 {
			t.Fatalf("%+v", e)
		}
		if _, err := json.Marshal(e); err != nil {
			t.Fatal(err)
		}
	})
}

func TestXPathQuery(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		q    wire.LogQuery
		want string
	}{
		{wire.LogQuery{Priority: 7}, "*"},
		{wire.LogQuery{Priority: 3}, "*[System[(Level=1 or Level=2)]]"},
		{wire.LogQuery{Priority: 0}, "*[System[(Level=1)]]"},
		{wire.LogQuery{Priority: 6}, "*[System[(Level=1 or Level=2 or Level=3 or Level=4 or Level=0)]]"},
		{wire.LogQuery{Priority: 4, Since: day, Until: day.Add(90 * time.Minute)},
			"*[System[(Level=1 or Level=2 or Level=3) and TimeCreated[@SystemTime&gt;='2026-01-01T00:00:00.000Z' and @SystemTime&lt;='2026-01-01T01:30:00.000Z']]]"},
		{wire.LogQuery{Priority: 7, Since: day}, "*[System[TimeCreated[@SystemTime&gt;='2026-01-01T00:00:00.000Z']]]"},
	} {
		if got := XPathQuery(c.q); got != c.want {
			t.Errorf("XPathQuery(%+v)\n got %s\nwant %s", c.q, got, c.want)
		}
	}
	got := StructuredQuery(wire.LogQuery{Priority: 3, Unit: `a"<b`})
	want := `<QueryList><Query Id="0"><Select Path="a&#34;&lt;b">*[System[(Level=1 or Level=2)]]</Select></Query></QueryList>`
	if got != want {
		t.Errorf("StructuredQuery\n got %s\nwant %s", got, want)
	}
	if got := StructuredQuery(wire.LogQuery{Priority: 7}); !strings.Contains(got, `<Select Path="Application">*</Select><Select Path="System">*</Select>`) {
		t.Errorf("StructuredQuery default channels: %s", got)
	}
}

const eventSample = `<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Service Control Manager' Guid='{555908d1-a6d7-4695-8e1e-26931d2012f4}'/><EventID Qualifiers='49152'>7000</EventID><Level>2</Level><TimeCreated SystemTime='2026-01-01T10:00:00.1234567Z'/><Execution ProcessID='640' ThreadID='700'/><Channel>System</Channel></System><EventData><Data Name='param1'>Demo</Data><Data Name='param2'>%%2</Data></EventData></Event>`

func TestParseEventXML(t *testing.T) {
	t.Parallel()
	got, ok := ParseEventXML([]byte(eventSample), "")
	want := wire.LogEntry{Time: time.Date(2026, 1, 1, 10, 0, 0, 123456700, time.UTC), Priority: 3, Source: "Service Control Manager",
		Unit: "System", PID: 640, Message: "Demo; %%2"}
	if !ok || !cmp.Equal(got, want) {
		t.Errorf("got %+v %v, want %+v", got, ok, want)
	}
	got, _ = ParseEventXML([]byte(eventSample), "The Demo service failed to start.")
	if got.Message != "The Demo service failed to start." {
		t.Errorf("formatted message: %q", got.Message)
	}
	if _, ok := ParseEventXML([]byte(`<Event><System><TimeCreated SystemTime='yesterday'/></System></Event>`), ""); ok {
		t.Error("a bad time was accepted")
	}
}

func FuzzParseEventXML(f *testing.F) {
	f.Add([]byte(eventSample))
	f.Add([]byte(`<Event><System><Level>9</Level><TimeCreated SystemTime='2026-01-01T00:00:00Z'/></System></Event>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, ok := ParseEventXML(b, "")
		if ok && (len(e.Message) > wire.MaxLogMessage || e.Priority < 0 || e.Priority > 7 || len(e.Source) > 256) {
			t.Fatalf("%+v", e)
		}
	})
}
