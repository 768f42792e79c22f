package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	emumodem "github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/network"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/sim"
)

// bridgeSpec is one --bridge MSISDN=udp:HOST:PORT.
type bridgeSpec struct {
	number string
	addr   *net.UDPAddr
}

func parseBridge(s string) (bridgeSpec, error) {
	number, target, ok := strings.Cut(s, "=")
	hostport, udp := strings.CutPrefix(target, "udp:")
	if !ok || !udp {
		return bridgeSpec{}, fmt.Errorf("--bridge %q: want MSISDN=udp:HOST:PORT", s)
	}
	if _, err := atpdu.ParseAddress(number); err != nil || !strings.HasPrefix(number, "+") {
		return bridgeSpec{}, fmt.Errorf("--bridge %q: %q is not an international number", s, number)
	}
	addr, err := net.ResolveUDPAddr("udp", hostport)
	if err != nil {
		return bridgeSpec{}, fmt.Errorf("--bridge %q: %w", s, err)
	}
	return bridgeSpec{number: number, addr: addr}, nil
}

// loopbackAddr accepts only a loopback HOST:PORT: the control API has no
// authentication.
func loopbackAddr(s string) error {
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("--control %q: %w", s, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--control %q: only a loopback address is allowed (the API has no authentication)", s)
	}
	return nil
}

func newEmulatorCmd() *cobra.Command {
	var (
		link, number, control, logLevel string
		bridges                         []string
		simOpts                         simFlags
	)
	cmd := &cobra.Command{
		Use:   "emulator --link PATH --number MSISDN",
		Short: "Run an emulated modem on a pseudo-terminal and an emulated SMS network",
		Long: `Runs an emulated modem behind a pseudo-terminal linked at --link (open it as the
modem port, e.g. "lwm2m-clientd modem info --port PATH") and an emulated SMS network, until
interrupted. The optional loopback JSON control API:
  POST /sms        {"from":"+...","pdu":"HEX"} or {"from":...,"pid":n,"dcs":n,"udh":"HEX","ud":"HEX"}
  GET  /sms/sent   the SMS the modem submitted (to, pdu, time)
  POST /faults     {"loss":0.1,"duplication":0.05,"delay":"2s","jitter":"1s"}
  GET  /bridges    SMS and octets each --bridge carried, largest, drops
  POST /modem/unplug, /modem/replug, /modem/reboot   hang up the pty, make a new one
                   at the same link, restart the modem (RDY)
--bridge MSISDN=udp:HOST:PORT carries SMS to MSISDN as UDP datagrams to HOST:PORT and back.
--sim PROFILE puts an emulated UICC with the LwM2M application in the modem (e.g.
configs/emulator-sim.yaml); without it the modem answers +CSIM with +CME ERROR: 10.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if link == "" || number == "" {
				return &usageError{errors.New("emulator: --link and --number are required")}
			}
			if _, err := atpdu.ParseAddress(number); err != nil || !strings.HasPrefix(number, "+") {
				return &usageError{fmt.Errorf("emulator: --number %q is not an international number (+...)", number)}
			}
			var specs []bridgeSpec
			for _, b := range bridges {
				s, err := parseBridge(b)
				if err != nil {
					return &usageError{err}
				}
				specs = append(specs, s)
			}
			if control != "" {
				if err := loopbackAddr(control); err != nil {
					return &usageError{err}
				}
			}
			if err := simOpts.check(); err != nil {
				return &usageError{err}
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return &usageError{fmt.Errorf("emulator: --log-level: %w", err)}
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runEmulator(ctx, cmd, log, link, number, control, specs, simOpts)
		},
	}
	cmd.Flags().StringVar(&link, "link", "", "path of the symlink to the pty slave (required)")
	cmd.Flags().StringVar(&number, "number", "", "MSISDN of the emulated modem, +international (required)")
	cmd.Flags().StringVar(&control, "control", "", "loopback HOST:PORT of the JSON control API")
	cmd.Flags().StringArrayVar(&bridges, "bridge", nil, "MSISDN=udp:HOST:PORT: SMS to MSISDN travel as UDP (repeatable)")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	cmd.Flags().StringVar(&simOpts.profile, "sim", "", "profile (YAML) of an emulated UICC to insert")
	cmd.Flags().StringVar(&simOpts.counters, "sim-counters", "", "file persisting the UICC's secured-packet counters")
	cmd.Flags().StringVar(&simOpts.toolkit, "sim-toolkit", "host", "who runs the SIM toolkit: host (SEND SHORT MESSAGE via 91xx/FETCH) or modem")
	cmd.Flags().StringVar(&simOpts.download, "sim-download", "modem", "who gets class 2 / PID 7F SMS: modem (ENVELOPE to the SIM, silently) or host (+CMTI)")
	return cmd
}

// simFlags choose the emulated UICC and how the modem treats it.
type simFlags struct {
	profile, counters, toolkit, download string
}

func (f simFlags) check() error {
	if f.toolkit != "host" && f.toolkit != "modem" {
		return fmt.Errorf("emulator: --sim-toolkit %q: want host or modem", f.toolkit)
	}
	if f.download != "host" && f.download != "modem" {
		return fmt.Errorf("emulator: --sim-download %q: want host or modem", f.download)
	}
	if f.profile == "" && (f.counters != "" || f.toolkit == "modem") {
		return errors.New("emulator: --sim-counters and --sim-toolkit modem need --sim PROFILE")
	}
	return nil
}

func runEmulator(ctx context.Context, cmd *cobra.Command, log *slog.Logger, link, number, control string, bridges []bridgeSpec, sf simFlags) error {
	nw := network.New(network.Config{Log: log})
	defer nw.Close()
	cfg := emumodem.Config{Link: link, Number: number, Network: nw, Log: log}
	var (
		emMu sync.Mutex
		em   *emumodem.Modem // guarded by emMu; set once the modem exists, the SIM submits through it
		card *sim.Card
	)
	if sf.profile != "" {
		opts := sim.Options{CounterFile: sf.counters, Logger: log}
		if sf.toolkit == "modem" {
			opts.Submit = func(tpdu []byte) error {
				emMu.Lock()
				m := em
				emMu.Unlock()
				if m == nil {
					return errors.New("emulator: modem not ready")
				}
				return m.SubmitFromSIM(tpdu)
			}
		}
		var err error
		card, err = sim.Load(sf.profile, opts)
		if err != nil {
			return fmt.Errorf("emulator: %w", err)
		}
		cfg.SIM = card
	}
	m, err := emumodem.New(cfg)
	if err != nil {
		return err
	}
	emMu.Lock()
	em = m
	emMu.Unlock()
	defer m.Close()
	m.SetQuirks(func(q *emumodem.Quirks) { q.DownloadToSIM = sf.download == "modem" })
	nw.Attach(number, m)
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "emulated modem %s on %s, linked at %s\n", number, m.Path(), link)
	if card != nil {
		fmt.Fprintf(out, "emulated SIM ICCID %s IMSI %s with the LwM2M UICC application\n", card.ICCID(), card.IMSI())
	}
	for _, b := range bridges {
		local, err := nw.Bridge(b.number, b.addr, number)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "bridge %s <-> udp %s (from %s)\n", b.number, b.addr, local)
	}
	errc := make(chan error, 1)
	if control != "" {
		ln, err := net.Listen("tcp", control)
		if err != nil {
			return fmt.Errorf("emulator: control API: %w", err)
		}
		srv := &http.Server{Handler: controlMux(nw.Handler(number), em), ReadHeaderTimeout: 5 * time.Second}
		go func() { errc <- srv.Serve(ln) }()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
			<-errc
		}()
		fmt.Fprintf(out, "control API on http://%s\n", ln.Addr())
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "emulator stopped")
		return nil
	case err := <-errc:
		errc <- err // for the deferred shutdown
		return fmt.Errorf("emulator: control API: %w", err)
	}
}

// controlMux adds the modem's own faults to the network's control API.
func controlMux(network http.Handler, em *emumodem.Modem) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", network)
	mux.HandleFunc("POST /modem/{action}", func(w http.ResponseWriter, r *http.Request) {
		var err error
		switch r.PathValue("action") {
		case "unplug":
			em.Unplug()
		case "replug":
			err = em.Replug()
		case "reboot":
			em.Reboot()
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "{\"error\":%q}\n", err.Error())
			return
		}
		fmt.Fprintf(w, "{\"pty\":%q}\n", em.Path())
	})
	return mux
}
