package agent

import "runtime"

// osName is the operating system family reported at enrollment.
func osName() string { return runtime.GOOS }
