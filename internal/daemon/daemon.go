package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/config"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/lwm2m"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/objects"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/sdnotify"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/smsbind"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/store"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

// Options adjust a run beyond the configuration file.
type Options struct {
	// StateDir overrides the configuration's state_dir when non-empty.
	StateDir string
	// Logger is the root logger (required).
	Logger *slog.Logger
	// Engine tunes the LwM2M engine (tests shorten timers); Endpoint and
	// MSISDN are always taken from the configuration and the modem.
	Engine lwm2m.Config
	// ModemPort overrides the configuration's modem.port when non-empty
	// (run --modem-port).
	ModemPort string
	// ModemOptions are passed to the modem driver after the daemon's own
	// (tests shorten its backoffs).
	ModemOptions []modem.Option
	// ControlSocket is the path of the control socket `lwm2m-clientd
	// status` asks; empty: none.
	ControlSocket string
	// Version is reported by the control socket.
	Version string
	// SMSHandled, when set, is called after each SMS the modem handed over
	// has been through the SMS binding (tests and the demo wait on it).
	SMSHandled func()
	// SMSInitialRTO is the first DTLS-over-SMS retransmission timeout
	// (zero: the smsdtls default, 10 s); tests shorten it.
	SMSInitialRTO time.Duration
	// SMSAckTimeout and SMSQueueAwake override the CoAP ACK timeout and
	// the queue-mode awake time of registrations over SMS (zero: 60 s and
	// 90 s); tests shorten them.
	SMSAckTimeout, SMSQueueAwake time.Duration
}

// Daemon is one configured daemon.
type Daemon struct {
	cfg  *config.Config
	opts Options
	log  *slog.Logger
	st   *store.File
	tree *objects.Tree
	// engine is built by Run once the endpoint name is known (it may need
	// the modem's IMEI or ICCID); read by status and the change hook.
	engine atomic.Pointer[lwm2m.Engine]
	ran    atomic.Bool // Run was called
	ops    opsState    // status loop, systemd notification (ops.go)

	// The modem side, all nil for a UDP-only gateway. Built by New, driven
	// by Run; see sms.go.
	modem *modem.Modem
	app   *uicc.App        // nil unless a server uses secure-packet
	bind  *smsbind.Binding // nil when no server has an SMS number and mode
	// openAtStart lists the Short Server IDs whose binding contains S: their
	// SMS connection (the DTLS session in mode 1) opens at start-up.
	openAtStart []uint16
	// smsRegistered holds the Short Server IDs that register over SMS
	// (binding S or SQ at start-up); written by New only.
	smsRegistered map[uint16]bool
	// ports share the Conn of each server with binding US between
	// ServeConn and a registration fallen back to SMS; written by New only.
	ports   map[uint16]*smsPort
	leaseMu sync.Mutex           // guards leases
	leases  map[uint16]*smsLease // the registration's current lease per server
}

// New opens the state directory, builds the object tree (factory bootstrap
// from cfg, or the stored state) and the engine.
func New(cfg *config.Config, opts Options) (*Daemon, error) {
	if opts.Logger == nil {
		return nil, errors.New("daemon: logger is required")
	}
	log := opts.Logger.With("component", "daemon")
	dir := cfg.StateDir
	if opts.StateDir != "" {
		dir = opts.StateDir
	}
	if dir == "" {
		dir = config.DefaultStateDir
	}
	st, err := store.Open(dir, opts.Logger.With("component", "store"))
	if err != nil {
		return nil, fmt.Errorf("daemon: open state directory %s: %w", dir, err)
	}
	d := &Daemon{cfg: cfg, opts: opts, log: log, st: st, smsRegistered: map[uint16]bool{}, leases: map[uint16]*smsLease{},
		ports: map[uint16]*smsPort{}}
	d.ops.notify = sdnotify.New(sdnotify.WithLogger(opts.Logger))
	factory, err := Factory(cfg)
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	tree, err := objects.New(objects.Config{
		Store:  st,
		Logger: opts.Logger.With("component", "objects"),
		Options: objects.Options{Device: objects.DeviceInfo{
			Manufacturer: cfg.Device.Manufacturer, Model: cfg.Device.Model,
			Serial: cfg.Device.Serial, Firmware: cfg.Device.Firmware,
		}},
		Factory: factory,
		Hooks: objects.Hooks{
			// The engine acts on a successful Execute of /1/x/8 and
			// /1/x/4 itself once the 2.04 is sent; these hooks only make
			// the resources executable.
			RegistrationUpdateTrigger: func(uint16) {},
			Disable:                   func(uint16, time.Duration) {},
			// Reboot and FactoryReset stay nil (Execute answers 4.05):
			// rebooting the gateway is not this daemon's decision yet.
			OnChange: d.changed,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("daemon: object tree: %w", err)
	}
	d.tree = tree
	if err := d.newSMS(); err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	if cfg.Modem == nil {
		// Build the engine now: a UDP-only endpoint name has nothing to
		// wait for, and a bad one fails here rather than in Run.
		if _, err := d.newEngine(cfg.Endpoint, ""); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// newEngine builds the LwM2M engine for endpoint once (Run may call it
// after New did).
func (d *Daemon) newEngine(endpoint, msisdn string) (*lwm2m.Engine, error) {
	if e := d.engine.Load(); e != nil {
		return e, nil
	}
	ecfg := d.opts.Engine
	ecfg.Endpoint = endpoint
	ecfg.MSISDN = msisdn
	if d.bind != nil && len(d.smsRegistered)+len(d.ports) > 0 {
		ecfg.DialSMS = d.dialSMS
	}
	eng, err := lwm2m.New(ecfg, lwm2m.TreeObjects(d.tree), d.opts.Logger)
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	d.engine.Store(eng)
	return eng, nil
}

// changed forwards object changes to the engine (observations, Update).
func (d *Daemon) changed(ch []objects.Change) {
	eng := d.engine.Load()
	if eng == nil {
		return
	}
	paths := make([]lwm2m.Path, 0, len(ch))
	for _, c := range ch {
		if p, err := lwm2m.ParsePath(c.Path.String()); err == nil {
			paths = append(paths, p)
		}
	}
	eng.Changed(paths...)
}

// Engine is the LwM2M engine (for status); nil until Run knows the
// endpoint name.
func (d *Daemon) Engine() *lwm2m.Engine { return d.engine.Load() }

// Run serves until ctx ends, then de-registers and returns nil; an error
// means the daemon could not run at all. With a modem it drives the modem,
// the SMS binding and one engine connection per SMS server beside the
// engine (sms.go), and stops them after the De-register. Run may be called
// once.
func (d *Daemon) Run(ctx context.Context) error {
	if !d.ran.CompareAndSwap(false, true) {
		return errors.New("daemon: Run called twice")
	}
	d.log.Info("starting", "endpoint", d.cfg.Endpoint, "servers", len(d.cfg.Servers),
		"bootstrap", d.cfg.Bootstrap != nil, "modem", d.modem != nil, "state_dir", d.st.Dir(), "pid", os.Getpid())
	d.ops.started = time.Now()
	d.ops.notify.Status("starting")
	ctl, err := d.listenControl()
	if err != nil {
		return err
	}
	opsCtx, stopOps := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer func() {
		stopOps()
		wg.Wait()
	}()
	if ctl != nil {
		wg.Go(func() {
			if err := ctl.Serve(opsCtx); err != nil {
				d.log.Warn("control socket", "err", err)
			}
		})
	}
	// ready is called once the store is open (New) and the modem is
	// initialised (or at once without a modem): READY=1, then the status
	// loop and the watchdog.
	ready := func() {
		d.ops.notify.Ready()
		wg.Go(func() { d.runOps(opsCtx) })
	}
	stopping := func() { d.ops.notify.Stopping() }
	// STOPPING=1 as soon as shutdown starts (the De-register follows).
	defer context.AfterFunc(ctx, stopping)()
	if d.modem == nil {
		ready()
		if err := d.engine.Load().Run(ctx); err != nil {
			return fmt.Errorf("daemon: %w", err)
		}
		d.log.Info("stopped")
		return nil
	}
	return d.runWithModem(ctx, ready)
}

// Factory turns the configuration's accounts into the factory bootstrap of
// the object tree (lwm2m.md §2–3; config.Server documents each key).
func Factory(cfg *config.Config) (objects.Factory, error) {
	var f objects.Factory
	if b := cfg.Bootstrap; b != nil {
		f.Bootstrap = &objects.FactoryBootstrap{URI: b.URI, Security: security(b.Security), HoldOff: b.HoldOff.D()}
	}
	for _, s := range cfg.Servers {
		if s.ShortServerID < 1 || s.ShortServerID > 65534 {
			return f, fmt.Errorf("server %s: short server id %d out of range", s.URI, s.ShortServerID)
		}
		fs := objects.FactoryServer{
			ShortServerID:       uint16(s.ShortServerID),
			URI:                 s.URI,
			Security:            security(s.Security),
			Lifetime:            s.Lifetime.D(),
			Binding:             string(s.Binding),
			NotificationStoring: s.NotificationStoring == nil || *s.NotificationStoring,
			DefaultPmin:         s.DefaultPmin.D(),
			DefaultPmax:         s.DefaultPmax.D(),
		}
		if s.SMS != nil {
			fs.SMS = smsFactory(s)
		}
		f.Servers = append(f.Servers, fs)
	}
	return f, nil
}

func security(s config.Security) objects.FactorySecurity {
	if s.Mode == "psk" {
		return objects.FactorySecurity{Mode: objects.SecurityModePSK, PSKIdentity: s.PSKIdentity,
			PSK: objects.NewSecret(s.PSKKey.Bytes())}
	}
	return objects.FactorySecurity{Mode: objects.SecurityModeNoSec}
}

// smsFactory fills Security resources 6–9 (lwm2m.md §2.2–2.5): mode 1 keeps
// its PSK identity in 7 and the PSK in 8 (psk_source sms); mode 2 keeps
// KIc‖KID‖SPI‖TAR in 7 and the KIc key ‖ KID key in 8.
func smsFactory(s config.Server) *objects.FactorySMS {
	sms := s.SMS
	out := &objects.FactorySMS{Number: sms.Number, SecurityMode: int64(sms.SecurityMode.Resource6())}
	switch sms.SecurityMode {
	case "dtls":
		if sms.PSKSource != "udp" {
			out.KeyParameters = []byte(sms.PSKIdentity)
			out.SecretKey = objects.NewSecret(sms.PSKKey.Bytes())
		}
	case "secure-packet":
		var kp []byte
		kp = append(kp, sms.KIc...)
		kp = append(kp, sms.KID...)
		kp = append(kp, sms.SPI...)
		kp = append(kp, sms.TAR...)
		out.KeyParameters = kp
		key := append(append([]byte(nil), sms.KIcKey.Bytes()...), sms.KIDKey.Bytes()...)
		out.SecretKey = objects.NewSecret(key)
	}
	return out
}
