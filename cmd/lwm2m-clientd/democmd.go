package main

// lwm2m-clientd demo: the main job with no hardware. The emulated modem on a
// real pty, the emulated SIM, the emulated SMS network and three emulated
// LwM2M servers (UDP, plus the SMS side in NoSec, DTLS and secure-packet
// mode) around the real daemon (internal/daemon, the code `run` uses).

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/config"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/daemon"
	emumodem "github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/network"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/server"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/sim"
)

// The demo's numbers and credentials (the same as configs/sms-*.yaml).
const (
	demoDevice   = "+33611111111"
	demoStranger = "+33699999999"
	demoEndpoint = "lwm2m-clientd-demo"
	demoIdentity = "lwm2m-clientd-test"
	demoPSK      = "000102030405060708090a0b0c0d0e0f"
)

var demoNumbers = map[server.SMSMode]string{
	server.SMSNoSec:        "+33600000001",
	server.SMSDTLS:         "+33600000002",
	server.SMSSecurePacket: "+33600000003",
}

func newDemoCmd() *cobra.Command {
	var simPath string
	var timeout time.Duration
	var verbose bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the SMS binding end to end against an emulated modem, SIM, network and server",
		Long: `demo runs the daemon's own code (as "run" does) against the emulated world:
the emulated modem on a pseudo-terminal, the emulated SIM, the SMS network and
three LwM2M servers, one per SMS security mode. It registers over UDP with
binding UQS, wakes the daemon by SMS in NoSec, DTLS and secure-packet mode (each
followed by the Update over UDP and a Read of /3/0), checks that an SMS from an
unknown number is ignored, restarts the daemon and triggers over DTLS again
without a handshake. One line per step, then a table per mode. Exit 0 only
when every step did what it should.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			logOut := io.Discard
			if verbose {
				logOut = cmd.ErrOrStderr()
			}
			if err := runDemo(ctx, cmd.OutOrStdout(), logOut, simPath); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "demo: %v\n", err)
				return &silentError{code: exitFail}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&simPath, "sim", "configs/emulator-sim.yaml", "the emulated SIM's profile")
	cmd.Flags().DurationVar(&timeout, "timeout", 55*time.Second, "give up after this long")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "write the daemon's and the emulators' logs to stderr")
	return cmd
}

// demoRow is one line of the final table.
type demoRow struct {
	mode     server.SMSMode
	trigger  server.SMSCounters // the server's counters for the trigger alone
	total    server.SMSCounters
	toUpdate time.Duration
}

type demo struct {
	out     io.Writer
	log     *slog.Logger
	net     *network.Network
	sms     *server.SMSServer
	udp     map[server.SMSMode]*server.Server
	events  map[server.SMSMode]<-chan server.Event
	inst    map[server.SMSMode]int // Server object instance of each account
	cfg     *config.Config
	state   string
	link    string
	step    int
	start   time.Time
	rows    []demoRow
	running *demoDaemon
	prof    sim.Profile
	closers []func() // newDemo's teardown, run in reverse by close
	// smsReg is the registry behind the SMS side (demoOptions.smsRegistry;
	// nil otherwise), smsRegEvents its events.
	smsReg       *server.Server
	smsRegEvents <-chan server.Event
}

type demoDaemon struct {
	d    *daemon.Daemon
	stop context.CancelFunc
	done chan error
}

func (m *demo) progress(format string, args ...any) {
	m.step++
	fmt.Fprintf(m.out, "[%5.2fs] %2d. %s\n", time.Since(m.start).Seconds(), m.step, fmt.Sprintf(format, args...))
}

func runDemo(ctx context.Context, out, logOut io.Writer, simPath string) (err error) {
	m, err := newDemo(out, logOut, demoOptions{simPath: simPath})
	if err != nil {
		return err
	}
	defer m.close()
	prof := m.prof
	defer func() {
		if m.running != nil {
			m.running.stop()
			<-m.running.done
		}
	}()
	fmt.Fprintf(out, "lwm2m-clientd demo: emulated modem %s on %s, SIM %s, servers %s (NoSec) %s (DTLS) %s (secure packet)\n",
		demoDevice, m.link, prof.ICCID, demoNumbers[server.SMSNoSec], demoNumbers[server.SMSDTLS], demoNumbers[server.SMSSecurePacket])

	// 1. Registration over UDP with binding UQS, and the DTLS session a
	// binding with S opens at start-up.
	if err := m.startDaemon(ctx); err != nil {
		return err
	}
	if err := m.registered(ctx, "UDP registration"); err != nil {
		return err
	}
	if err := m.waitDTLS(ctx); err != nil {
		return err
	}
	hs := m.sms.Stats()[server.SMSDTLS]
	m.progress("DTLS session over SMS opened at start-up (binding S): full handshake in %d SMS (%d to the server, %d from it), every SMS ≤ %d octets",
		hs.HandshakeIn+hs.HandshakeOut, hs.HandshakeIn, hs.HandshakeOut, atpdu.MaxUDOctets)
	if hs.Handshakes != 1 || hs.HandshakeIn+hs.HandshakeOut > 6 {
		return fmt.Errorf("DTLS handshake: %d handshakes, %d SMS (want 1 and at most 6)", hs.Handshakes, hs.HandshakeIn+hs.HandshakeOut)
	}

	// 2–4. The trigger in each mode.
	for _, mode := range server.SMSModes {
		row, err := m.trigger(ctx, mode)
		if err != nil {
			return err
		}
		m.rows = append(m.rows, row)
	}

	// 5. A spoofed SMS.
	if err := m.spoofed(ctx); err != nil {
		return err
	}

	// 6. A restart and a DTLS trigger without a handshake.
	if err := m.stopDaemon(ctx); err != nil {
		return err
	}
	m.progress("daemon stopped: de-registered from the 3 servers")
	if err := m.startDaemon(ctx); err != nil {
		return err
	}
	if err := m.registered(ctx, "daemon restarted: registered again"); err != nil {
		return err
	}
	before := m.sms.Stats()[server.SMSDTLS]
	row, err := m.trigger(ctx, server.SMSDTLS)
	if err != nil {
		return err
	}
	after := m.sms.Stats()[server.SMSDTLS]
	if after.Handshakes != before.Handshakes || after.HandshakeIn != before.HandshakeIn || after.HandshakeOut != before.HandshakeOut {
		return fmt.Errorf("the DTLS trigger after the restart cost a handshake")
	}
	m.progress("no DTLS handshake after the restart: the session was restored from the state directory")
	row.mode = -1
	m.rows = append(m.rows, row)
	if err := m.stopDaemon(ctx); err != nil {
		return err
	}
	m.progress("daemon stopped")
	if err := m.sizes(); err != nil {
		return err
	}
	m.table()
	fmt.Fprintf(out, "demo passed in %.1fs\n", time.Since(m.start).Seconds())
	return nil
}

// demoOptions vary the emulated world (the SMS budget test in
// budget_test.go builds it without HelloVerifyRequest too).
type demoOptions struct {
	simPath         string // the emulated SIM's profile
	skipHelloVerify bool   // the DTLS server skips HelloVerifyRequest
	// smsRegistry starts one more server, smsReg, whose registry the SMS
	// side serves: clients with binding S register there over SMS.
	smsRegistry bool
}

// newDemo builds the emulated world: a temporary state directory, the
// emulated SIM, network and modem on a pty, the SMS side of the servers and
// one UDP server per mode, and the daemon's configuration. No daemon runs
// yet; close tears the world down.
func newDemo(out, logOut io.Writer, opts demoOptions) (m *demo, err error) {
	m = &demo{out: out, start: time.Now(), udp: map[server.SMSMode]*server.Server{},
		events: map[server.SMSMode]<-chan server.Event{}, inst: map[server.SMSMode]int{}}
	defer func() {
		if err != nil {
			m.close()
		}
	}()
	m.log = slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
	dir, err := os.MkdirTemp("", "lwm2m-clientd-demo-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	m.closers = append(m.closers, func() { os.RemoveAll(dir) })
	m.state = filepath.Join(dir, "state")
	m.link = filepath.Join(dir, "ttyEMU")

	// The emulated world.
	prof, err := sim.LoadProfile(opts.simPath)
	if err != nil {
		return nil, fmt.Errorf("SIM profile: %w (run from the source tree or pass --sim)", err)
	}
	m.prof = prof
	card, err := sim.New(prof, sim.Options{Logger: m.log.With("side", "sim")})
	if err != nil {
		return nil, fmt.Errorf("emulated SIM: %w", err)
	}
	m.net = network.New(network.Config{Log: m.log.With("side", "network")})
	m.closers = append(m.closers, func() { m.net.Close() })
	em, err := emumodem.New(emumodem.Config{Link: m.link, Number: demoDevice, SIM: card, Network: m.net, Log: m.log.With("side", "emu-modem")})
	if err != nil {
		return nil, fmt.Errorf("emulated modem: %w", err)
	}
	m.closers = append(m.closers, func() { em.Close() })
	m.net.Attach(demoDevice, em)
	spc, err := server.SecurePacketFromProfile(prof)
	if err != nil {
		return nil, err
	}
	psk, _ := hex.DecodeString(demoPSK)
	if opts.smsRegistry {
		if m.smsReg, err = server.Start(server.Config{Log: m.log.With("side", "server-sms-registry")}); err != nil {
			return nil, err
		}
		m.closers = append(m.closers, func() { m.smsReg.Close() })
		m.smsRegEvents = m.smsReg.Subscribe()
	}
	m.sms, err = server.StartSMS(server.SMSConfig{Network: m.net, Numbers: demoNumbers, SkipHelloVerify: opts.skipHelloVerify,
		PSKIdentity: []byte(demoIdentity), PSK: psk, SecurePacket: &spc, Server: m.smsReg, Log: m.log.With("side", "server-sms")})
	if err != nil {
		return nil, err
	}
	m.closers = append(m.closers, func() { m.sms.Close() })
	for _, mode := range server.SMSModes {
		s, err := server.Start(server.Config{Log: m.log.With("side", "server-udp", "mode", mode.String())})
		if err != nil {
			return nil, err
		}
		m.closers = append(m.closers, func() { s.Close() })
		m.udp[mode] = s
		m.events[mode] = s.Subscribe()
	}
	m.cfg, err = config.Parse("demo.yaml", []byte(m.configYAML(prof)))
	if err != nil {
		return nil, fmt.Errorf("demo configuration: %w", err)
	}
	return m, nil
}

// close stops what newDemo started, in reverse order. Idempotent.
func (m *demo) close() {
	for i := len(m.closers) - 1; i >= 0; i-- {
		m.closers[i]()
	}
	m.closers = nil
}

// configYAML is the daemon's configuration: one account per SMS mode, each
// on its own UDP server, binding UQS.
func (m *demo) configYAML(prof sim.Profile) string {
	var b strings.Builder
	fmt.Fprintf(&b, `endpoint: %s
state_dir: %s
log: {level: info, format: text}
modem:
  port: %s
  sms_delivery: auto
  storage: SM
  own_number: "%s"
  country_code: "33"
uicc:
  poll_interval: 1s
servers:
`, demoEndpoint, m.state, m.link, demoDevice)
	for i, mode := range server.SMSModes {
		fmt.Fprintf(&b, `  - short_server_id: %d
    uri: %s
    security: {mode: nosec}
    lifetime: 300s
    binding: UQS
    sms:
      number: "%s"
`, i+1, m.udp[mode].URI(), demoNumbers[mode])
		switch mode {
		case server.SMSNoSec:
			b.WriteString("      security_mode: nosec\n")
		case server.SMSDTLS:
			fmt.Fprintf(&b, "      security_mode: dtls\n      psk_source: sms\n      psk_identity: \"%s\"\n      psk_key: \"%s\"\n", demoIdentity, demoPSK)
		case server.SMSSecurePacket:
			fmt.Fprintf(&b, "      security_mode: secure-packet\n      kic: \"%X\"\n      kid: \"%X\"\n      spi: \"%X\"\n      tar: \"%X\"\n      kic_key: \"%X\"\n      kid_key: \"%X\"\n",
				[]byte(prof.KIc), []byte(prof.KID), []byte(prof.SPI), []byte(prof.TAR), []byte(prof.KIcKey), []byte(prof.KIDKey))
		}
	}
	b.WriteString("device: {manufacturer: lwm2m-clientd, model: demo, serial: \"0001\", firmware: demo}\n")
	return b.String()
}

func (m *demo) startDaemon(ctx context.Context) error {
	d, err := daemon.New(m.cfg, daemon.Options{Logger: m.log.With("side", "daemon"), ModemPort: m.link})
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	rctx, stop := context.WithCancel(ctx)
	r := &demoDaemon{d: d, stop: stop, done: make(chan error, 1)}
	go func() { r.done <- d.Run(rctx) }()
	m.running = r
	return nil
}

func (m *demo) stopDaemon(ctx context.Context) error {
	r := m.running
	m.running = nil
	r.stop()
	select {
	case err := <-r.done:
		if err != nil {
			return fmt.Errorf("daemon: %w", err)
		}
	case <-ctx.Done():
		return fmt.Errorf("daemon did not stop: %w", ctx.Err())
	}
	for _, mode := range server.SMSModes {
		if _, err := m.next(ctx, mode, server.Deregistered); err != nil {
			return err
		}
	}
	return nil
}

// next waits for the next event of kind from mode's UDP server.
func (m *demo) next(ctx context.Context, mode server.SMSMode, kind server.EventKind) (server.Event, error) {
	for {
		select {
		case ev := <-m.events[mode]:
			if ev.Kind == kind {
				return ev, nil
			}
		case <-ctx.Done():
			return server.Event{}, fmt.Errorf("no %s from the daemon at the %s server: %w", kind, mode, ctx.Err())
		}
	}
}

// registered waits for the Register at every server with binding UQS and
// finds the Server object instance of each account.
func (m *demo) registered(ctx context.Context, what string) error {
	t0 := time.Now()
	for _, mode := range server.SMSModes {
		ev, err := m.next(ctx, mode, server.Registered)
		if err != nil {
			return err
		}
		if ev.Query["b"] != "UQS" {
			return fmt.Errorf("%s server: registered with binding %q, want UQS", mode, ev.Query["b"])
		}
		c := m.udp[mode].Client(demoEndpoint)
		if c == nil {
			return fmt.Errorf("%s server: no registration for %s", mode, demoEndpoint)
		}
		if err := m.findInstance(ctx, mode, c); err != nil {
			return err
		}
	}
	m.progress("%s: %s registered at the 3 servers over UDP with binding UQS (%s)", what, demoEndpoint, time.Since(t0).Round(time.Millisecond))
	return nil
}

// findInstance reads /1/i/0 (Short Server ID) until it finds the account
// of mode (short_server_id = index in SMSModes + 1).
func (m *demo) findInstance(ctx context.Context, mode server.SMSMode, c *server.Client) error {
	want := 0
	for i, x := range server.SMSModes {
		if x == mode {
			want = i + 1
		}
	}
	for i := range 8 {
		r, err := c.Read(ctx, fmt.Sprintf("/1/%d/0", i), 0) // text/plain
		if err != nil {
			return fmt.Errorf("read /1/%d/0: %w", i, err)
		}
		if n, err := strconv.Atoi(string(r.Payload)); err == nil && n == want {
			m.inst[mode] = i
			return nil
		}
	}
	return fmt.Errorf("%s server: no Server object instance with Short Server ID %d", mode, want)
}

func (m *demo) waitDTLS(ctx context.Context) error {
	for !m.sms.DTLSEstablished(demoDevice) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("no DTLS session over SMS: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// trigger sends Execute /1/x/8 over SMS in mode, waits for the Update over
// UDP and reads /3/0 over UDP.
func (m *demo) trigger(ctx context.Context, mode server.SMSMode) (demoRow, error) {
	before := m.sms.Stats()[mode]
	path := fmt.Sprintf("/1/%d/8", m.inst[mode])
	t0 := time.Now()
	r, err := m.sms.SMS(mode, demoDevice).Execute(ctx, path, "")
	if err != nil {
		return demoRow{}, fmt.Errorf("%s trigger: %w", mode, err)
	}
	if r.Code.String() != "Changed" {
		return demoRow{}, fmt.Errorf("%s trigger: answered %v, want 2.04 Changed", mode, r.Code)
	}
	if _, err := m.next(ctx, mode, server.Updated); err != nil {
		return demoRow{}, err
	}
	toUpdate := time.Since(t0)
	after := m.sms.Stats()[mode]
	d := server.SMSCounters{In: after.In - before.In, Out: after.Out - before.Out,
		BytesIn: after.BytesIn - before.BytesIn, BytesOut: after.BytesOut - before.BytesOut}
	if d.In != 1 || d.Out != 1 {
		return demoRow{}, fmt.Errorf("%s trigger cost %d SMS to the device and %d back, want 1 and 1", mode, d.Out, d.In)
	}
	rd, err := m.udp[mode].Client(demoEndpoint).Read(ctx, "/3/0", -1)
	if err != nil || rd.Code.String() != "Content" {
		return demoRow{}, fmt.Errorf("%s server: Read /3/0: %v %w", mode, rd.Code, err)
	}
	how := ""
	if mode == server.SMSSecurePacket {
		how = " (the modem gave the SMS to the SIM; the daemon fetched the request at its 1 s GET DATA poll)"
	}
	m.progress("%-13s SMS trigger %s → 2.04 over SMS (1 SMS each way: %d octets in, %d back) → Update over UDP after %s → Read /3/0 2.05 (%d octets)%s",
		mode, path, d.BytesOut, d.BytesIn, toUpdate.Round(time.Millisecond), len(rd.Payload), how)
	return demoRow{mode: mode, trigger: d, total: after, toUpdate: toUpdate}, nil
}

// spoofed sends a NoSec trigger from an unknown number: the daemon must
// drop it (sender filter), send nothing and not update.
func (m *demo) spoofed(ctx context.Context) error {
	st0, ok := m.running.d.SMSStats()
	if !ok {
		return errors.New("the daemon has no SMS binding")
	}
	sent0 := m.deviceSent()
	path := fmt.Sprintf("/1/%d/8", m.inst[server.SMSNoSec])
	// A well-formed CON POST trigger, as the NoSec server would send it.
	msg := []byte{0x42, 0x02, 0x00, 0x01, 0xAB, 0xCD, 0xB1, '1', 0x01, byte('0' + m.inst[server.SMSNoSec]), 0x01, '8'}
	if err := m.net.SendFrom(demoStranger, demoDevice, atpdu.Deliver{DCS: 0x04, UD: msg}); err != nil {
		return fmt.Errorf("spoofed SMS: %w", err)
	}
	for {
		st, _ := m.running.d.SMSStats()
		if st.Total.DroppedSender > st0.Total.DroppedSender {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the spoofed SMS was not counted as dropped: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	// The trigger must cause an Update within a second (issue 8): a second
	// without one, and without any SMS, shows it was ignored.
	select {
	case ev := <-m.events[server.SMSNoSec]:
		return fmt.Errorf("after the spoofed SMS the daemon sent %s", ev.Kind)
	case <-time.After(time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	if n := m.deviceSent() - sent0; n != 0 {
		return fmt.Errorf("the daemon sent %d SMS after the spoofed one", n)
	}
	m.progress("spoofed trigger %s from %s: ignored (dropped by the sender filter, no SMS sent, no Update)", path, demoStranger)
	return nil
}

// deviceSent counts the SMS the device submitted.
func (m *demo) deviceSent() int {
	n := 0
	for _, s := range m.net.Sent() {
		if s.From == demoDevice {
			n++
		}
	}
	return n
}

func (m *demo) table() {
	fmt.Fprintln(m.out)
	tw := tabwriter.NewWriter(m.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\ttrigger SMS in\ttrigger SMS out\ttrigger bytes in/out\ttime to Update\tall SMS in\tall SMS out\tall bytes in/out\tlargest SMS\t")
	for _, r := range m.rows {
		name := r.mode.String()
		if r.mode == -1 {
			name = "dtls (restart)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d/%d\t%s\t%d\t%d\t%d/%d\t%d\t\n", name, r.trigger.Out, r.trigger.In,
			r.trigger.BytesOut, r.trigger.BytesIn, r.toUpdate.Round(time.Millisecond), r.total.Out, r.total.In, r.total.BytesOut, r.total.BytesIn, r.total.Largest)
	}
	_ = tw.Flush()
	fmt.Fprintln(m.out, "(SMS in = received by the device, out = sent by it; \"all\" includes the DTLS handshake)")
}

// sizes checks that no SMS either way carried more than 140 octets of user
// data (TS 23.040 §9.2.3.24).
func (m *demo) sizes() error {
	largest := 0
	for _, s := range m.net.Sent() {
		sub, err := atpdu.DecodeSubmit(s.PDU)
		if err != nil {
			return fmt.Errorf("an SMS-SUBMIT of the device does not decode: %w", err)
		}
		largest = max(largest, len(sub.UD)+sub.UDH.Len())
	}
	for _, c := range m.sms.Stats() {
		largest = max(largest, c.Largest)
	}
	if largest > atpdu.MaxUDOctets {
		return fmt.Errorf("an SMS carried %d octets of user data, over %d", largest, atpdu.MaxUDOctets)
	}
	m.progress("every SMS either way fit one SMS: the largest carried %d octets of user data (limit %d)", largest, atpdu.MaxUDOctets)
	return nil
}
