// Package cli holds what peerdesk's three command-line programs share:
// subcommand dispatch, logging set-up and password input. It knows nothing
// of the coordinator, agent or viewer.
package cli

import (
	"bufio"
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
	"strings"
	"syscall"

	"golang.org/x/term"
)

// Command is one subcommand.
type Command struct {
	Name  string
	Usage string // one line
	Run   func(ctx context.Context, args []string) error
}

// ErrUsage makes Main print the usage and exit with status 2.
var ErrUsage = errors.New("usage")

// Main runs the subcommand named by os.Args[1] with a context cancelled on
// SIGINT or SIGTERM, and exits.
func Main(prog string, cmds []Command) {
	MainWith(prog, cmds, os.Args[1:]...)
}

// MainWith is Main with the arguments given (the first names the command).
func MainWith(prog string, cmds []Command, args ...string) {
	os.Exit(run(prog, cmds, args, os.Stderr))
}

func run(prog string, cmds []Command, args []string, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintf(stderr, "usage: %s <command> [flags]\n\ncommands:\n", prog)
		sorted := append([]Command(nil), cmds...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
		for _, c := range sorted {
			fmt.Fprintf(stderr, "  %-16s %s\n", c.Name, c.Usage)
		}
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		return 2
	}
	for _, c := range cmds {
		if c.Name != args[0] {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := c.Run(ctx, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, ErrUsage), errors.Is(err, flag.ErrHelp):
			return 2
		default:
			fmt.Fprintf(stderr, "%s %s: %v\n", prog, c.Name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n", prog, args[0])
	usage()
	return 2
}

// Flags returns a flag set for a subcommand that reports errors without
// exiting.
func Flags(prog, name string) *flag.FlagSet {
	fs := flag.NewFlagSet(prog+" "+name, flag.ContinueOnError)
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

// Password reads a password: from the environment variable env if set,
// else from the terminal without echo, else one line of standard input.
func Password(prompt, env string) (string, error) {
	if v := os.Getenv(env); v != "" {
		return v, nil
	}
	if term.IsTerminal(int(os.Stdin.Fd())) {
		fmt.Fprint(os.Stderr, prompt)
		b, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(os.Stderr)
		return string(b), err
	}
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

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
