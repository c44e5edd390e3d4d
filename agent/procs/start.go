package procs

// sameStart compares the start time a kill names with the process's, both
// in milliseconds since the Unix epoch. They are derived from the same
// clock ticks, so they are equal for the same process; a process started
// later under the same id differs by at least one tick.
func sameStart(got, want int64) bool { return got == want }
