//go:build linux || darwin

package wels

import (
	"fmt"

	"github.com/ebitengine/purego"
)

// DefaultPath is the library's name where the distribution installs it
// (Debian's libopenh264-7).
const DefaultPath = "libopenh264.so.7"

type dynlib struct{ h uintptr }

func load(path string) (lib, error) {
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	return &dynlib{h: h}, nil
}

func (l *dynlib) sym(name string) (uintptr, error) { return purego.Dlsym(l.h, name) }

func (l *dynlib) call(fn uintptr, args ...uintptr) uintptr {
	r, _, _ := purego.SyscallN(fn, args...)
	return r
}

// DefaultLocation is DefaultPath: the dynamic loader's search finds it.
func DefaultLocation() string { return DefaultPath }
