package agent

import (
	"context"
	"errors"
	"path/filepath"
	"sync"

	"github.com/peerdesk/peerdesk/agent/hotkey"
	"github.com/peerdesk/peerdesk/agent/outbox"
	"github.com/peerdesk/peerdesk/agent/shot"
)

// startReports starts the screenshot ticket (T5), the help desk assistant
// (assistant.go) and the queue they send through (T4): the outbox in the state directory, drained to the
// coordinator whatever the overlay does (tickets go over HTTPS), and the
// hotkey, which takes a report and brings the user's page up to describe
// it. It runs before the overlay is up: a user whose network is down can
// still report it, and the report waits. stop ends it all and waits.
func (a *Agent) startReports(ctx context.Context) (stop func()) {
	ob, err := outbox.Open(filepath.Join(a.cfg.StateDir, "outbox"), outbox.Options{Logger: a.log.With("component", "outbox")})
	if err != nil {
		a.log.Error("the outbox could not be opened; the user cannot report problems from this computer", "err", err)
		return func() {}
	}
	svc := shot.New(shot.Config{
		Queue: ob, Filer: a.coord, Now: a.cfg.Now, Logger: a.log.With("component", "shot"),
		Screen: func(ctx context.Context) ([]byte, error) { return shot.Screen(ctx, a.cfg.Display) },
		System: a.inv.Collect,
		User:   func() string { return shot.User(a.cfg.Display) },
	})
	as := a.newAssistant(ob)
	a.mu.Lock()
	a.outbox, a.reports, a.assistant = ob, svc, as
	a.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := ob.Drain(ctx, sender(svc, as)); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Error("the outbox stopped", "err", err)
		}
	})
	pressed := make(chan struct{}, 1)
	if a.cfg.Hotkey != "off" {
		key, err := hotkey.ParseKey(a.cfg.Hotkey)
		var hk *hotkey.Hotkey
		if err == nil {
			hk, err = hotkey.Start(hotkey.Config{Display: a.cfg.Display, Key: key, Logger: a.log, OnPress: func() {
				select {
				case pressed <- struct{}{}:
				default: // one report at a time; a held key repeats
				}
			}})
		}
		if err != nil {
			a.log.Info("no hotkey for reporting a problem; the page's button remains", "err", err)
		} else {
			a.mu.Lock()
			a.hotkey = key.String()
			a.mu.Unlock()
			wg.Go(func() { <-ctx.Done(); hk.Close() }) //nolint:errcheck // Close waits and cannot fail
		}
	}
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-pressed:
			}
			if ui := a.UI(); ui != nil {
				if err := ui.Report(ctx); err != nil {
					a.log.Warn("reporting a problem from the hotkey", "err", err)
				}
			}
		}
	})
	return func() { cancel(); wg.Wait(); ob.Close() } //nolint:errcheck // Close cannot fail
}

// Outbox is the agent's queue to the coordinator, once Run has started.
func (a *Agent) Outbox() *outbox.Outbox {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.outbox
}
