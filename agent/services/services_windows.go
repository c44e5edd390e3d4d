package services

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/peerdesk/peerdesk/wire"
)

// NewManager is the Windows service control manager (the address is
// ignored).
func NewManager(string) Manager { return scm{} }

type scm struct{}

func (scm) List(ctx context.Context) ([]wire.Service, error) {
	m, err := mgr.Connect()
	if err != nil {
		return nil, errorf("List", err)
	}
	defer m.Disconnect()
	names, err := m.ListServices()
	if err != nil {
		return nil, errorf("List", err)
	}
	out := make([]wire.Service, 0, len(names))
	for _, n := range names {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if s, err := read(m, n); err == nil {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b wire.Service) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func read(m *mgr.Mgr, name string) (wire.Service, error) {
	s, err := m.OpenService(name)
	if err != nil {
		if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
			return wire.Service{}, ErrNotFound
		}
		return wire.Service{}, err
	}
	defer s.Close()
	st, err := s.Query()
	if err != nil {
		return wire.Service{}, err
	}
	out := wire.Service{Name: name, State: winState(uint32(st.State))}
	if c, err := s.Config(); err == nil {
		out.Description = c.DisplayName
		if c.Description != "" {
			out.Description = c.DisplayName + ": " + c.Description
		}
		out.Enabled = winStart(c.StartType, c.DelayedAutoStart)
	}
	return out, nil
}

func (scm) Get(_ context.Context, name string) (wire.Service, error) {
	m, err := mgr.Connect()
	if err != nil {
		return wire.Service{}, errorf("Get", err)
	}
	defer m.Disconnect()
	return read(m, name)
}

func (scm) Do(ctx context.Context, name, action string) (string, error) {
	m, err := mgr.Connect()
	if err != nil {
		return "", errorf("Do", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if err != nil {
		if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
			return "", ErrNotFound
		}
		return "", errorf("Do", err)
	}
	defer s.Close()
	st, err := s.Query()
	if err != nil {
		return "", errorf("Do", err)
	}
	for _, step := range winPlan(action, uint32(st.State)) {
		switch step {
		case "stop":
			if _, err := s.Control(svc.Stop); err != nil {
				return "", fmt.Errorf("%w: stop %s: %w", ErrFailed, name, err)
			}
			if err := waitFor(ctx, s, svc.Stopped); err != nil {
				return "", err
			}
		case "start":
			if err := s.Start(); err != nil {
				return "", fmt.Errorf("%w: start %s: %w", ErrFailed, name, err)
			}
			if err := waitFor(ctx, s, svc.Running); err != nil {
				return "", err
			}
		}
	}
	return "", nil
}

// waitFor polls the service until it reaches want (the service control
// manager has no completion event for a control).
func waitFor(ctx context.Context, s *mgr.Service, want svc.State) error {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		st, err := s.Query()
		if err != nil {
			return errorf("Do", err)
		}
		if st.State == want {
			return nil
		}
		if want == svc.Running && st.State == svc.Stopped && st.Win32ExitCode != 0 {
			return fmt.Errorf("%w: it stopped with exit code %d", ErrFailed, st.Win32ExitCode)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: it is still %s", ErrFailed, winState(uint32(st.State)))
		case <-t.C:
		}
	}
}
