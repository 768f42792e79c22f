package smsdtls

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// pionLoggerFactory routes pion/dtls logs to the component's slog logger.
// pion's trace level (per-record chatter, session IDs) is dropped; its debug
// lines ("decrypt failed", "discarded duplicated packet") are kept at debug.
// pion logs no key material unless a KeyLogWriter is set, which this package
// never does.
type pionLoggerFactory struct {
	log *slog.Logger // non-nil
}

func (f pionLoggerFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{log: f.log.With("pion_scope", scope)}
}

type pionLogger struct {
	log *slog.Logger // non-nil
}

var _ logging.LeveledLogger = pionLogger{}

func (l pionLogger) emit(level slog.Level, msg string) {
	l.log.Log(context.Background(), level, "pion: "+msg)
}

func (pionLogger) Trace(string)          {}
func (pionLogger) Tracef(string, ...any) {}
func (l pionLogger) Debug(msg string)    { l.emit(slog.LevelDebug, msg) }
func (l pionLogger) Debugf(format string, args ...any) {
	l.emit(slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (l pionLogger) Info(msg string) { l.emit(slog.LevelInfo, msg) }
func (l pionLogger) Infof(format string, args ...any) {
	l.emit(slog.LevelInfo, fmt.Sprintf(format, args...))
}
func (l pionLogger) Warn(msg string) { l.emit(slog.LevelWarn, msg) }
func (l pionLogger) Warnf(format string, args ...any) {
	l.emit(slog.LevelWarn, fmt.Sprintf(format, args...))
}
func (l pionLogger) Error(msg string) { l.emit(slog.LevelError, msg) }
func (l pionLogger) Errorf(format string, args ...any) {
	l.emit(slog.LevelError, fmt.Sprintf(format, args...))
}
