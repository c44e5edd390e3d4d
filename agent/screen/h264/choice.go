package h264

import (
	"errors"
	"fmt"
	"strings"
)

// Implementation is an H.264 encoder an Encoder can run on.
type Implementation string

const (
	// MediaFoundation is Windows' own H.264 encoder (a Media Foundation
	// transform), present from Windows 8 and licensed with the OS.
	MediaFoundation Implementation = "Media Foundation"
	// OpenH264 is Cisco's OpenH264, linked with cgo or loaded at run time.
	OpenH264 Implementation = "OpenH264"
)

// preference is the order implementations are chosen in: Windows' own
// encoder first (the agent needs no separate download), OpenH264 the
// fallback.
var preference = []Implementation{MediaFoundation, OpenH264}

// Choice is the implementation an Encoder runs on and why the ones
// preferred to it were passed over: what a screen session reports.
type Choice struct {
	Implementation Implementation
	// Detail names the build: OpenH264's version ("2.3.1"), the MFT's name.
	Detail string
	// PassedOver says, in preference order, why each implementation
	// preferred to this one is not used ("Media Foundation: …").
	PassedOver []string
}

// String is one line for a person: "OpenH264 2.3.1 (not Media Foundation:
// no H.264 encoder is registered)".
func (c Choice) String() string {
	s := string(c.Implementation)
	if c.Detail != "" {
		s += " " + c.Detail
	}
	if len(c.PassedOver) > 0 {
		s += " (not " + strings.Join(c.PassedOver, "; not ") + ")"
	}
	return s
}

// choose picks the first implementation, in preference order, that this
// platform offers (is in avail) and that is usable (its error is nil);
// implementations absent from avail are not candidates here and are not
// mentioned. The Choice names why the preferred ones were passed over.
// With none usable, the error names every reason and wraps ErrUnsupported.
// It decides only: probing and opening are the caller's.
func choose(avail map[Implementation]error) (Choice, error) {
	var passed []string
	var errs []error
	for _, impl := range preference {
		err, offered := avail[impl]
		if !offered {
			continue
		}
		if err == nil {
			return Choice{Implementation: impl, PassedOver: passed}, nil
		}
		passed = append(passed, fmt.Sprintf("%s: %v", impl, err))
		errs = append(errs, fmt.Errorf("%s: %w", impl, err))
	}
	if len(errs) == 0 {
		return Choice{}, ErrUnsupported
	}
	return Choice{}, fmt.Errorf("%w: %w", ErrUnsupported, errors.Join(errs...))
}
