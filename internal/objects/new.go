package objects

import (
	"fmt"
	"io"
	"log/slog"
	"time"
)

// New builds the tree with the standard objects 0–4 and loads its state:
//
//   - nothing stored: the factory bootstrap (cfg.Factory) is applied and
//     stored with origin "factory";
//   - stored with origin "factory" and the same factory input: the stored
//     state is used (values servers wrote, e.g. a lifetime, are kept);
//   - stored with origin "factory" but the configuration's servers
//     changed: the accounts are rebuilt from the configuration (logged at
//     warn: what servers wrote into them is dropped);
//   - stored with origin "bootstrap": the stored state is the truth; the
//     configuration's servers are ignored (logged when they differ) until
//     the state is reset with ResetState.
//
// A stored state that cannot be read is an error: the daemon does not
// start on a silent reset.
func New(cfg Config) (*Tree, error) {
	t := &Tree{
		hooks: cfg.Hooks,
		log:   cfg.Logger,
		st:    cfg.Store,
		now:   cfg.Now,
		opts:  cfg.Options,
		modem: cfg.Modem,
		inst:  map[uint16]map[uint16]*Instance{},
		attrs: map[uint16]map[Path]Attributes{},
	}
	if t.log == nil {
		t.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if t.now == nil {
		t.now = time.Now
	}
	if len(t.opts.SMSKeyParamLengths) == 0 {
		t.opts.SMSKeyParamLengths = DefaultSMSKeyParamLengths
	}
	if t.opts.SupportedBindings == "" {
		t.opts.SupportedBindings = DefaultSupportedBindings
	}
	t.defs = map[uint16]*ObjectDef{}
	for _, d := range []*ObjectDef{
		securityDef(t.opts.SMSKeyParamLengths), serverDef(t), accessControlDef(), deviceDef(t),
	} {
		t.defs[d.ID] = d
	}
	if t.modem != nil {
		t.defs[ConnectivityObjectID] = connectivityDef(t)
	}

	stored, meta, err := t.loadState()
	if err != nil {
		return nil, err
	}
	fp := cfg.Factory.fingerprint()
	switch {
	case stored == nil:
		t.log.Info("no stored object state: factory bootstrap from configuration", "servers", len(cfg.Factory.Servers))
	case meta.Origin == OriginBootstrap:
		if meta.Fingerprint != fp {
			t.log.Info("configuration servers differ from stored state; a bootstrap server wrote the stored accounts, so they win (reset state to use the configuration)")
		}
	case meta.Fingerprint != fp:
		t.log.Warn("configuration servers changed since the factory bootstrap: rebuilding accounts from configuration")
		stored = nil
	}
	if stored == nil {
		built, err := cfg.Factory.build()
		if err != nil {
			return nil, err
		}
		for o, m := range built {
			for _, in := range m {
				for _, rid := range in.resourceIDs() {
					rd, ok := t.defs[o].Resource(rid)
					if !ok {
						return nil, fmt.Errorf("objects: factory bootstrap: /%d/%d/%d undefined", o, in.ID, rid)
					}
					r, err := prepareResource(rd, in.Resources[rid])
					if err != nil {
						return nil, fmt.Errorf("objects: factory bootstrap: /%d/%d: %w", o, in.ID, err)
					}
					in.Set(r)
				}
			}
		}
		for _, o := range []uint16{SecurityObjectID, ServerObjectID} {
			for _, in := range built[o] {
				if t.defs[o].CheckInstance == nil {
					continue
				}
				if err := t.defs[o].CheckInstance(in); err != nil {
					return nil, fmt.Errorf("objects: factory bootstrap: %w", err)
				}
			}
		}
		stored = built
		t.meta = stateMeta{Origin: OriginFactory, Fingerprint: fp}
		if len(cfg.Factory.Servers) > 0 {
			probe := &Tree{defs: t.defs, inst: built}
			if err := probe.checkConsistencyLocked(); err != nil {
				return nil, fmt.Errorf("objects: factory bootstrap: %w", err)
			}
		}
	} else {
		t.meta = *meta
	}
	for o, m := range stored {
		t.inst[o] = m
	}
	if len(t.inst[DeviceObjectID]) == 0 {
		t.inst[DeviceObjectID] = map[uint16]*Instance{0: {ID: 0, Resources: map[uint16]Resource{}}}
	}
	if t.modem != nil {
		t.inst[ConnectivityObjectID] = map[uint16]*Instance{0: {ID: 0, Resources: map[uint16]Resource{}}}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.persistLocked(); err != nil {
		return nil, fmt.Errorf("objects: store initial state: %w", err)
	}
	return t, nil
}
