package apps

import "time"

// unixDate is a Unix time as an ISO date (UTC).
func unixDate(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.DateOnly) }
