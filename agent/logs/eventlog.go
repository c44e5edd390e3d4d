package logs

import (
	"encoding/xml"
	"fmt"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/wire"
)

// EventChannels are the Windows Event Log channels read when a query names
// none.
var EventChannels = []string{"Application", "System"}

// winLevels are the Windows event levels at or above each syslog
// priority: critical (1) is 2, error (2) is 3, warning (3) is 4,
// information (4, and 0, "log always") is 6, verbose (5) is 7.
func winLevels(priority int) []int {
	var out []int
	for _, l := range []struct{ level, pri int }{{1, wire.PriCritical}, {2, wire.PriError}, {3, wire.PriWarning}, {4, wire.PriInfo}, {0, wire.PriInfo}, {5, wire.PriDebug}} {
		if l.pri <= priority {
			out = append(out, l.level)
		}
	}
	return out
}

// winPriority maps a Windows event level to a syslog priority.
func winPriority(level int) int {
	switch level {
	case 1:
		return wire.PriCritical
	case 2:
		return wire.PriError
	case 3:
		return wire.PriWarning
	case 5:
		return wire.PriDebug
	}
	return wire.PriInfo
}

// XPathQuery is the Event Log XPath filter for q's levels and time range.
// Priorities 0 and 1 (emergency, alert) have no Windows level and match
// nothing but critical.
func XPathQuery(q wire.LogQuery) string {
	var conds []string
	levels := winLevels(q.Priority)
	if len(levels) == 0 {
		levels = []int{1}
	}
	if len(levels) < 6 {
		var ls []string
		for _, l := range levels {
			ls = append(ls, fmt.Sprintf("Level=%d", l))
		}
		conds = append(conds, "("+strings.Join(ls, " or ")+")")
	}
	const layout = "2006-01-02T15:04:05.000Z"
	var tc []string
	if !q.Since.IsZero() {
		tc = append(tc, "@SystemTime&gt;='"+q.Since.UTC().Format(layout)+"'")
	}
	if !q.Until.IsZero() {
		tc = append(tc, "@SystemTime&lt;='"+q.Until.UTC().Format(layout)+"'")
	}
	if len(tc) > 0 {
		conds = append(conds, "TimeCreated["+strings.Join(tc, " and ")+"]")
	}
	if len(conds) == 0 {
		return "*"
	}
	return "*[System[" + strings.Join(conds, " and ") + "]]"
}

// StructuredQuery is the Event Log structured XML query over channels
// (EventChannels when unit is empty) with XPathQuery's filter.
func StructuredQuery(q wire.LogQuery) string {
	channels := EventChannels
	if q.Unit != "" {
		channels = []string{q.Unit}
	}
	var b strings.Builder
	b.WriteString(`<QueryList><Query Id="0">`)
	x := XPathQuery(q)
	for _, c := range channels {
		var esc strings.Builder
		xml.EscapeText(&esc, []byte(c)) //nolint:errcheck // a builder
		fmt.Fprintf(&b, `<Select Path="%s">%s</Select>`, esc.String(), x)
	}
	b.WriteString(`</Query></QueryList>`)
	return b.String()
}

// eventXML is the part of an event's XML (EvtRenderEventXml) the list uses.
type eventXML struct {
	System struct {
		Provider struct {
			Name string `xml:"Name,attr"`
		} `xml:"Provider"`
		Level       int `xml:"Level"`
		TimeCreated struct {
			SystemTime string `xml:"SystemTime,attr"`
		} `xml:"TimeCreated"`
		Execution struct {
			ProcessID int32 `xml:"ProcessID,attr"`
		} `xml:"Execution"`
		Channel string `xml:"Channel"`
		EventID int    `xml:"EventID"`
	} `xml:"System"`
	Data []string `xml:"EventData>Data"`
	// RenderingInfo is present when the event was rendered with its
	// provider's messages.
	Message string `xml:"RenderingInfo>Message"`
}

// maxEventXML bounds one event's XML.
const maxEventXML = 256 << 10

// ParseEventXML decodes one event's XML. message, if not empty, is the
// provider's formatted message (EvtFormatMessage); otherwise the event's
// data values stand in for it.
func ParseEventXML(b []byte, message string) (wire.LogEntry, bool) {
	if len(b) > maxEventXML {
		return wire.LogEntry{}, false
	}
	var ev eventXML
	if err := xml.Unmarshal(b, &ev); err != nil {
		return wire.LogEntry{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, ev.System.TimeCreated.SystemTime)
	if err != nil {
		return wire.LogEntry{}, false
	}
	msg := strings.TrimSpace(message)
	if msg == "" {
		msg = strings.TrimSpace(ev.Message)
	}
	if msg == "" {
		msg = strings.Join(ev.Data, "; ")
	}
	if msg == "" {
		msg = fmt.Sprintf("event %d", ev.System.EventID)
	}
	src := ev.System.Provider.Name
	if len(src) > 256 {
		src = src[:256]
	}
	ch := ev.System.Channel
	if len(ch) > 256 {
		ch = ""
	}
	e := wire.LogEntry{Time: t.UTC(), Priority: winPriority(ev.System.Level), Source: strings.ToValidUTF8(src, ""), Unit: strings.ToValidUTF8(ch, ""),
		Message: bound(strings.ToValidUTF8(msg, "\uFFFD"))}
	if ev.System.Execution.ProcessID > 0 {
		e.PID = ev.System.Execution.ProcessID
	}
	return e, true
}
