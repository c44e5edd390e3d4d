// Package cli holds what peerdesk's three command-line programs share:
// subcommand dispatch, logging set-up and password input. It knows nothing
// of the coordinator, agent or viewer.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/term"
)

// Command is one subcommand. A command with Sub dispatches to the one its
// first argument names; one with both Sub and Run runs Run when the first
// argument names none of Sub (a flag, say).
type Command struct {
	Name  string
	Usage string // one line: what it does
	Run   func(ctx context.Context, args []string) error
	Sub   []Command
}

// ErrUsage makes Main print the usage and exit with status 2.
var ErrUsage = errors.New("usage")

// ExitStatus, returned by a command, makes Main exit with that status
// and print nothing (a remote command's own status, passed through).
type ExitStatus int

func (e ExitStatus) Error() string { return "exit status " + strconv.Itoa(int(e)) }

// Main runs the subcommand named by os.Args[1] with a context cancelled on
// SIGINT or SIGTERM, and exits.
func Main(prog string, cmds []Command) {
	MainWith(prog, cmds, os.Args[1:]...)
}

// MainWith is Main with the arguments given (the first names the command).
func MainWith(prog string, cmds []Command, args ...string) {
	os.Exit(run(prog, cmds, args, os.Stderr))
}

// IsHelp reports whether arg asks for help, as -h, -help, --help or help.
func IsHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "--h", "help":
		return true
	}
	return false
}

// list prints the usage of a command with subcommands: one line each.
func list(w io.Writer, path string, cmds []Command) {
	fmt.Fprintf(w, "usage: %s <command> [flags]\n\ncommands:\n", path)
	sorted := append([]Command(nil), cmds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, c := range sorted {
		fmt.Fprintf(w, "  %-16s %s\n", c.Name, c.Usage)
	}
	fmt.Fprintf(w, "\n%s <command> -h tells more of each.\n", path)
}

// run runs the command args name under path (the program's name and the
// commands above) and returns the exit status. Help, asked for with -h,
// --help or help anywhere a command or its first flag is expected, goes
// to stderr, as the flag package's does, and exits 0.
func run(path string, cmds []Command, args []string, stderr io.Writer) int {
	if len(args) == 0 || IsHelp(args[0]) {
		list(stderr, path, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range cmds {
		if c.Name != args[0] {
			continue
		}
		name, rest := path+" "+c.Name, args[1:]
		if len(c.Sub) > 0 {
			if len(rest) > 0 && !IsHelp(rest[0]) && (c.Run == nil || named(c.Sub, rest[0])) {
				return run(name, c.Sub, rest, stderr)
			}
			if c.Run == nil || len(rest) > 0 && IsHelp(rest[0]) {
				fmt.Fprintf(stderr, "%s: %s\n\n", name, c.Usage)
				list(stderr, name, c.Sub)
				if c.Run == nil {
					if len(rest) == 0 {
						return 2
					}
					return 0
				}
				fmt.Fprintf(stderr, "\nwith no command:\n")
				rest = []string{"-h"}
			}
		} else if len(rest) > 0 && IsHelp(rest[0]) {
			fmt.Fprintf(stderr, "%s: %s\n\n", name, c.Usage)
			rest = []string{"-h"}
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := c.Run(ctx, rest)
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, ErrUsage):
			return 2
		case errors.As(err, new(ExitStatus)):
			var es ExitStatus
			errors.As(err, &es)
			return int(es)
		default:
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n", path, args[0])
	list(stderr, path, cmds)
	return 2
}

func named(cmds []Command, name string) bool {
	for _, c := range cmds {
		if c.Name == name {
			return true
		}
	}
	return false
}

// Flags returns a flag set for a subcommand that reports errors without
// exiting. Its usage (on -h) names the command and lists its flags, or
// says it has none. The arguments after the flags, if any, are described
// by args (e.g. "<device-id>").
func Flags(prog, name string, args ...string) *flag.FlagSet {
	fs := flag.NewFlagSet(prog+" "+name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: %s [flags]", fs.Name())
		for _, a := range args {
			fmt.Fprintf(w, " %s", a)
		}
		fmt.Fprintln(w)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n == 0 {
			fmt.Fprintln(w, "(no flags)")
			return
		}
		fmt.Fprintln(w, "\nflags:")
		fs.PrintDefaults()
	}
	return fs
}

// Logger returns a text logger on stderr at level ("debug", "info",
// "warn", "error").
func Logger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

// Terminal is the terminal a password is typed on, without echo.
// golang.org/x/term on standard input is the real one (Stdio).
type Terminal interface {
	ReadPassword() ([]byte, error)
}

// Secrets reads passwords and codes: from an environment variable, else
// from a terminal without echo, else one line of standard input.
type Secrets struct {
	Getenv func(string) string
	Term   Terminal  // nil when standard input is not a terminal
	Stdin  io.Reader // read one byte at a time, so each call takes one line
	Prompt io.Writer // where prompts go
}

// ErrMismatch: the password typed the second time differs from the first.
var ErrMismatch = errors.New("the passwords typed differ")

// ErrEmptyPassword: no password was given.
var ErrEmptyPassword = errors.New("the password is empty")

type stdinTerm struct{}

func (stdinTerm) ReadPassword() ([]byte, error) { return term.ReadPassword(int(os.Stdin.Fd())) }

// Stdio is Secrets on the process's environment, terminal and standard
// input, with prompts on stderr.
func Stdio() Secrets {
	s := Secrets{Getenv: os.Getenv, Stdin: os.Stdin, Prompt: os.Stderr}
	if term.IsTerminal(int(os.Stdin.Fd())) {
		s.Term = stdinTerm{}
	}
	return s
}

// Password reads a password: from the environment variable env if set,
// else from the terminal without echo, else one line of standard input.
func (s Secrets) Password(prompt, env string) (string, error) {
	if v := s.Getenv(env); v != "" {
		return v, nil
	}
	if s.Term != nil {
		return s.ask(prompt)
	}
	return readLine(s.Stdin)
}

// NewPassword reads a password being set: as Password, but on a terminal
// it asks twice and refuses a mismatch; an empty password is refused.
func (s Secrets) NewPassword(prompt, env string) (string, error) {
	if s.Term == nil || s.Getenv(env) != "" {
		pw, err := s.Password(prompt, env)
		if err == nil && pw == "" {
			err = ErrEmptyPassword
		}
		return pw, err
	}
	pw, err := s.ask(prompt)
	if err != nil {
		return "", err
	}
	if pw == "" {
		return "", ErrEmptyPassword
	}
	again, err := s.ask("again: ")
	if err != nil {
		return "", err
	}
	if again != pw {
		return "", ErrMismatch
	}
	return pw, nil
}

func (s Secrets) ask(prompt string) (string, error) {
	fmt.Fprint(s.Prompt, prompt)
	b, err := s.Term.ReadPassword()
	fmt.Fprintln(s.Prompt)
	return string(b), err
}

// readLine reads one line without reading past it (a second secret may
// follow on the next line).
func readLine(r io.Reader) (string, error) {
	var line []byte
	b := make([]byte, 1)
	for len(line) < maxLine {
		n, err := r.Read(b)
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			line = append(line, b[0])
			continue
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", err
		}
	}
	if len(line) >= maxLine {
		return "", fmt.Errorf("a line of standard input longer than %d bytes", maxLine)
	}
	return strings.TrimRight(string(line), "\r"), nil
}

// maxLine bounds a line read from standard input.
const maxLine = 4096

// Password is Stdio().Password.
func Password(prompt, env string) (string, error) { return Stdio().Password(prompt, env) }

// NewPassword is Stdio().NewPassword.
func NewPassword(prompt, env string) (string, error) { return Stdio().NewPassword(prompt, env) }

// DefaultMemoryLimit is the soft memory limit of the overlay nodes (agent,
// viewer): tsnet's WireGuard queues hold up to 64 KiB per packet without
// bound and took 350–530 MB during bulk transfers; under this limit the Go
// runtime collects sooner, holding ≈ 160 MB at well over gigabit speed
// (docs/BENCHMARKS.md).
const DefaultMemoryLimit = 160 << 20

// CoordinatorMemoryLimit is the coordinator's soft memory limit: a bound
// on garbage, above its working set. With 2,000 agents on the overlay the
// coordinator holds ~250 MB of heap and ~65 MB of goroutine stacks, and a
// fleet joining churns through garbage on top. A limit under the working
// set makes the collector run without pause (384 MiB took a whole core
// when the working set was ~490 MB), so it sits well above it.
const CoordinatorMemoryLimit = 768 << 20

// CoordinatorGCPercent is the coordinator's GOGC. Its RSS follows the
// collector's goal, live heap plus GOGC % of the live heap and stacks;
// at 100 that was ~555 MB with 2,000 overlay agents. Collecting at 50 %
// keeps RSS under 500 MB there for a little more collector CPU
// (docs/BENCHMARKS.md), and unlike a lower memory limit it has no cliff as
// the fleet grows.
const CoordinatorGCPercent = 50

// SetGCPercent sets the collector's target percentage unless the GOGC
// environment variable is set (which wins) or percent is 0.
func SetGCPercent(percent int) {
	if os.Getenv("GOGC") == "" && percent > 0 {
		debug.SetGCPercent(percent)
	}
}

// SetMemoryLimit sets the runtime's soft memory limit to limit bytes unless
// the GOMEMLIMIT environment variable is set (which wins) or limit is 0.
func SetMemoryLimit(limit int64) {
	if os.Getenv("GOMEMLIMIT") == "" && limit > 0 {
		debug.SetMemoryLimit(limit)
	}
}
