package wire

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The shell capability (CapShell, protocol 2): an interactive terminal or
// one command on the agent's machine, over a WebSocket on PeerPathShell.
//
// The call is GET PeerPathShell?<ShellRequest.Query()> with the grant
// header, upgraded to a WebSocket; a request the agent refuses (bad
// parameters, no grant, no consent) is answered before the upgrade with an
// Error body. After the upgrade every message is binary: one frame, a
// type byte and its payload (EncodeShellFrame, DecodeShellFrame).
//
//	technician → agent: ShellInput, ShellResize, ShellEOF
//	agent → technician: ShellOutput, ShellStderr, ShellExit (last)
const (
	// PeerPathShell is the shell's peer route: GET, upgraded to a WebSocket.
	PeerPathShell = "/v1/shell"
)

// Shell frame types (the first byte of every WebSocket message).
const (
	ShellInput  byte = 'i' // bytes typed or piped in
	ShellResize byte = 'r' // 4 bytes: columns, rows (big-endian uint16)
	ShellEOF    byte = 'e' // no payload: close the command's input
	ShellOutput byte = 'o' // bytes written by the terminal or stdout
	ShellStderr byte = 'E' // bytes written to stderr (a command without a terminal)
	ShellExit   byte = 'x' // a ShellExitStatus as JSON; the last frame
)

// Limits of the shell protocol.
const (
	MaxShellFrame   = 32 << 10 // payload bytes in one frame
	MaxShellArgs    = 64       // arguments of a one-command call
	MaxShellArgLen  = 4096     // bytes of one argument
	MaxShellCommand = 16 << 10 // bytes of all arguments together
	MaxShellCols    = 1000
	MaxShellRows    = 1000
)

// Shell names a technician may ask for; the agent offers those its system
// has (bash and sh on Linux; cmd and powershell on Windows). Empty: the
// agent's default.
var ShellNames = []string{"bash", "sh", "cmd", "powershell"}

// ShellRequest is what the technician asks for, in the call's query.
type ShellRequest struct {
	// Shell is one of ShellNames, or "" for the agent's default. Ignored
	// with Command.
	Shell string
	// Command, if set, is run instead of an interactive shell: argv, the
	// program first (looked up on the agent's PATH), not parsed by a shell.
	Command []string
	// TTY runs Command on a terminal (an interactive shell always has one).
	TTY bool
	// Cols, Rows: the terminal's first size (80×24 if zero).
	Cols, Rows int
	// Idle and Max shorten the agent's idle timeout and maximum duration
	// (zero: the agent's own; longer than the agent's: the agent's).
	Idle, Max time.Duration
}

// ErrShellRequest is wrapped by ParseShellRequest's and DecodeShellFrame's
// errors.
var ErrShellRequest = errors.New("wire: invalid shell request")

// Query encodes r for the call's URL.
func (r ShellRequest) Query() string {
	v := url.Values{}
	if r.Shell != "" {
		v.Set("shell", r.Shell)
	}
	for _, a := range r.Command {
		v.Add("arg", a)
	}
	if r.TTY {
		v.Set("tty", "1")
	}
	if r.Cols > 0 {
		v.Set("cols", strconv.Itoa(r.Cols))
	}
	if r.Rows > 0 {
		v.Set("rows", strconv.Itoa(r.Rows))
	}
	if r.Idle > 0 {
		v.Set("idle", strconv.FormatInt(int64(r.Idle/time.Second), 10))
	}
	if r.Max > 0 {
		v.Set("max", strconv.FormatInt(int64(r.Max/time.Second), 10))
	}
	return v.Encode()
}

// ParseShellRequest decodes and checks a call's query: known keys only,
// each once (arg repeated), a known shell name, arguments of bounded count
// and length in UTF-8 without NUL, sizes within 1…MaxShellCols/Rows,
// timeouts in whole seconds within a day.
func ParseShellRequest(rawQuery string) (ShellRequest, error) {
	var r ShellRequest
	if len(rawQuery) > 4*MaxShellCommand {
		return r, fmt.Errorf("%w: the query is too long", ErrShellRequest)
	}
	v, err := url.ParseQuery(rawQuery)
	if err != nil {
		return r, fmt.Errorf("%w: %v", ErrShellRequest, err)
	}
	one := func(k string) (string, bool, error) {
		vs, ok := v[k]
		if !ok {
			return "", false, nil
		}
		if len(vs) != 1 {
			return "", false, fmt.Errorf("%w: %s given %d times", ErrShellRequest, k, len(vs))
		}
		return vs[0], true, nil
	}
	num := func(k string, lo, hi int) (int, error) {
		s, ok, err := one(k)
		if err != nil || !ok {
			return 0, err
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("%w: %s must be a whole number from %d to %d", ErrShellRequest, k, lo, hi)
		}
		return n, nil
	}
	for k := range v {
		switch k {
		case "shell", "arg", "tty", "cols", "rows", "idle", "max":
		default:
			return r, fmt.Errorf("%w: unknown parameter %q", ErrShellRequest, k)
		}
	}
	s, ok, err := one("shell")
	if err != nil {
		return r, err
	}
	if ok {
		known := false
		for _, n := range ShellNames {
			known = known || n == s
		}
		if !known {
			return r, fmt.Errorf("%w: unknown shell %q (one of %s)", ErrShellRequest, s, strings.Join(ShellNames, ", "))
		}
		r.Shell = s
	}
	args := v["arg"]
	if len(args) > MaxShellArgs {
		return r, fmt.Errorf("%w: more than %d arguments", ErrShellRequest, MaxShellArgs)
	}
	total := 0
	for i, a := range args {
		total += len(a)
		switch {
		case len(a) > MaxShellArgLen:
			return r, fmt.Errorf("%w: argument %d is longer than %d bytes", ErrShellRequest, i, MaxShellArgLen)
		case !utf8.ValidString(a) || strings.ContainsRune(a, 0):
			return r, fmt.Errorf("%w: argument %d is not text", ErrShellRequest, i)
		case i == 0 && a == "":
			return r, fmt.Errorf("%w: the command is empty", ErrShellRequest)
		}
	}
	if total > MaxShellCommand {
		return r, fmt.Errorf("%w: the command is longer than %d bytes", ErrShellRequest, MaxShellCommand)
	}
	r.Command = args
	if t, ok, err := one("tty"); err != nil {
		return r, err
	} else if ok {
		if t != "1" && t != "0" {
			return r, fmt.Errorf("%w: tty must be 0 or 1", ErrShellRequest)
		}
		r.TTY = t == "1"
	}
	if r.Cols, err = num("cols", 1, MaxShellCols); err != nil {
		return r, err
	}
	if r.Rows, err = num("rows", 1, MaxShellRows); err != nil {
		return r, err
	}
	idle, err := num("idle", 1, 86400)
	if err != nil {
		return r, err
	}
	max, err := num("max", 1, 86400)
	if err != nil {
		return r, err
	}
	r.Idle, r.Max = time.Duration(idle)*time.Second, time.Duration(max)*time.Second
	return r, nil
}

// Why a shell ended (ShellExitStatus.Reason).
const (
	ShellExited       = "exited"       // the shell or command ended by itself
	ShellIdle         = "idle"         // nothing typed or written for the idle timeout
	ShellMaxDuration  = "max-duration" // the maximum duration was reached
	ShellEnded        = "ended"        // the end user ended it, access was revoked, or the agent stopped
	ShellDisconnected = "disconnected" // the technician's side went away
	ShellFailed       = "failed"       // the agent could not carry on (e.g. its audit trail)
)

// ShellExitStatus is the payload of the last frame.
type ShellExitStatus struct {
	// Code is the exit status; -1 when the process was ended by a signal.
	Code   int    `json:"code"`
	Signal string `json:"signal,omitempty"` // the signal that ended it, if one did
	Reason string `json:"reason"`           // one of the Shell… reasons above
	// Message says in words why the agent ended it, when it did.
	Message string `json:"message,omitempty"`
}

// ShellFrame is one decoded frame.
type ShellFrame struct {
	Type       byte
	Data       []byte // ShellInput, ShellOutput, ShellStderr; aliases the decoded message
	Cols, Rows int    // ShellResize
	Exit       ShellExitStatus
}

// EncodeShellFrame encodes f as one WebSocket message.
func EncodeShellFrame(f ShellFrame) []byte {
	switch f.Type {
	case ShellResize:
		b := []byte{ShellResize, 0, 0, 0, 0}
		binary.BigEndian.PutUint16(b[1:], uint16(f.Cols))
		binary.BigEndian.PutUint16(b[3:], uint16(f.Rows))
		return b
	case ShellExit:
		j, _ := json.Marshal(f.Exit) //nolint:errcheck // a struct of strings and an int cannot fail
		return append([]byte{ShellExit}, j...)
	}
	return append([]byte{f.Type}, f.Data...)
}

// DecodeShellFrame decodes one WebSocket message: a known type, a payload
// of at most MaxShellFrame bytes, sizes within bounds, an exit status that
// is JSON with a known reason.
func DecodeShellFrame(b []byte) (ShellFrame, error) {
	if len(b) == 0 {
		return ShellFrame{}, fmt.Errorf("%w: an empty frame", ErrShellRequest)
	}
	f := ShellFrame{Type: b[0]}
	p := b[1:]
	if len(p) > MaxShellFrame {
		return ShellFrame{}, fmt.Errorf("%w: a frame of %d bytes (at most %d)", ErrShellRequest, len(p), MaxShellFrame)
	}
	switch f.Type {
	case ShellInput, ShellOutput, ShellStderr:
		f.Data = p
	case ShellEOF:
		if len(p) != 0 {
			return ShellFrame{}, fmt.Errorf("%w: an end-of-input frame with a payload", ErrShellRequest)
		}
	case ShellResize:
		if len(p) != 4 {
			return ShellFrame{}, fmt.Errorf("%w: a resize frame of %d bytes", ErrShellRequest, len(p))
		}
		f.Cols, f.Rows = int(binary.BigEndian.Uint16(p)), int(binary.BigEndian.Uint16(p[2:]))
		if f.Cols < 1 || f.Cols > MaxShellCols || f.Rows < 1 || f.Rows > MaxShellRows {
			return ShellFrame{}, fmt.Errorf("%w: a size of %d×%d", ErrShellRequest, f.Cols, f.Rows)
		}
	case ShellExit:
		if len(p) > 4096 {
			return ShellFrame{}, fmt.Errorf("%w: an exit frame of %d bytes", ErrShellRequest, len(p))
		}
		if err := json.Unmarshal(p, &f.Exit); err != nil {
			return ShellFrame{}, fmt.Errorf("%w: exit status: %v", ErrShellRequest, err)
		}
		switch f.Exit.Reason {
		case ShellExited, ShellIdle, ShellMaxDuration, ShellEnded, ShellDisconnected, ShellFailed:
		default:
			return ShellFrame{}, fmt.Errorf("%w: unknown exit reason %q", ErrShellRequest, f.Exit.Reason)
		}
	default:
		return ShellFrame{}, fmt.Errorf("%w: unknown frame type %#x", ErrShellRequest, f.Type)
	}
	return f, nil
}
