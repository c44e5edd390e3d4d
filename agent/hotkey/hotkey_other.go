//go:build !linux && !windows

package hotkey

func start(Config, chan struct{}) (func(), error) { return nil, ErrUnsupported }
