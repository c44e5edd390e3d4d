package logs

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/wire"
)

// journalFields are the only fields journalctl is asked to print.
const journalFields = "MESSAGE,PRIORITY,SYSLOG_IDENTIFIER,_SYSTEMD_UNIT,_PID,_COMM"

// JournalArgs are journalctl's arguments for q (newest first, one more
// entry than asked so a cut list is known to be cut), reading dir's
// journal files if dir is set. Times are given as "@<unix seconds>".
func JournalArgs(q wire.LogQuery, dir string) []string {
	args := []string{"--output=json", "--output-fields=" + journalFields, "--no-pager", "--quiet", "--reverse",
		"--priority=0.." + strconv.Itoa(q.Priority), "--lines=" + strconv.Itoa(q.Entries()+1)}
	if !q.Since.IsZero() {
		args = append(args, "--since=@"+strconv.FormatInt(q.Since.Unix(), 10))
	}
	if !q.Until.IsZero() {
		args = append(args, "--until=@"+strconv.FormatInt(q.Until.Unix(), 10))
	}
	if q.Unit != "" {
		args = append(args, "--unit="+q.Unit)
	}
	if dir != "" {
		args = append(args, "--directory="+dir)
	}
	return args
}

// ParseJournalLine decodes one line of journalctl -o json. A field whose
// value is not valid text comes as an array of bytes; a field present
// several times comes as an array of values (the first is kept).
func ParseJournalLine(line []byte) (wire.LogEntry, bool) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil {
		return wire.LogEntry{}, false
	}
	us, err := strconv.ParseInt(field(raw["__REALTIME_TIMESTAMP"]), 10, 64)
	if err != nil || us < 0 || us > 253402300799999999 {
		return wire.LogEntry{}, false
	}
	e := wire.LogEntry{Time: time.UnixMicro(us).UTC(), Priority: wire.PriInfo, Message: bound(field(raw["MESSAGE"]))}
	if p, err := strconv.Atoi(field(raw["PRIORITY"])); err == nil && p >= 0 && p <= 7 {
		e.Priority = p
	}
	e.Source = bound(field(raw["SYSLOG_IDENTIFIER"]))
	if e.Source == "" {
		e.Source = bound(field(raw["_COMM"]))
	}
	if len(e.Source) > 256 {
		e.Source = e.Source[:256]
	}
	e.Unit = field(raw["_SYSTEMD_UNIT"])
	if len(e.Unit) > 256 {
		e.Unit = ""
	}
	if pid, err := strconv.ParseInt(field(raw["_PID"]), 10, 32); err == nil && pid > 0 {
		e.PID = int32(pid)
	}
	return e, true
}

// field reads a journal JSON value: a string, an array of bytes, or an
// array of such values.
func field(v json.RawMessage) string {
	if len(v) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	var b []byte
	var nums []int
	if json.Unmarshal(v, &nums) == nil {
		for _, n := range nums {
			if n < 0 || n > 255 {
				return ""
			}
			b = append(b, byte(n))
		}
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	var many []json.RawMessage
	if json.Unmarshal(v, &many) == nil && len(many) > 0 && len(many[0]) > 0 && many[0][0] != '[' {
		return field(many[0])
	}
	return ""
}
