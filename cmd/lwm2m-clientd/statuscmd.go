package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/control"
)

func newStatusCmd() *cobra.Command {
	var (
		socket string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the running daemon's registrations, modem and SMS counters",
		Long: "Asks the running daemon over its control socket and prints, per LwM2M server, the registration\n" +
			"state, location, last and next update, binding, SMS mode and DTLS-over-SMS session; the modem's\n" +
			"port, state, signal, operator and last SMS in/out; the SIM's LwM2M UICC application (secure\n" +
			"packet: ok, not answering, error; its last answer and last error); and the SMS counters.\n" +
			"--json prints the daemon's JSON document as it sent it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if socket == "" {
				return &usageError{fmt.Errorf("status: --socket must not be empty")}
			}
			raw, err := control.FetchRaw(cmd.Context(), socket)
			if err != nil {
				return fmt.Errorf("status: %w", err)
			}
			if asJSON {
				_, err := cmd.OutOrStdout().Write(raw)
				return err
			}
			st, err := control.Decode(raw)
			if err != nil {
				return fmt.Errorf("status: %w", err)
			}
			return printStatus(cmd.OutOrStdout(), st, time.Now())
		},
	}
	cmd.Flags().StringVar(&socket, "socket", control.DefaultSocket, "the daemon's control socket")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the daemon's JSON status")
	return cmd
}

// printStatus writes st for a person: a table of servers, then the modem,
// the SIM and the counters. now makes relative times ("5m ago") testable.
func printStatus(w io.Writer, st control.Status, now time.Time) error {
	p := &errWriter{w: w}
	p.printf("lwm2m-clientd %s, up %s\n\n", orDash(st.Version), span(time.Duration(st.Uptime)))

	tw := tabwriter.NewWriter(p, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tREGISTRATION\tLOCATION\tLAST UPDATE\tNEXT UPDATE\tBINDING\tSMS MODE\tDTLS/SMS\tLAST ERROR")
	if len(st.Servers) == 0 {
		fmt.Fprintln(tw, "(none)")
	}
	for _, s := range st.Servers {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ShortServerID, orDash(s.Registration), orDash(s.Location),
			relative(s.LastUpdate, now), relative(s.NextUpdate, now), orDash(s.Binding), orDash(s.SMSMode),
			orDash(s.DTLSSMSSession), orDash(s.LastError))
	}
	tw.Flush()
	p.printf("\n")

	tw = tabwriter.NewWriter(p, 0, 0, 2, ' ', 0)
	if m := st.Modem; m == nil {
		fmt.Fprintln(tw, "modem\tnone (UDP only)")
	} else {
		fmt.Fprintf(tw, "modem\t%s\n", orDash(m.Port))
		state := orDash(m.State)
		if !m.Since.IsZero() {
			state += " since " + stamp(m.Since) + " (" + relative(m.Since, now) + ")"
		}
		fmt.Fprintf(tw, "  state\t%s\n", state)
		if m.LastError != "" {
			fmt.Fprintf(tw, "  last error\t%s\n", m.LastError)
		}
		signal := "-"
		if m.SignalDBm != nil {
			signal = strconv.Itoa(*m.SignalDBm) + " dBm"
		}
		fmt.Fprintf(tw, "  signal\t%s\n", signal)
		fmt.Fprintf(tw, "  operator\t%s\n", orDash(m.Operator))
		fmt.Fprintf(tw, "  last SMS in\t%s\n", stampRelative(m.LastSMSIn, now))
		fmt.Fprintf(tw, "  last SMS out\t%s\n", stampRelative(m.LastSMSOut, now))
	}
	if c := st.SIM; c == nil {
		fmt.Fprintln(tw, "sim\tnone (no secure-packet server)")
	} else {
		fmt.Fprintf(tw, "sim\tLwM2M UICC application %s\n", orDash(c.AID))
		state := orDash(c.State)
		if !c.Since.IsZero() {
			state += " since " + stamp(c.Since) + " (" + relative(c.Since, now) + ")"
		}
		fmt.Fprintf(tw, "  state\t%s\n", state)
		fmt.Fprintf(tw, "  last answer\t%s\n", stampRelative(c.LastOK, now))
		fmt.Fprintf(tw, "  last error\t%s\n", orDash(c.LastError))
	}
	c := st.Counters
	fmt.Fprintln(tw, "SMS\tsince the daemon started")
	for _, row := range []struct {
		name string
		n    uint64
	}{
		{"received", c.SMSReceived},
		{"dropped: unknown sender", c.SMSDroppedSender},
		{"dropped: badly protected", c.SMSDroppedProtection},
		{"dropped: rate limit", c.SMSDroppedRateLimit},
		{"dropped: other", c.SMSDroppedOther},
		{"sent", c.SMSSent},
		{"send failures", c.SMSSendFailures},
		{"delivered", c.SMSDelivered},
		{"delivery failed", c.SMSDeliveryFailed},
		{"delivery pending", c.SMSDeliveryPending},
	} {
		fmt.Fprintf(tw, "  %s\t%d\n", row.name, row.n)
	}
	tw.Flush()
	return p.err
}

// errWriter keeps the first write error so the printing code stays linear.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(b []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(b)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, a ...any) { fmt.Fprintf(e, format, a...) }

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

// stamp is an absolute time in UTC, to the second.
func stamp(t control.Time) string { return t.Time().UTC().Format("2006-01-02 15:04:05Z") }

func stampRelative(t control.Time, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return stamp(t) + " (" + relative(t, now) + ")"
}

// relative is "5m ago" or "in 5m"; "-" for an unknown time.
func relative(t control.Time, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := t.Time().Sub(now).Round(time.Second)
	switch {
	case d > 0:
		return "in " + span(d)
	case d < 0:
		return span(-d) + " ago"
	}
	return "now"
}

// span is a short duration: 42s, 12m, 3h25m, 4d07h.
func span(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", d/time.Second)
	case d < time.Hour:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", d/time.Hour, d%time.Hour/time.Minute)
	}
	return fmt.Sprintf("%dd%02dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
}
