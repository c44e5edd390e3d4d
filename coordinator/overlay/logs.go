package overlay

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"
	zlog "github.com/rs/zerolog/log"
)

// Headscale logs through zerolog's process-global logger. routeLogs points
// that logger at a bridge into the most recently configured *slog.Logger, so
// nothing of Headscale's writes to the process's stderr on its own.
// Headscale's debug output is formatted only when the logger wants debug
// records; its trace output never is.
//
// zerolog's globals are written once per process, before the first
// Headscale exists: a later coordinator in the same process (tests,
// restarts) only swaps the target, an atomic pointer, while the previous
// one's goroutines may still be reading the globals. Which records are
// formatted is decided per record by the logger's sampler, which asks
// the current target, not by zerolog's global level.

var (
	logTarget     atomic.Pointer[slog.Logger]
	logGlobalOnce sync.Once
)

func routeLogs(l *slog.Logger) {
	logTarget.Store(l)
	logGlobalOnce.Do(func() {
		zerolog.SetGlobalLevel(zerolog.DebugLevel)
		zlog.Logger = zerolog.New(zerologBridge{}).Sample(targetSampler{}).With().Timestamp().Logger()
	})
}

// targetSampler keeps zerolog from formatting a record the current target
// would drop. zerolog asks it before building each record, and every
// logger Headscale derives from the global one carries it.
type targetSampler struct{}

func (targetSampler) Sample(level zerolog.Level) bool {
	lvl, ok := slogLevel(level)
	if !ok {
		return false
	}
	l := logTarget.Load()
	return l != nil && l.Enabled(context.Background(), lvl)
}

// slogLevel maps a zerolog level to slog's; trace, and disabled, map to
// nothing.
func slogLevel(level zerolog.Level) (slog.Level, bool) {
	switch level {
	case zerolog.TraceLevel, zerolog.Disabled:
		return 0, false
	case zerolog.DebugLevel:
		return slog.LevelDebug, true
	case zerolog.InfoLevel, zerolog.NoLevel:
		return slog.LevelInfo, true
	case zerolog.WarnLevel:
		return slog.LevelWarn, true
	default:
		return slog.LevelError, true
	}
}

type zerologBridge struct{}

func (zerologBridge) Write(p []byte) (int, error) {
	return zerologBridge{}.WriteLevel(zerolog.InfoLevel, p)
}

func (zerologBridge) WriteLevel(level zerolog.Level, p []byte) (int, error) {
	l := logTarget.Load()
	if l == nil {
		return len(p), nil
	}
	lvl, ok := slogLevel(level)
	if !ok {
		return len(p), nil
	}
	ctx := context.Background()
	if !l.Enabled(ctx, lvl) {
		return len(p), nil
	}
	var fields map[string]any
	if err := json.Unmarshal(p, &fields); err != nil {
		l.Log(ctx, lvl, strings.TrimSpace(string(p)), "component", "headscale")
		return len(p), nil
	}
	msg, _ := fields[zerolog.MessageFieldName].(string) // absent message is ""
	delete(fields, zerolog.MessageFieldName)
	delete(fields, zerolog.LevelFieldName)
	delete(fields, zerolog.TimestampFieldName)
	attrs := make([]any, 0, 2+2*len(fields))
	attrs = append(attrs, "component", "headscale")
	for k, v := range fields {
		attrs = append(attrs, k, v)
	}
	l.Log(ctx, lvl, msg, attrs...)
	return len(p), nil
}
