// Package clitest checks a peerdesk program's command line from its
// tests: the test binary runs the program's main in a child process
// (Main), and CheckHelp walks the program's dispatch table asking every
// command and subcommand for help.
package clitest

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/peerdesk/peerdesk/cli"
)

// argsEnv carries the arguments of the child process, as JSON.
const argsEnv = "PEERDESK_CLITEST_ARGS"

// Main is a test package's TestMain: in a child started by Run it runs
// the program's main with the arguments the test gave, else the tests.
func Main(m *testing.M, prog string, main func()) {
	if a := os.Getenv(argsEnv); a != "" {
		var args []string
		if err := json.Unmarshal([]byte(a), &args); err != nil {
			os.Stderr.WriteString("clitest: " + err.Error() + "\n")
			os.Exit(3)
		}
		os.Args = append([]string{prog}, args...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Command returns the program (the test binary under Main) to run with
// args, with PEERDESK_PASSWORD unset and no standard input.
func Command(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	a, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), argsEnv+"="+string(a), "PEERDESK_PASSWORD=")
	return cmd
}

// Run runs the program (the test binary under Main) with args and returns
// its standard output and error together, and its exit status.
func Run(t testing.TB, args ...string) (string, int) {
	t.Helper()
	out, err := Command(t, args...).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	}
	t.Fatalf("%q: %v", args, err)
	return "", -1
}

// flagLine is a flag as the flag package lists it: "  -name" and the
// name of its argument, if it takes one.
var flagLine = regexp.MustCompile(`(?m)^  -(\S+)(?: (.+))?$`)

// argNames are the argument names the flag package gives flags by type.
// Another means a usage string with `backquotes`, which the flag package
// takes for the argument's name.
var argNames = map[string]bool{"": true, "string": true, "int": true, "uint": true, "float": true, "duration": true, "value": true}

// CheckHelp asks the program and each of its commands and subcommands in
// cmds for help with -h, --help and help, and checks that each exits 0,
// names the command and lists its subcommands (each with its usage line),
// or its flags, or says it has none.
func CheckHelp(t *testing.T, prog string, cmds []cli.Command) {
	t.Helper()
	checkList(t, []string{prog}, cmds)
}

func checkList(t *testing.T, path []string, cmds []cli.Command) {
	t.Helper()
	for _, h := range []string{"-h", "--help", "help"} {
		out, code := Run(t, append(path[1:], h)...)
		if code != 0 || !strings.Contains(out, "usage: "+strings.Join(path, " ")+" <command>") {
			t.Errorf("%s %s: exit %d:\n%s", strings.Join(path, " "), h, code, out)
			continue
		}
		for _, c := range cmds {
			if c.Usage == "" || !strings.Contains(out, "  "+c.Name+" ") || !strings.Contains(out, c.Usage) {
				t.Errorf("%s %s does not list %q with its usage line:\n%s", strings.Join(path, " "), h, c.Name, out)
			}
		}
	}
	for _, c := range cmds {
		p := append(append([]string(nil), path...), c.Name)
		if len(c.Sub) > 0 {
			checkList(t, p, c.Sub)
		}
		if c.Run != nil {
			checkFlags(t, p)
		}
	}
}

func checkFlags(t *testing.T, path []string) {
	t.Helper()
	name := strings.Join(path, " ")
	for _, h := range []string{"-h", "--help", "help"} {
		out, code := Run(t, append(path[1:], h)...)
		if code != 0 || !strings.Contains(out, "usage: "+name+" [flags]") {
			t.Errorf("%s %s: exit %d:\n%s", name, h, code, out)
			continue
		}
		flags := flagLine.FindAllStringSubmatch(out, -1)
		if len(flags) == 0 && !strings.Contains(out, "(no flags)") {
			t.Errorf("%s %s lists no flags and does not say it has none:\n%s", name, h, out)
		}
		for _, f := range flags {
			if !argNames[f[2]] {
				t.Errorf("%s %s: flag -%s takes an argument named %q (backquotes in its usage string?)", name, h, f[1], f[2])
			}
		}
	}
}
