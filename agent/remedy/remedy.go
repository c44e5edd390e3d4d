// Package remedy runs the help desk assistant's remediations on the agent:
// flush_dns, clear_temp, restart_spooler and renew_dhcp, the Remediations
// rows of policy's whitelist. Plan builds what a remediation will do from
// its NAME only (per OS, in remedy_<os>.go): the steps' command lines are
// fixed strings of this package, never text from the model. The end
// user's page shows Plan's Show() before the Approve button, and Run runs
// exactly that plan, after re-checking the whitelist. Commands run
// through an injectable Runner, so tests build and check plans without
// touching the machine.
package remedy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/peerdesk/peerdesk/policy"
)

// Timeout bounds one remediation.
const Timeout = 2 * time.Minute

// Step is one thing a remediation does: a command (Argv) or, for work done
// in Go, a description and a function.
type Step struct {
	Argv []string
	// Desc and Do are set for a step done in Go (no command).
	Desc string
	Do   func(ctx context.Context) (string, error)
}

func (s Step) show() string {
	if s.Do != nil {
		return s.Desc
	}
	return strings.Join(s.Argv, " ")
}

// Plan is what a remediation will do.
type Plan struct {
	Name  string
	Steps []Step
}

// Show is the plan in words, exactly what will run, one step a line.
func (p Plan) Show() string {
	var lines []string
	for _, s := range p.Steps {
		lines = append(lines, s.show())
	}
	return strings.Join(lines, "\n")
}

// Runner runs one command and returns its combined output.
type Runner func(ctx context.Context, argv []string) ([]byte, error)

// ExecRunner runs commands with os/exec.
func ExecRunner(ctx context.Context, argv []string) ([]byte, error) {
	return exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
}

// Env is where a plan acts.
type Env struct {
	// TempDir is the user's temporary directory that clear_temp empties;
	// "" is os.TempDir().
	TempDir string
}

// ErrUnsupported is matched by Plan's error for a remediation this OS
// does not have.
var ErrUnsupported = errors.ErrUnsupported

// Plan returns the plan of the remediation name, once the whitelist
// allows it; a name outside the table is a *policy.ToolRefusal.
func (e Env) Plan(name string) (Plan, error) {
	if err := (policy.Whitelist{}).CheckRemediation(name); err != nil {
		return Plan{}, err
	}
	if name == "clear_temp" {
		dir := e.TempDir
		if dir == "" {
			dir = os.TempDir()
		}
		return Plan{Name: name, Steps: []Step{{Desc: "delete the files and folders inside " + dir, Do: func(ctx context.Context) (string, error) { return clearDir(ctx, dir) }}}}, nil
	}
	steps, err := osPlan(name)
	if err != nil {
		return Plan{}, fmt.Errorf("remedy: %s: %w", name, err)
	}
	return Plan{Name: name, Steps: steps}, nil
}

// Run re-checks the whitelist and runs p's steps in order with run (nil:
// ExecRunner), stopping at the first that fails; it returns their output.
func Run(ctx context.Context, p Plan, run Runner) (string, error) {
	if err := (policy.Whitelist{}).CheckRemediation(p.Name); err != nil {
		return "", err
	}
	if run == nil {
		run = ExecRunner
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	var out strings.Builder
	for _, s := range p.Steps {
		var b []byte
		var err error
		if s.Do != nil {
			var o string
			o, err = s.Do(ctx)
			b = []byte(o)
		} else {
			b, err = run(ctx, s.Argv)
		}
		out.Write(b)
		if err != nil {
			return policy.CapString(out.String(), 4096), fmt.Errorf("remedy: %s: %s: %w", p.Name, s.show(), err)
		}
	}
	return policy.CapString(out.String(), 4096), nil
}

// clearDir deletes what is inside dir (not dir itself), skipping what it
// may not delete (files in use); it reports how many entries it removed.
func clearDir(ctx context.Context, dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	removed, skipped := 0, 0
	for _, e := range ents {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			skipped++
			continue
		}
		removed++
	}
	return fmt.Sprintf("removed %d entries from %s, skipped %d in use or not ours", removed, dir, skipped), nil
}
