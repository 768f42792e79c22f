package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/modem"
)

// modemFlags are shared by the modem subcommands.
type modemFlags struct {
	port    string
	baud    int
	timeout time.Duration
	trace   bool
}

func (f *modemFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.port, "port", "", "AT port of the modem, e.g. /dev/ttyUSB2 (required)")
	cmd.Flags().IntVar(&f.baud, "baud", modem.DefaultBaud, "serial speed")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 30*time.Second, "give up when the modem has not answered by then")
	cmd.Flags().BoolVar(&f.trace, "trace", false, "log the AT dialogue to stderr")
}

// withModem opens the port, initialises the modem without touching SMS
// routing (the daemon may own it), runs fn and closes everything.
func (f *modemFlags) withModem(cmd *cobra.Command, fn func(ctx context.Context, m *modem.Modem) error) error {
	if f.port == "" {
		return &usageError{errors.New("modem: --port is required")}
	}
	if f.baud <= 0 {
		return &usageError{fmt.Errorf("modem: --baud %d is not a serial speed", f.baud)}
	}
	log := slog.New(slog.DiscardHandler)
	if f.trace {
		log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	m, err := modem.New(modem.Config{Port: f.port, Baud: f.baud, Delivery: modem.DeliveryNone, Trace: f.trace}, modem.WithLogger(log))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	defer func() {
		stop()
		<-done
	}()
	if err := m.WaitUp(ctx); err != nil {
		if h := m.Health(); h.LastError != nil {
			return fmt.Errorf("modem %s: %w", f.port, h.LastError)
		}
		return fmt.Errorf("modem %s: %w", f.port, err)
	}
	return fn(ctx, m)
}

func newModemCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "modem",
		Short: "Talk to the cellular modem's AT port",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return &usageError{errors.New("modem: a subcommand is required (info, at)")}
		},
	}
	cmd.AddCommand(newModemInfoCmd(), newModemATCmd())
	return cmd
}

func newModemInfoCmd() *cobra.Command {
	var f modemFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "info --port PATH",
		Short: "Print the modem's identity, SIM, signal and registration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.withModem(cmd, func(ctx context.Context, m *modem.Modem) error {
				in, err := m.Info(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					return enc.Encode(in)
				}
				return printInfo(cmd.OutOrStdout(), in)
			})
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printInfo(w io.Writer, in modem.Info) error {
	opt := func(p *int, unit string) string {
		if p == nil {
			return "unknown"
		}
		return strconv.Itoa(*p) + " " + unit
	}
	rsrq := "unknown"
	if in.RSRQDB != nil {
		rsrq = strconv.FormatFloat(*in.RSRQDB, 'f', 1, 64) + " dB"
	}
	reg := in.Registration
	loc := ""
	switch {
	case reg.TAC != 0:
		loc = fmt.Sprintf(" TAC %X cell %X", reg.TAC, reg.CellID)
	case reg.LAC != 0:
		loc = fmt.Sprintf(" LAC %X cell %X", reg.LAC, reg.CellID)
	}
	rows := [][2]string{
		{"manufacturer", in.Manufacturer}, {"model", in.Model}, {"revision", in.Revision},
		{"imei", in.IMEI}, {"imsi", in.IMSI}, {"iccid", in.ICCID}, {"own number", in.OwnNumber},
		{"signal", opt(in.SignalDBm, "dBm")}, {"rsrp", opt(in.RSRPDBm, "dBm")}, {"rsrq", rsrq},
		{"registration", reg.State + loc}, {"operator", in.Operator}, {"mcc/mnc", in.MCC + "/" + in.MNC},
		{"apn", strings.Join(in.APNs, ", ")}, {"ip address", strings.Join(in.IPAddresses, ", ")},
	}
	for _, r := range rows {
		if r[1] == "" || r[1] == "/" {
			r[1] = "unknown"
		}
		if _, err := fmt.Fprintf(w, "%-13s %s\n", r[0]+":", r[1]); err != nil {
			return err
		}
	}
	return nil
}

func newModemATCmd() *cobra.Command {
	var f modemFlags
	cmd := &cobra.Command{
		Use:   "at --port PATH CMD...",
		Short: "Send raw AT commands and print the replies",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			failed := false
			err := f.withModem(cmd, func(ctx context.Context, m *modem.Modem) error {
				out := cmd.OutOrStdout()
				for _, c := range args {
					lines, err := m.AT(ctx, c)
					for _, l := range lines {
						fmt.Fprintln(out, l)
					}
					if err != nil {
						fmt.Fprintf(cmd.ErrOrStderr(), "lwm2m-clientd: %v\n", err)
						failed = true
						if errors.Is(err, modem.ErrLinkDown) || ctx.Err() != nil {
							return &silentError{code: exitFail}
						}
						continue
					}
					fmt.Fprintln(out, "OK")
				}
				return nil
			})
			if err == nil && failed {
				return &silentError{code: exitFail}
			}
			return err
		},
	}
	f.register(cmd)
	return cmd
}
