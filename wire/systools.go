package wire

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// System tools (protocol 2, issue 13 item 4): processes, services,
// installed applications and event logs, each its own capability and
// grant scope. Lists are GET; actions and the log query are POST with a
// JSON body (MaxRequestBody, strictly decoded and then checked with the
// message's Check).
const (
	PeerPathProcesses    = "/v1/processes"       // GET → ProcessList; needs CapProcesses
	PeerPathProcessKill  = "/v1/processes/kill"  // POST ProcessKill → ProcessKilled; needs CapProcesses
	PeerPathServices     = "/v1/services"        // GET → ServiceList; needs CapServices
	PeerPathServiceDo    = "/v1/services/action" // POST ServiceAction → ServiceResult; needs CapServices
	PeerPathApps         = "/v1/apps"            // GET → AppList; needs CapApps
	PeerPathLogs         = "/v1/logs"            // POST LogQuery → newline-delimited LogLine; needs CapLogs
	MaxProcesses         = 20000                 // processes in one list
	MaxCommandLine       = 1024                  // bytes of a process's command line shown
	MaxServices          = 10000                 // services in one list
	MaxApps              = 20000                 // applications in one list
	MaxLogEntries        = 5000                  // entries in one log answer
	DefaultLogEntries    = 500                   // entries when a query names no limit
	MaxLogMessage        = 4096                  // bytes of one log message
	MaxLogLine           = MaxLogMessage + 8<<10 // bytes of one encoded LogLine
	maxServiceNameLength = 256
)

// Process is one running process.
type Process struct {
	PID     int32   `json:"pid"`
	PPID    int32   `json:"ppid"`
	Name    string  `json:"name"`
	User    string  `json:"user,omitempty"`
	CPU     float64 `json:"cpu"`               // percent of one CPU since the previous list (the process's lifetime average in the first)
	RSS     uint64  `json:"rss"`               // bytes
	Started int64   `json:"started"`           // start time, milliseconds since the Unix epoch: with PID, the process's identity
	Command string  `json:"command,omitempty"` // command line, at most MaxCommandLine bytes
}

// ProcessList answers PeerPathProcesses.
type ProcessList struct {
	Processes []Process `json:"processes"`
	Truncated bool      `json:"truncated,omitempty"` // more than MaxProcesses
}

// Signals a ProcessKill may ask for.
const (
	SignalTerm = "term" // ask it to end (SIGTERM; TerminateProcess on Windows)
	SignalKill = "kill" // end it now (SIGKILL; TerminateProcess on Windows)
)

// ProcessKill ends one process. Started must be the start time the list
// showed: a PID reused by another process since is never signalled.
type ProcessKill struct {
	PID     int32  `json:"pid"`
	Started int64  `json:"started"`
	Signal  string `json:"signal,omitempty"` // SignalTerm if empty
}

// Check validates a kill request.
func (k ProcessKill) Check() error {
	if k.PID <= 0 {
		return errors.New("a process id is required")
	}
	if k.Started <= 0 {
		return errors.New("the process's start time is required")
	}
	switch k.Signal {
	case "", SignalTerm, SignalKill:
	default:
		return fmt.Errorf("unknown signal %q", k.Signal)
	}
	return nil
}

// ProcessKilled answers a kill.
type ProcessKilled struct {
	PID    int32  `json:"pid"`
	Name   string `json:"name"`
	Signal string `json:"signal"`
}

// Service is one system service (a systemd unit of type service, or a
// Windows service).
type Service struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	State       string `json:"state"`               // active, inactive, failed…; running, stopped… on Windows
	SubState    string `json:"sub_state,omitempty"` // systemd's sub-state (running, dead, exited…)
	Enabled     string `json:"enabled,omitempty"`   // enabled, disabled, static…; auto, manual, disabled on Windows
}

// ServiceList answers PeerPathServices.
type ServiceList struct {
	Services  []Service `json:"services"`
	Truncated bool      `json:"truncated,omitempty"`
}

// Service actions.
const (
	ServiceStart   = "start"
	ServiceStop    = "stop"
	ServiceRestart = "restart"
)

// ServiceActions lists the actions in the order a page offers them.
var ServiceActions = []string{ServiceStart, ServiceStop, ServiceRestart}

// ServiceAction starts, stops or restarts one service.
type ServiceAction struct {
	Name   string `json:"name"`
	Action string `json:"action"`
}

// Check validates a service action: a known action and a plain service
// name (no path, no control characters, no unit type other than .service).
func (a ServiceAction) Check() error {
	switch a.Action {
	case ServiceStart, ServiceStop, ServiceRestart:
	default:
		return fmt.Errorf("unknown service action %q", a.Action)
	}
	return CheckServiceName(a.Name)
}

// CheckServiceName accepts the names systemd and the Windows service
// manager give services: printable, no slash or backslash, at most 256
// bytes, and if it has a unit suffix, ".service".
func CheckServiceName(name string) error {
	if name == "" || len(name) > maxServiceNameLength {
		return errors.New("a service name of 1 to 256 bytes is required")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' || r == '\uFFFD' {
			return errors.New("the service name has a character no service name has")
		}
	}
	if strings.HasPrefix(name, "-") || strings.HasPrefix(name, ".") {
		return errors.New("the service name may not begin with - or .")
	}
	return nil
}

// ServiceResult answers a service action with the service as it is after.
type ServiceResult struct {
	Service Service `json:"service"`
	Job     string  `json:"job,omitempty"` // the systemd job it ran as
}

// App is one installed application.
type App struct {
	Name         string `json:"name"`
	Version      string `json:"version,omitempty"`
	Architecture string `json:"architecture,omitempty"`
	Publisher    string `json:"publisher,omitempty"`
	Installed    string `json:"installed,omitempty"` // install date as the package database has it
	Size         uint64 `json:"size,omitempty"`      // bytes
	Description  string `json:"description,omitempty"`
	Source       string `json:"source"` // dpkg, rpm, registry
}

// AppList answers PeerPathApps. Notes say which databases were not read
// and why (no rpm binary, say), in words.
type AppList struct {
	Apps      []App    `json:"apps"`
	Notes     []string `json:"notes,omitempty"`
	Truncated bool     `json:"truncated,omitempty"`
}

// Log priorities, syslog's (journald's PRIORITY; Windows levels map onto
// them: critical 2, error 3, warning 4, information 6, verbose 7).
const (
	PriEmergency = 0
	PriAlert     = 1
	PriCritical  = 2
	PriError     = 3
	PriWarning   = 4
	PriNotice    = 5
	PriInfo      = 6
	PriDebug     = 7
)

// LogQuery asks for event log entries: at most Limit entries (newest
// last) of priority Priority or more severe, between Since and Until
// (zero: unbounded).
type LogQuery struct {
	Priority int       `json:"priority"` // 0…7; entries at this level or more severe
	Since    time.Time `json:"since,omitzero"`
	Until    time.Time `json:"until,omitzero"`
	Limit    int       `json:"limit,omitempty"` // DefaultLogEntries if 0, at most MaxLogEntries
	Unit     string    `json:"unit,omitempty"`  // one systemd unit or Windows log channel; "" all
}

// Check validates a log query.
func (q LogQuery) Check() error {
	if q.Priority < PriEmergency || q.Priority > PriDebug {
		return errors.New("the priority must be 0 (emergency) to 7 (debug)")
	}
	if q.Limit < 0 || q.Limit > MaxLogEntries {
		return fmt.Errorf("the limit must be 0 to %d", MaxLogEntries)
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		return errors.New("the time range ends before it begins")
	}
	for _, t := range []time.Time{q.Since, q.Until} {
		if !t.IsZero() && (t.Year() < 1970 || t.Year() > 9999) {
			return errors.New("a time of the range is out of bounds")
		}
	}
	if q.Unit != "" {
		if err := CheckServiceName(q.Unit); err != nil {
			return fmt.Errorf("unit: %w", err)
		}
	}
	return nil
}

// Entries is the number of entries the query asks for.
func (q LogQuery) Entries() int {
	if q.Limit == 0 {
		return DefaultLogEntries
	}
	return q.Limit
}

// LogEntry is one event log entry.
type LogEntry struct {
	Time     time.Time `json:"time"`
	Priority int       `json:"priority"`
	Source   string    `json:"source,omitempty"` // syslog identifier or unit; Windows provider
	Unit     string    `json:"unit,omitempty"`
	PID      int32     `json:"pid,omitempty"`
	Message  string    `json:"message"` // at most MaxLogMessage bytes
}

// LogEnd closes a log answer: how many entries were sent, whether the
// limit cut it, and the error that ended it early, if any.
type LogEnd struct {
	Count     int    `json:"count"`
	Truncated bool   `json:"truncated,omitempty"`
	Error     string `json:"error,omitempty"`
}

// LogLine is one line of a log answer: an entry, or the end.
type LogLine struct {
	Entry *LogEntry `json:"entry,omitempty"`
	End   *LogEnd   `json:"end,omitempty"`
}

// ErrLogStream is wrapped by ReadLogStream's errors about the stream
// itself (a line too long, not JSON, no end).
var ErrLogStream = errors.New("wire: bad log stream")

// ReadLogStream reads a log answer from r, calling fn for each entry, at
// most MaxLogEntries of them, each line at most MaxLogLine bytes. It
// returns the end line; a stream that stops before its end is an error.
func ReadLogStream(r io.Reader, fn func(LogEntry) error) (LogEnd, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	n := 0
	for {
		line, err := readLine(br, MaxLogLine)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return LogEnd{}, fmt.Errorf("%w: it ended before its end line", ErrLogStream)
			}
			return LogEnd{}, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var l LogLine
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return LogEnd{}, fmt.Errorf("%w: %v", ErrLogStream, err)
		}
		switch {
		case l.End != nil && l.Entry == nil:
			if l.End.Count != n {
				return *l.End, fmt.Errorf("%w: it counted %d entries and sent %d", ErrLogStream, l.End.Count, n)
			}
			return *l.End, nil
		case l.Entry != nil && l.End == nil:
			if n++; n > MaxLogEntries {
				return LogEnd{}, fmt.Errorf("%w: more than %d entries", ErrLogStream, MaxLogEntries)
			}
			if len(l.Entry.Message) > MaxLogMessage {
				return LogEnd{}, fmt.Errorf("%w: a message of %d bytes", ErrLogStream, len(l.Entry.Message))
			}
			if err := fn(*l.Entry); err != nil {
				return LogEnd{}, err
			}
		default:
			return LogEnd{}, fmt.Errorf("%w: a line that is neither an entry nor the end", ErrLogStream)
		}
	}
}

// readLine reads one '\n'-terminated line of at most max bytes.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > max {
			return nil, fmt.Errorf("%w: a line longer than %d bytes", ErrLogStream, max)
		}
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return nil, fmt.Errorf("%w: a line without its end", ErrLogStream)
		default:
			return nil, err
		}
	}
}
