//go:build windows

package shell

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

// winProc is a process on a ConPTY (CreatePseudoConsole) or on pipes, in a
// job object that Kill terminates and that kills what is left when it is
// closed.
type winProc struct {
	pid  int
	proc windows.Handle
	job  windows.Handle
	hpc  windows.Handle // the pseudo console; 0 on pipes

	in   *os.File
	out  *os.File
	serr *os.File // nil on a ConPTY

	closeOnce sync.Once
}

func startProcess(s spec) (process, error) {
	var toClose []windows.Handle
	fail := func(err error) (process, error) {
		for _, h := range toClose {
			windows.CloseHandle(h) //nolint:errcheck // cleaning up after a failure
		}
		return nil, fmt.Errorf("shell: starting %s: %w", s.prog.Path, err)
	}
	pipe := func(inheritRead, inheritWrite bool) (r, w windows.Handle, err error) {
		if err := windows.CreatePipe(&r, &w, nil, 0); err != nil {
			return 0, 0, err
		}
		toClose = append(toClose, r, w)
		if inheritRead {
			err = windows.SetHandleInformation(r, windows.HANDLE_FLAG_INHERIT, windows.HANDLE_FLAG_INHERIT)
		}
		if err == nil && inheritWrite {
			err = windows.SetHandleInformation(w, windows.HANDLE_FLAG_INHERIT, windows.HANDLE_FLAG_INHERIT)
		}
		return r, w, err
	}
	p := &winProc{}
	// Their child's ends (the console's, or the process's standard
	// handles); ours are kept.
	var childEnds []windows.Handle
	si := new(windows.StartupInfoEx)
	si.Cb = uint32(unsafe.Sizeof(*si))
	flags := uint32(windows.CREATE_UNICODE_ENVIRONMENT | windows.CREATE_SUSPENDED | windows.EXTENDED_STARTUPINFO_PRESENT)
	inherit := false
	attrs, err := windows.NewProcThreadAttributeList(1)
	if err != nil {
		return fail(err)
	}
	defer attrs.Delete()
	if s.tty {
		inR, inW, err := pipe(false, false)
		if err != nil {
			return fail(err)
		}
		outR, outW, err := pipe(false, false)
		if err != nil {
			return fail(err)
		}
		if err := windows.CreatePseudoConsole(windows.Coord{X: int16(s.cols), Y: int16(s.rows)}, inR, outW, 0, &p.hpc); err != nil {
			return fail(err)
		}
		childEnds = []windows.Handle{inR, outW}
		// The attribute's value is the HPCON itself, not a pointer to it.
		if err := attrs.Update(windows.PROC_THREAD_ATTRIBUTE_PSEUDOCONSOLE, *(*unsafe.Pointer)(unsafe.Pointer(&p.hpc)), unsafe.Sizeof(p.hpc)); err != nil {
			windows.ClosePseudoConsole(p.hpc)
			return fail(err)
		}
		p.in, p.out = os.NewFile(uintptr(inW), "conpty-in"), os.NewFile(uintptr(outR), "conpty-out")
	} else {
		inR, inW, err := pipe(true, false)
		if err != nil {
			return fail(err)
		}
		outR, outW, err := pipe(false, true)
		if err != nil {
			return fail(err)
		}
		errR, errW, err := pipe(false, true)
		if err != nil {
			return fail(err)
		}
		childEnds = []windows.Handle{inR, outW, errW}
		si.Flags |= windows.STARTF_USESTDHANDLES
		si.StdInput, si.StdOutput, si.StdErr = inR, outW, errW
		// Only the three standard handles are inherited.
		if err := attrs.Update(windows.PROC_THREAD_ATTRIBUTE_HANDLE_LIST, unsafe.Pointer(&childEnds[0]), uintptr(len(childEnds))*unsafe.Sizeof(childEnds[0])); err != nil {
			return fail(err)
		}
		inherit = true
		p.in, p.out, p.serr = os.NewFile(uintptr(inW), "stdin"), os.NewFile(uintptr(outR), "stdout"), os.NewFile(uintptr(errR), "stderr")
	}
	si.ProcThreadAttributeList = attrs.List()

	app, err := windows.UTF16PtrFromString(s.prog.Path)
	if err != nil {
		return fail(err)
	}
	line, err := windows.UTF16PtrFromString(windows.ComposeCommandLine(s.prog.Args))
	if err != nil {
		return fail(err)
	}
	var dir *uint16
	if s.dir != "" {
		if dir, err = windows.UTF16PtrFromString(s.dir); err != nil {
			return fail(err)
		}
	}
	env := envBlock(s.env)
	var pi windows.ProcessInformation
	if err := windows.CreateProcess(app, line, nil, nil, inherit, flags, &env[0], dir, &si.StartupInfo, &pi); err != nil {
		if p.hpc != 0 {
			windows.ClosePseudoConsole(p.hpc)
		}
		return fail(err)
	}
	for _, h := range childEnds {
		windows.CloseHandle(h) //nolint:errcheck // the child and the console have their own
	}
	p.pid, p.proc = int(pi.ProcessId), pi.Process
	// The job, before the process runs a single instruction: nothing it
	// starts can escape it.
	if p.job, err = newJob(); err == nil {
		err = windows.AssignProcessToJobObject(p.job, pi.Process)
	}
	if err != nil {
		windows.TerminateProcess(pi.Process, 1) //nolint:errcheck // failing anyway
		windows.CloseHandle(pi.Thread)          //nolint:errcheck // failing anyway
		p.Close()                               //nolint:errcheck // failing anyway
		return nil, fmt.Errorf("shell: job object: %w", err)
	}
	_, err = windows.ResumeThread(pi.Thread)
	windows.CloseHandle(pi.Thread) //nolint:errcheck // not needed after resuming
	if err != nil {
		p.Kill()  //nolint:errcheck // failing anyway
		p.Close() //nolint:errcheck // failing anyway
		return nil, fmt.Errorf("shell: resuming: %w", err)
	}
	return p, nil
}

// newJob makes a job object that kills its processes when closed.
func newJob() (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, err
	}
	info := windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{}
	info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		windows.CloseHandle(job) //nolint:errcheck // failing anyway
		return 0, err
	}
	return job, nil
}

func (p *winProc) Pid() int          { return p.pid }
func (p *winProc) Output() io.Reader { return p.out }
func (p *winProc) Input() io.Writer  { return p.in }

func (p *winProc) Stderr() io.Reader {
	if p.serr == nil {
		return nil
	}
	return p.serr
}

func (p *winProc) CloseInput() error {
	if p.hpc != 0 {
		_, err := p.in.Write([]byte{0x1a, '\r'}) // ^Z Enter: cmd's and PowerShell's end of input
		return err
	}
	return p.in.Close()
}

func (p *winProc) Resize(cols, rows int) error {
	if p.hpc == 0 {
		return errors.New("shell: no terminal")
	}
	return windows.ResizePseudoConsole(p.hpc, windows.Coord{X: int16(cols), Y: int16(rows)})
}

// Hidden is not known on a ConPTY: every typed line is recorded.
func (p *winProc) Hidden() bool { return false }

func (p *winProc) Kill() error {
	if p.job == 0 {
		return windows.TerminateProcess(p.proc, 1)
	}
	return windows.TerminateJobObject(p.job, 1)
}

func (p *winProc) Wait() (int, string, error) {
	if _, err := windows.WaitForSingleObject(p.proc, windows.INFINITE); err != nil {
		return -1, "", err
	}
	var code uint32
	if err := windows.GetExitCodeProcess(p.proc, &code); err != nil {
		return -1, "", err
	}
	return int(int32(code)), "", nil
}

// Close closes the pseudo console (which ends its output pipe), the
// pipes, the job (killing anything left in it) and the process handle.
func (p *winProc) Close() error {
	var errs []error
	p.closeOnce.Do(func() {
		if p.hpc != 0 {
			windows.ClosePseudoConsole(p.hpc)
		}
		for _, f := range []*os.File{p.in, p.out, p.serr} {
			if f != nil {
				if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
					errs = append(errs, err)
				}
			}
		}
		for _, h := range []windows.Handle{p.job, p.proc} {
			if h != 0 {
				errs = append(errs, windows.CloseHandle(h))
			}
		}
	})
	return errors.Join(errs...)
}
