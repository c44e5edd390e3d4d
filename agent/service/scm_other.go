//go:build !windows

package service

import ksvc "github.com/kardianos/service"

// underManager reports whether a service manager started this process.
func underManager() bool { return !ksvc.Interactive() }

// serve returns the library's loop that answers the service manager for p.
func serve(p *program, kc *ksvc.Config) (func() error, error) {
	s, err := ksvc.New(p, kc)
	if err != nil {
		return nil, err
	}
	return s.Run, nil
}

// afterInstall has nothing to add to what the library installed.
func afterInstall(string) error { return nil }
