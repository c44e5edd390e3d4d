//go:build linux

package shell

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

type linuxProc struct {
	cmd  *exec.Cmd
	tty  *os.File // the PTY's master, non-blocking; nil without a terminal
	in   *os.File // stdin's write end, without a terminal
	out  *os.File // stdout's read end, without a terminal
	serr *os.File // stderr's read end, without a terminal
}

// startProcess starts s in a session of its own (setsid), so that its
// process group and session are its own and Kill can end them whole: on a
// new PTY as its controlling terminal, or on pipes.
func startProcess(s spec) (process, error) {
	cmd := exec.Command(s.prog.Path)
	cmd.Args, cmd.Env, cmd.Dir = s.prog.Args, s.env, s.dir
	if s.tty {
		m, err := pty.StartWithAttrs(cmd, &pty.Winsize{Cols: uint16(s.cols), Rows: uint16(s.rows)},
			&syscall.SysProcAttr{Setsid: true, Setctty: true})
		if err != nil {
			return nil, fmt.Errorf("shell: starting %s on a terminal: %w", s.prog.Path, err)
		}
		// pty leaves the master blocking (it calls Fd), so Close would
		// not end a Read in progress: take a non-blocking copy, which the
		// runtime's poller serves.
		nb, err := nonBlocking(m)
		if err != nil {
			cmd.Process.Kill() //nolint:errcheck // failing anyway
			cmd.Wait()         //nolint:errcheck // reaped
			return nil, err
		}
		return &linuxProc{cmd: cmd, tty: nb}, nil
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("shell: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		closeAll(inR, inW)
		return nil, fmt.Errorf("shell: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(inR, inW, outR, outW)
		return nil, fmt.Errorf("shell: %w", err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	closeAll(inR, outW, errW) // the child has its copies
	if err != nil {
		closeAll(inW, outR, errR)
		return nil, fmt.Errorf("shell: starting %s: %w", s.prog.Path, err)
	}
	return &linuxProc{cmd: cmd, in: inW, out: outR, serr: errR}, nil
}

func closeAll(fs ...*os.File) {
	for _, f := range fs {
		f.Close() //nolint:errcheck // cleaning up after a failure
	}
}

func nonBlocking(m *os.File) (*os.File, error) {
	fd, err := unix.Dup(int(m.Fd()))
	m.Close() //nolint:errcheck // the copy carries on
	if err != nil {
		return nil, fmt.Errorf("shell: terminal: %w", err)
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd) //nolint:errcheck // failing anyway
		return nil, fmt.Errorf("shell: terminal: %w", err)
	}
	return os.NewFile(uintptr(fd), "/dev/ptmx"), nil
}

func (p *linuxProc) Pid() int { return p.cmd.Process.Pid }

func (p *linuxProc) Output() io.Reader {
	if p.tty != nil {
		return p.tty
	}
	return p.out
}

func (p *linuxProc) Stderr() io.Reader {
	if p.tty != nil {
		return nil
	}
	return p.serr
}

func (p *linuxProc) Input() io.Writer {
	if p.tty != nil {
		return p.tty
	}
	return p.in
}

func (p *linuxProc) CloseInput() error {
	if p.tty != nil {
		// A terminal has no end of input: ^D at the start of a line
		// is how a program on it reads one.
		_, err := p.tty.Write([]byte{4})
		return err
	}
	return p.in.Close()
}

func (p *linuxProc) control(f func(fd int) error) error {
	if p.tty == nil {
		return errors.New("shell: no terminal")
	}
	rc, err := p.tty.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

func (p *linuxProc) Resize(cols, rows int) error {
	return p.control(func(fd int) error {
		return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Col: uint16(cols), Row: uint16(rows)})
	})
}

func (p *linuxProc) Hidden() bool {
	var hidden bool
	p.control(func(fd int) error { //nolint:errcheck // not known: not hidden (the line is recorded)
		t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		if err == nil {
			hidden = t.Lflag&unix.ECHO == 0 && t.Lflag&unix.ICANON != 0
		}
		return err
	})
	return hidden
}

// Kill sends SIGKILL to the process group, then to every process left in
// the session (a job the shell put in a group of its own).
func (p *linuxProc) Kill() error {
	pid := p.cmd.Process.Pid
	err := unix.Kill(-pid, unix.SIGKILL)
	if errors.Is(err, unix.ESRCH) {
		err = nil
	}
	return errors.Join(err, killSession(pid))
}

// killSession kills every process whose session is sid, from /proc. sid is
// a session this package made (setsid), never the agent's own.
func killSession(sid int) error {
	if own, err := unix.Getsid(0); sid <= 1 || err != nil || sid == own {
		return nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return fmt.Errorf("shell: listing processes: %w", err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone
		}
		if s, ok := statSession(string(b)); ok && s == sid {
			unix.Kill(pid, unix.SIGKILL) //nolint:errcheck // may have gone meanwhile
		}
	}
	return nil
}

// statSession reads the session id from a /proc/PID/stat line: the sixth
// field, counted after the command name's closing parenthesis (the name
// may hold spaces and parentheses).
func statSession(stat string) (int, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 4 { // state ppid pgrp session
		return 0, false
	}
	n, err := strconv.Atoi(f[3])
	return n, err == nil
}

func (p *linuxProc) Wait() (int, string, error) {
	err := p.cmd.Wait()
	st := p.cmd.ProcessState
	if st == nil {
		return -1, "", err
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -1, ws.Signal().String(), nil
	}
	return st.ExitCode(), "", nil
}

func (p *linuxProc) Close() error {
	if p.tty != nil {
		return p.tty.Close()
	}
	var errs []error
	for _, f := range []*os.File{p.in, p.out, p.serr} {
		if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
