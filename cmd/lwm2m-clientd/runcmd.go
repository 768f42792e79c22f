package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/config"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/daemon"
)

func newRunCmd() *cobra.Command {
	var cfgPath, stateDir string
	cmd := &cobra.Command{
		Use:   "run --config FILE [--state-dir DIR]",
		Short: "Run the daemon: register with every configured server, serve them, de-register on SIGTERM",
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
			log := newLogger(cmd.ErrOrStderr(), cfg.Log)
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			d, err := daemon.New(cfg, daemon.Options{StateDir: stateDir, Logger: log})
			if err != nil {
				return err
			}
			return d.Run(ctx)
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "configuration file (YAML)")
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "state directory, overriding the configuration's state_dir")
	return cmd
}

// newLogger builds the root logger from the log section of the config.
func newLogger(w io.Writer, c config.Log) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.Level.Level()}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
