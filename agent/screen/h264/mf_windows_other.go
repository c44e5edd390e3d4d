//go:build windows && !amd64 && !386

package h264

import (
	"fmt"
	"runtime"
)

// probeMediaFoundation: the probe passes a GUID by value, which only the
// amd64 and 386 calling conventions are written for here.
func probeMediaFoundation() ([]string, error) {
	return nil, fmt.Errorf("the Media Foundation probe is not written for %s", runtime.GOARCH)
}
