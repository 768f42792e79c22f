package objects

import (
	"fmt"
	"strings"
	"time"
)

// SecurityAccount is the content of one Security instance as the engine
// and the SMS binding need it. Secrets stay Secret values.
type SecurityAccount struct {
	SecurityInstance uint16
	URI              string // resource 0
	SecurityMode     int64  // resource 2
	PSKIdentity      []byte // resource 3
	ServerPublicKey  []byte // resource 4
	PSK              Secret // resource 5
	SMSSecurityMode  int64  // resource 6 (0: absent)
	SMSKeyParameters []byte // resource 7
	SMSSecretKey     Secret // resource 8
	SMSNumber        string // resource 9, without "+"
}

// ServerAccount is a DM server: its Security and Server instances joined
// on the Short Server ID.
type ServerAccount struct {
	SecurityAccount
	ShortServerID       uint16
	ServerInstance      uint16
	Lifetime            time.Duration // Server 1
	DefaultPmin         time.Duration // Server 2 (0 when absent)
	DefaultPmax         time.Duration // Server 3
	HasDefaultPmax      bool
	DisableTimeout      time.Duration // Server 5 (default 86400 s)
	NotificationStoring bool          // Server 6
	Binding             string        // Server 7
}

// BootstrapAccount is the bootstrap-server Security instance.
type BootstrapAccount struct {
	SecurityAccount
	HoldOff        time.Duration // resource 11
	AccountTimeout time.Duration // resource 12 (0: never)
}

func securityAccount(in *Instance) SecurityAccount {
	a := SecurityAccount{
		SecurityInstance: in.ID,
		URI:              in.Str(0, ""),
		SecurityMode:     in.Int(2, SecurityModeNoSec),
		PSKIdentity:      in.Bytes(3),
		ServerPublicKey:  in.Bytes(4),
		PSK:              NewSecret(in.Bytes(5)),
		SMSSecurityMode:  in.Int(6, 0),
		SMSKeyParameters: in.Bytes(7),
		SMSSecretKey:     NewSecret(in.Bytes(8)),
		SMSNumber:        strings.TrimPrefix(in.Str(9, ""), "+"),
	}
	return a
}

// Servers returns the DM server accounts in Short Server ID order. A
// Server instance without a Security instance (or the reverse) is left out
// and logged: such a pair cannot be used.
func (t *Tree) Servers() []ServerAccount {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []ServerAccount
	for _, srv := range sortedInstances(t.inst[ServerObjectID]) {
		ssid := srv.Int(0, -1)
		var sec *Instance
		for _, s := range sortedInstances(t.inst[SecurityObjectID]) {
			if !s.Bool(1, false) && s.Int(10, -2) == ssid {
				sec = s
				break
			}
		}
		if sec == nil {
			t.log.Warn("server account without security instance; skipped", "server_id", ssid)
			continue
		}
		a := ServerAccount{
			SecurityAccount:     securityAccount(sec),
			ShortServerID:       uint16(ssid),
			ServerInstance:      srv.ID,
			Lifetime:            time.Duration(srv.Int(1, 86400)) * time.Second,
			DefaultPmin:         time.Duration(srv.Int(2, 0)) * time.Second,
			DisableTimeout:      disableTimeout(srv),
			NotificationStoring: srv.Bool(6, true),
			Binding:             srv.Str(7, "U"),
		}
		if r, ok := srv.Resources[3]; ok {
			a.DefaultPmax, a.HasDefaultPmax = time.Duration(r.Value.Int())*time.Second, true
		}
		out = append(out, a)
	}
	return out
}

// BootstrapServer returns the bootstrap account, if any.
func (t *Tree) BootstrapServer() (BootstrapAccount, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range sortedInstances(t.inst[SecurityObjectID]) {
		if s.Bool(1, false) {
			return BootstrapAccount{
				SecurityAccount: securityAccount(s),
				HoldOff:         time.Duration(s.Int(11, 0)) * time.Second,
				AccountTimeout:  time.Duration(s.Int(12, 0)) * time.Second,
			}, true
		}
	}
	return BootstrapAccount{}, false
}

// BootstrapBegin opens a bootstrap session (LwM2M-TS 1.0 §5.2): the
// current state is kept aside, and what the bootstrap server writes or
// deletes is applied to the tree but not stored until BootstrapFinish. A
// session already open is kept (a retried Bootstrap-Request).
func (t *Tree) BootstrapBegin() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.beginBootstrapLocked()
}

// beginBootstrapLocked opens a session unless one is open. Every
// bootstrap Write and Delete calls it, so nothing a bootstrap server does
// reaches the store before Bootstrap-Finish even when the session was not
// opened explicitly.
func (t *Tree) beginBootstrapLocked() {
	if t.bs == nil {
		t.bs = t.snapshotLocked()
	}
}

func (t *Tree) snapshotLocked() map[uint16]map[uint16]*Instance {
	snap := map[uint16]map[uint16]*Instance{}
	for o, m := range t.inst {
		snap[o] = map[uint16]*Instance{}
		for id, in := range m {
			snap[o][id] = in.clone()
		}
	}
	return snap
}

// BootstrapFinish checks the configuration the bootstrap server left and
// commits it to the store (Bootstrap-Finish, §5.2.7.4). An inconsistent
// configuration answers 4.06 and the session stays open (the server may
// fix it); a store failure answers 5.00. Without an open session: 2.04 if
// consistent.
func (t *Tree) BootstrapFinish() Code {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.checkConsistencyLocked(); err != nil {
		t.log.Warn("bootstrap finish refused: inconsistent configuration", "err", err)
		return NotAcceptable
	}
	snap := t.bs
	t.bs = nil
	t.meta.Origin = OriginBootstrap
	if err := t.persistLocked(); err != nil {
		t.bs = snap
		return InternalServerError
	}
	t.log.Info("bootstrap finished: configuration committed", "servers", len(t.inst[ServerObjectID]))
	return Changed
}

// BootstrapAbort ends a bootstrap session without committing: the tree
// returns to the state of BootstrapBegin (a failed bootstrap leaves the old
// state untouched).
func (t *Tree) BootstrapAbort() {
	t.mu.Lock()
	if t.bs == nil {
		t.mu.Unlock()
		return
	}
	t.inst = t.bs
	t.bs = nil
	t.mu.Unlock()
	t.log.Warn("bootstrap aborted: previous configuration kept")
}

// InBootstrap reports whether a bootstrap session is open.
func (t *Tree) InBootstrap() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.bs != nil
}

// checkConsistencyLocked: every Security and Server instance passes its
// checks, Short Server IDs pair one to one, at most one bootstrap account,
// at least one DM server, and an S binding has an SMS number.
func (t *Tree) checkConsistencyLocked() error {
	secBySSID := map[int64]*Instance{}
	bootstraps := 0
	for _, s := range sortedInstances(t.inst[SecurityObjectID]) {
		if err := t.defs[SecurityObjectID].CheckInstance(s); err != nil {
			return err
		}
		if s.Bool(1, false) {
			bootstraps++
			continue
		}
		ssid := s.Int(10, -1)
		if _, dup := secBySSID[ssid]; dup {
			return fmt.Errorf("%w: two security instances for short server id %d", errInconsistent, ssid)
		}
		secBySSID[ssid] = s
	}
	if bootstraps > 1 {
		return fmt.Errorf("%w: %d bootstrap-server accounts", errInconsistent, bootstraps)
	}
	seen := map[int64]bool{}
	for _, srv := range sortedInstances(t.inst[ServerObjectID]) {
		for _, rid := range []uint16{0, 1, 6, 7} {
			if _, ok := srv.Resources[rid]; !ok {
				return fmt.Errorf("%w: server instance %d lacks mandatory resource %d", errInconsistent, srv.ID, rid)
			}
		}
		ssid := srv.Int(0, -1)
		if seen[ssid] {
			return fmt.Errorf("%w: two server instances for short server id %d", errInconsistent, ssid)
		}
		seen[ssid] = true
		sec, ok := secBySSID[ssid]
		if !ok {
			return fmt.Errorf("%w: server instance %d (short server id %d) has no security instance", errInconsistent, srv.ID, ssid)
		}
		if strings.Contains(srv.Str(7, ""), "S") && sec.Str(9, "") == "" {
			return fmt.Errorf("%w: server %d binding %s needs an sms number (security resource 9)", errInconsistent, ssid, srv.Str(7, ""))
		}
	}
	for ssid := range secBySSID {
		if !seen[ssid] {
			return fmt.Errorf("%w: security account for short server id %d has no server instance", errInconsistent, ssid)
		}
	}
	if len(seen) == 0 {
		return fmt.Errorf("%w: no lwm2m server account", errInconsistent)
	}
	return nil
}
