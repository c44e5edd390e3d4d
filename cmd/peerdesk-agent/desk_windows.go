//go:build windows

package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/peerdesk/peerdesk/agent/service"
	"github.com/peerdesk/peerdesk/agent/sessionhelper"
)

// serviceDesktop: a Windows service runs in session 0, which has no
// desktop, so its screen sessions go through the screen helper it keeps
// running in the console session (package sessionhelper). From a
// terminal the agent uses its own desktop (nil).
// The consent page opens in the console user's browser, launched as that
// user (sessionhelper.OpenForUser), for the same reason.
func serviceDesktop(ctx context.Context, viewOnly bool, log *slog.Logger) (*sessionhelper.Desktop, func(url string) error, func(), error) {
	if !service.UnderManager() {
		return nil, nil, func() {}, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, nil, err
	}
	ln, err := sessionhelper.Listen(sessionhelper.PipeName)
	if err != nil {
		return nil, nil, nil, err
	}
	desk := sessionhelper.NewRemote(log)
	args := []string{"helper", "-pipe", sessionhelper.PipeName}
	if viewOnly {
		args = append(args, "-view-only")
	}
	sup := &sessionhelper.Supervisor{
		Sessions: sessionhelper.Sessions,
		Launch: func(w sessionhelper.Want) (sessionhelper.Proc, error) {
			p, err := sessionhelper.Launch(w, exe, args...)
			if err != nil {
				return nil, err
			}
			return &sessionhelper.ExecProc{
				Pid: p.PID,
				WaitFunc: func() error {
					_, err := p.Wait()
					p.Close() //nolint:errcheck // the handle, after the exit
					return err
				},
				KillFunc: p.Kill,
			}, nil
		},
		Listener:  ln,
		ClientPID: sessionhelper.ClientPID,
		Desk:      desk,
		Logger:    log.With("component", "sessionhelper"),
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := sup.Run(ctx); err != nil {
			log.Error("the session helper's supervisor stopped", "err", err)
		}
	}()
	d := &sessionhelper.Desktop{OpenSource: desk.OpenSource, Input: desk.Input}
	return d, sessionhelper.OpenForUser, func() { cancel(); <-done; desk.Detach() }, nil
}
