package shell

import (
	"io"
	"unicode/utf16"
)

// process is a started shell or command. One implementation per operating
// system: a PTY (creack/pty) or pipes on Linux (proc_linux.go), a ConPTY or
// pipes on Windows (proc_windows.go); elsewhere starting one is
// errors.ErrUnsupported (proc_other.go).
type process interface {
	Pid() int
	// Output is the terminal's output, or the command's stdout; it ends
	// (io.EOF or an error) once nothing can write to it any more.
	Output() io.Reader
	// Stderr is the command's stderr; nil on a terminal.
	Stderr() io.Reader
	Input() io.Writer
	// CloseInput ends the input (a command reading stdin sees its end).
	CloseInput() error
	Resize(cols, rows int) error
	// Hidden reports whether what is typed now is hidden: the terminal
	// reads whole lines without echoing them, as a password prompt does
	// (ECHO off, ICANON on; a line editor such as readline or vi turns
	// both off and echoes itself). A hidden line is not recorded.
	Hidden() bool
	// Kill ends the process and everything it started: its process
	// group and session on Linux, its job object on Windows.
	Kill() error
	// Wait waits for the process to end: its exit code (-1 if a signal
	// ended it) and the signal.
	Wait() (code int, signal string, err error)
	// Close releases the terminal and pipes, after Wait; a blocked
	// Output read returns.
	Close() error
}

// spec is what to start.
type spec struct {
	prog       program
	tty        bool
	cols, rows int
	env        []string
	dir        string
}

// envBlock is env as a Windows environment block: UTF-16, each entry
// NUL-terminated, the block ending in an extra NUL. Entries containing a
// NUL are left out. Pure, so it is tested on Linux.
func envBlock(env []string) []uint16 {
	var b []uint16
	for _, e := range env {
		ok := true
		for _, r := range e {
			ok = ok && r != 0
		}
		if !ok {
			continue
		}
		b = append(b, utf16.Encode([]rune(e))...)
		b = append(b, 0)
	}
	if len(b) == 0 {
		b = append(b, 0)
	}
	return append(b, 0)
}
