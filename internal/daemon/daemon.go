package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/config"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/lwm2m"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/objects"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/store"
)

// ErrModemNotSupported is returned for a configuration with a modem: only
// UDP-only gateways (modem: none) run so far.
var ErrModemNotSupported = errors.New("a modem is configured, but this build runs UDP-only gateways (modem: none) only")

// Options adjust a run beyond the configuration file.
type Options struct {
	// StateDir overrides the configuration's state_dir when non-empty.
	StateDir string
	// Logger is the root logger (required).
	Logger *slog.Logger
	// Engine tunes the LwM2M engine (tests shorten timers); Endpoint is
	// always taken from the configuration.
	Engine lwm2m.Config
}

// Daemon is one configured daemon.
type Daemon struct {
	cfg    *config.Config
	log    *slog.Logger
	st     *store.File
	tree   *objects.Tree
	engine *lwm2m.Engine
}

// New opens the state directory, builds the object tree (factory bootstrap
// from cfg, or the stored state) and the engine.
func New(cfg *config.Config, opts Options) (*Daemon, error) {
	if opts.Logger == nil {
		return nil, errors.New("daemon: logger is required")
	}
	if cfg.Modem != nil {
		return nil, fmt.Errorf("daemon: %w", ErrModemNotSupported)
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
	d := &Daemon{cfg: cfg, log: log, st: st}
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
	ecfg := opts.Engine
	ecfg.Endpoint = cfg.Endpoint
	eng, err := lwm2m.New(ecfg, lwm2m.TreeObjects(tree), opts.Logger)
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	d.engine = eng
	return d, nil
}

// changed forwards object changes to the engine (observations, Update).
func (d *Daemon) changed(ch []objects.Change) {
	if d.engine == nil {
		return
	}
	paths := make([]lwm2m.Path, 0, len(ch))
	for _, c := range ch {
		if p, err := lwm2m.ParsePath(c.Path.String()); err == nil {
			paths = append(paths, p)
		}
	}
	d.engine.Changed(paths...)
}

// Engine is the LwM2M engine (for status).
func (d *Daemon) Engine() *lwm2m.Engine { return d.engine }

// Run serves until ctx ends, then de-registers and returns nil; an error
// means the daemon could not run at all.
func (d *Daemon) Run(ctx context.Context) error {
	d.log.Info("starting", "endpoint", d.cfg.Endpoint, "servers", len(d.cfg.Servers),
		"bootstrap", d.cfg.Bootstrap != nil, "state_dir", d.st.Dir(), "pid", os.Getpid())
	err := d.engine.Run(ctx)
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	d.log.Info("stopped")
	return nil
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
