package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/peerdesk/peerdesk/agent"
	"github.com/peerdesk/peerdesk/agent/sessionhelper"
	"github.com/peerdesk/peerdesk/cli"
)

// helperCommand is hidden (not in commands()'s table): the Windows service
// starts `peerdesk-agent helper` in the console session (package
// sessionhelper), where it serves that session's screen and input to the
// service over the SYSTEM-only pipe until the service closes it. On Linux
// the pipe is a unix socket, so the same path is tested there.
var helperCommand = cli.Command{Name: "helper", Usage: "serve the console session's screen and input to the agent's service (started by the service)", Run: runHelper}

// helperDialFor is how long the helper tries to reach the service's pipe:
// the service listens before it launches, so this only covers a busy
// machine.
const helperDialFor = 30 * time.Second

func runHelper(ctx context.Context, args []string) error {
	fs := cli.Flags("peerdesk-agent", "helper")
	pipe := fs.String("pipe", sessionhelper.PipeName, "the service's pipe (a unix socket path off Windows)")
	display := fs.String("display", "", "X11 display to serve ($DISPLAY if empty; unused on Windows)")
	viewOnly := fs.Bool("view-only", false, "serve the screen only, no input")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	dctx, cancel := context.WithTimeout(ctx, helperDialFor)
	defer cancel()
	var last error
	for {
		conn, err := sessionhelper.Dial(dctx, *pipe)
		if err == nil {
			cancel()
			go func() {
				<-ctx.Done()
				conn.Close()
			}()
			return sessionhelper.Serve(conn, agent.LocalDesktop(*display, *viewOnly))
		}
		last = err
		select {
		case <-dctx.Done():
			return errors.Join(errors.New("the agent's service did not answer on its pipe"), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
