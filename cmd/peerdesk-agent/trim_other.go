//go:build !linux

package main

import "errors"

// trimExecutable is Linux's (trim_linux.go); elsewhere the system trims a
// process's working set itself when memory is short.
func trimExecutable() error { return errors.ErrUnsupported }
