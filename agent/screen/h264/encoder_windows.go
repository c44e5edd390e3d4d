//go:build windows && !noopenh264

package h264

import (
	"fmt"
	"strings"
	"sync"
)

// defaultBackend chooses at run time: Media Foundation's H.264 encoder
// first, OpenH264 (loaded from its DLL) as the fallback (see choose).
var defaultBackend = openWindows

// errNoMFBackend: this build has no Media Foundation encoder yet, so a
// machine that has the MFT still encodes with OpenH264 (docs/ARCHITECTURE.md,
// "Windows under Wine", says what is left).
const errNoMFBackend = "this build has no Media Foundation encoder yet"

// mediaFoundation says, once per process, whether Media Foundation can
// encode: the probe's finding, and the build's.
var mediaFoundation = sync.OnceValue(func() error {
	names, err := probeMediaFoundation()
	switch {
	case err != nil:
		return err
	case len(names) == 0:
		return fmt.Errorf("no H.264 encoder is registered")
	default:
		return fmt.Errorf("%s (the system has %s)", errNoMFBackend, strings.Join(names, ", "))
	}
})

func openWindows(o Options, t tuning) (backend, error) {
	_, dllErr := welsLibrary()
	c, err := choose(map[Implementation]error{MediaFoundation: mediaFoundation(), OpenH264: dllErr})
	if err != nil {
		return nil, err
	}
	// Only OpenH264 can be chosen until the Media Foundation backend
	// exists (mediaFoundation never reports it usable).
	b, err := openWels(o, t)
	if err != nil {
		return nil, err
	}
	wb := b.(*welsBackend)
	wb.passed = c.PassedOver
	return wb, nil
}
