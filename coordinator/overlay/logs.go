package overlay

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/rs/zerolog"
	zlog "github.com/rs/zerolog/log"
)

// Headscale logs through zerolog's process-global logger. routeLogs points
// that logger at a bridge into the most recently configured *slog.Logger, so
// nothing of Headscale's writes to the process's stderr on its own.
// Headscale's debug output is formatted only when the logger wants debug
// records; its trace output never is.

var logTarget atomic.Pointer[slog.Logger]

func routeLogs(l *slog.Logger) {
	logTarget.Store(l)
	zlog.Logger = zerolog.New(zerologBridge{}).With().Timestamp().Logger()
	lvl := zerolog.InfoLevel
	if l.Enabled(context.Background(), slog.LevelDebug) {
		lvl = zerolog.DebugLevel
	}
	zerolog.SetGlobalLevel(lvl)
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
	var lvl slog.Level
	switch level {
	case zerolog.TraceLevel:
		return len(p), nil
	case zerolog.DebugLevel:
		lvl = slog.LevelDebug
	case zerolog.InfoLevel:
		lvl = slog.LevelInfo
	case zerolog.WarnLevel:
		lvl = slog.LevelWarn
	default:
		lvl = slog.LevelError
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
