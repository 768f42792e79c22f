package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/config"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/control"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/daemon"
)

func newRunCmd() *cobra.Command {
	var cfgPath, stateDir, modemPort, controlSocket string
	cmd := &cobra.Command{
		Use:   "run --config FILE [--state-dir DIR] [--modem-port PATH] [--control-socket PATH]",
		Short: "Run the daemon: register with every configured server, serve them over UDP and SMS, de-register on SIGTERM",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgPath == "" {
				return &usageError{errors.New("run: --config FILE is required")}
			}
			cfg, err := config.Load(cfgPath)
			var errs config.Errors
			if errors.As(err, &errs) {
				for _, e := range errs {
					fmt.Fprintln(cmd.ErrOrStderr(), e)
				}
				return &silentError{code: exitFail}
			}
			if err != nil {
				return err
			}
			level := new(slog.LevelVar)
			level.Set(cfg.Log.Level.Level())
			log := newLogger(cmd.ErrOrStderr(), cfg.Log, level)
			if !cmd.Flags().Changed("control-socket") {
				controlSocket = defaultControlSocket()
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			go reloadLogLevel(ctx, cfgPath, level, log.With("component", "run"))
			d, err := daemon.New(cfg, daemon.Options{
				StateDir: stateDir, ModemPort: modemPort, ControlSocket: controlSocket,
				Version: version, Logger: log,
			})
			if err != nil {
				return err
			}
			return d.Run(ctx)
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "configuration file (YAML)")
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "state directory, overriding the configuration's state_dir")
	cmd.Flags().StringVar(&modemPort, "modem-port", "", "modem AT port, overriding the configuration's modem.port")
	cmd.Flags().StringVar(&controlSocket, "control-socket", control.DefaultSocket,
		`control socket for "lwm2m-clientd status" ($RUNTIME_DIRECTORY/control.sock under systemd; "" for none)`)
	return cmd
}

// defaultControlSocket is in the RuntimeDirectory systemd made for the
// service, else control.DefaultSocket.
func defaultControlSocket() string {
	if dir := os.Getenv("RUNTIME_DIRECTORY"); dir != "" {
		return filepath.Join(filepath.SplitList(dir)[0], "control.sock")
	}
	return control.DefaultSocket
}

// reloadLogLevel re-reads log.level from the configuration file on SIGHUP;
// nothing else is reloaded (a changed server or modem needs a restart).
func reloadLogLevel(ctx context.Context, path string, level *slog.LevelVar, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			cfg, err := config.Load(path)
			if err != nil {
				log.Error("SIGHUP: configuration not re-read; log level unchanged", "config", path, "err", err)
				continue
			}
			if old, l := level.Level(), cfg.Log.Level.Level(); old != l {
				level.Set(l)
				log.Info("SIGHUP: log level changed", "from", old.String(), "to", l.String())
			} else {
				log.Info("SIGHUP: log level unchanged", "level", l.String())
			}
		}
	}
}

// newLogger builds the root logger from the log section of the config.
// Under journald ($JOURNAL_STREAM set) records carry no timestamp (the
// journal adds its own) and start with the syslog priority prefix
// journald maps to its levels (sd-daemon(3): "<3>" error … "<7>" debug).
func newLogger(w io.Writer, c config.Log, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if os.Getenv("JOURNAL_STREAM") != "" {
		w = journalWriter{w}
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
	}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// journalWriter prefixes each log record with its sd-daemon(3) priority.
// slog's handlers write one whole record per Write; without the time
// attribute the level comes first ("level=WARN …" or {"level":"WARN",…}).
type journalWriter struct{ w io.Writer }

func (j journalWriter) Write(p []byte) (int, error) {
	prio := "<6>" // info
	rest := bytes.TrimPrefix(bytes.TrimPrefix(p, []byte("level=")), []byte(`{"level":"`))
	switch {
	case bytes.HasPrefix(rest, []byte("DEBUG")):
		prio = "<7>"
	case bytes.HasPrefix(rest, []byte("WARN")):
		prio = "<4>"
	case bytes.HasPrefix(rest, []byte("ERROR")):
		prio = "<3>"
	}
	if _, err := j.w.Write(append([]byte(prio), p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}
