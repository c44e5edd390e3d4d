package shell

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoShell: the shell asked for does not exist on this machine (or not on
// this operating system).
var ErrNoShell = errors.New("shell: no such shell on this machine")

// program is what to start: a path and its arguments (argv[0] included).
type program struct {
	Path string
	Args []string
}

// shellFor picks the shell a request names ("" for the default) on goos:
// bash, then sh, on Unix systems (the default is the first that exists);
// PowerShell, then cmd, on Windows (under systemRoot, C:\Windows if
// empty). exists reports whether a path is an executable file. Pure, so
// the Windows choice is tested on Linux.
func shellFor(goos, name, systemRoot string, exists func(string) bool) (program, error) {
	type cand struct {
		name string
		path string
		args []string
	}
	var cands []cand
	if goos == "windows" {
		if systemRoot == "" {
			systemRoot = `C:\Windows`
		}
		root := strings.TrimRight(systemRoot, `\`) + `\System32\`
		cands = []cand{
			{"powershell", root + `WindowsPowerShell\v1.0\powershell.exe`, []string{"powershell.exe", "-NoLogo"}},
			{"cmd", root + "cmd.exe", []string{"cmd.exe"}},
		}
	} else {
		cands = []cand{
			{"bash", "/bin/bash", []string{"bash", "-l"}},
			{"bash", "/usr/bin/bash", []string{"bash", "-l"}},
			{"bash", "/usr/local/bin/bash", []string{"bash", "-l"}},
			{"sh", "/bin/sh", []string{"sh"}},
			{"sh", "/usr/bin/sh", []string{"sh"}},
		}
	}
	for _, c := range cands {
		if (name == "" || name == c.name) && exists(c.path) {
			return program{Path: c.path, Args: c.args}, nil
		}
	}
	if name == "" {
		return program{}, fmt.Errorf("%w: none of the usual shells is installed", ErrNoShell)
	}
	return program{}, fmt.Errorf("%w: %s", ErrNoShell, name)
}
