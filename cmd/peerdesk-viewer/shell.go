package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/peerdesk/peerdesk/cli"
	"github.com/peerdesk/peerdesk/wire"
)

// shellCmd: peerdesk-viewer shell [flags] <device-id> [-- command...]. With
// no command, an interactive shell in this terminal (raw mode, its size
// followed); with one, the command, its output streamed, its exit status
// this program's.
func shellCmd(ctx context.Context, args []string) error {
	var req wire.ShellRequest
	v, rest, err := open(args, "shell", func(fs *flag.FlagSet) {
		fs.StringVar(&req.Shell, "shell", "", "bash, sh, cmd or powershell (default: the first the machine has)")
		fs.BoolVar(&req.TTY, "t", false, "run the command on a terminal (an interactive shell always has one)")
		fs.DurationVar(&req.Idle, "idle", 0, "end after this long without input or output (at most the agent's own, 15m by default)")
		fs.DurationVar(&req.Max, "max", 0, "end after this long (at most the agent's own, 4h by default)")
	}, "<device-id>", "[-- command [args...]]")
	if err != nil {
		return err
	}
	defer v.Close()
	if len(rest) == 0 {
		return fmt.Errorf("usage: peerdesk-viewer shell [flags] <device-id> [-- command [args...]]")
	}
	device, cmd := rest[0], rest[1:]
	if len(cmd) > 0 && cmd[0] == "--" {
		cmd = cmd[1:]
	}
	req.Command = cmd
	interactive := len(cmd) == 0
	in := int(os.Stdin.Fd())
	if interactive && !term.IsTerminal(in) {
		return fmt.Errorf("an interactive shell needs a terminal on standard input; to run one command: peerdesk-viewer shell %s -- command", device)
	}
	if interactive || req.TTY {
		if w, h, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
			req.Cols, req.Rows = min(max(w, 1), wire.MaxShellCols), min(max(h, 1), wire.MaxShellRows)
		}
	}
	sh, err := v.Shell(ctx, device, req)
	if err != nil {
		return err
	}
	defer sh.Close()
	if interactive {
		old, err := term.MakeRaw(in)
		if err != nil {
			return err
		}
		defer term.Restore(in, old) //nolint:errcheck // best effort on the way out
		stop := followSize(int(os.Stdout.Fd()), func(cols, rows int) {
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			sh.Send(sctx, wire.ShellFrame{Type: wire.ShellResize, Cols: min(max(cols, 1), wire.MaxShellCols), Rows: min(max(rows, 1), wire.MaxShellRows)}) //nolint:errcheck // the shell may have gone
		})
		defer stop()
	}
	exit, err := sh.Run(ctx, os.Stdin, !interactive, os.Stdout, os.Stderr)
	if interactive {
		fmt.Fprint(os.Stderr, "\r\n")
	}
	if err != nil {
		return err
	}
	if exit.Reason != wire.ShellExited {
		msg := exit.Reason
		if exit.Message != "" {
			msg += ": " + exit.Message
		}
		fmt.Fprintf(os.Stderr, "peerdesk-viewer: the shell was ended (%s)\n", msg)
	}
	switch {
	case exit.Code == 0:
		return nil
	case exit.Code < 0: // ended by a signal
		return cli.ExitStatus(255)
	}
	return cli.ExitStatus(exit.Code)
}
