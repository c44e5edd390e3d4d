package audit

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/wire"
)

// ErrFormat refuses an export format other than csv or json.
var ErrFormat = errors.New("audit: the export format must be csv or json")

// CSVHeader is the first line of a csv export.
var CSVHeader = []string{"seq", "time", "source", "actor", "action", "target", "outcome", "reason", "fields", "prev", "hash"}

// Export writes every record whose time is not before since (zero: all)
// to w, in order, as csv (CSVHeader, then one row per record; fields as a
// JSON object) or json (one array of Records). It streams: memory does not
// grow with the trail. A csv cell that a spreadsheet would take for a
// formula (starting with = + - @, tab or carriage return) is prefixed with
// a single quote: agents choose some of these strings.
func (l *Log) Export(w io.Writer, format string, since time.Time) error {
	bw := bufio.NewWriter(w)
	var err error
	switch format {
	case wire.AuditFormatCSV:
		err = l.exportCSV(bw, since)
	case wire.AuditFormatJSON:
		err = l.exportJSON(bw, since)
	default:
		return ErrFormat
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("audit.Export: %w", err)
	}
	return nil
}

func (l *Log) exportCSV(w io.Writer, since time.Time) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	err := l.scan(Query{Since: since}, func(r Record) error {
		fields := ""
		if len(r.Fields) > 0 {
			b, err := json.Marshal(r.Fields)
			if err != nil {
				return err
			}
			fields = string(b)
		}
		row := []string{strconv.FormatUint(r.Seq, 10), r.Time.UTC().Format(time.RFC3339Nano), r.Source,
			r.Actor, r.Action, r.Target, r.Outcome, r.Reason, fields, r.Prev, r.Hash}
		for i, c := range row {
			row[i] = cell(c)
		}
		return cw.Write(row)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (l *Log) exportJSON(w io.Writer, since time.Time) error {
	if _, err := io.WriteString(w, "["); err != nil {
		return err
	}
	n := 0
	err := l.scan(Query{Since: since}, func(r Record) error {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		sep := ",\n"
		if n == 0 {
			sep = "\n"
		}
		n++
		if _, err := io.WriteString(w, sep); err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, "\n]\n")
	return err
}
