package objects

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Factory is the factory bootstrap: the server accounts of the daemon's
// configuration, as plain values (objects does not import config; the
// daemon copies them over). It becomes Security, Server and, with more than
// one server, Access Control instances at first start.
type Factory struct {
	Bootstrap *FactoryBootstrap
	Servers   []FactoryServer
}

// FactorySecurity is the UDP security of an account (Security 2, 3, 5).
type FactorySecurity struct {
	Mode        int64 // SecurityModePSK or SecurityModeNoSec
	PSKIdentity string
	PSK         Secret
}

// FactoryBootstrap is the bootstrap-server account (a Security instance
// with resource 1 = true).
type FactoryBootstrap struct {
	URI      string
	Security FactorySecurity
	HoldOff  time.Duration // Security resource 11
}

// FactoryServer is one DM server account.
type FactoryServer struct {
	ShortServerID       uint16
	URI                 string
	Security            FactorySecurity
	Lifetime            time.Duration
	Binding             string
	NotificationStoring bool
	DefaultPmin         time.Duration // 0: resource absent
	DefaultPmax         time.Duration // 0: resource absent
	SMS                 *FactorySMS
}

// FactorySMS is the SMS side of an account (Security 6–9).
type FactorySMS struct {
	Number       string // resource 9 (a leading "+" is dropped)
	SecurityMode int64  // resource 6: SMSModeDTLS, SMSModeSecurePacket, SMSModeNoSec
	// KeyParameters is resource 7: mode 2 KIc‖KID‖SPI‖TAR (7 bytes), mode 1
	// the PSK identity (lwm2m.md §2.3). Nil: absent.
	KeyParameters []byte
	// SecretKey is resource 8: mode 2 the KIc key ‖ KID key, mode 1 the PSK
	// (16, 32 or 48 bytes). Zero: absent.
	SecretKey Secret
}

func securityInstance(id uint16, uri string, bs bool, sec FactorySecurity) *Instance {
	in := &Instance{ID: id}
	in.Set(SingleResource(0, StringValue(uri)))
	in.Set(SingleResource(1, BoolValue(bs)))
	in.Set(SingleResource(2, IntValue(sec.Mode)))
	in.Set(SingleResource(3, OpaqueValue([]byte(sec.PSKIdentity))))
	in.Set(SingleResource(4, OpaqueValue(nil)))
	in.Set(SingleResource(5, SecretValue(sec.PSK)))
	return in
}

func secs(d time.Duration) int64 { return int64(d / time.Second) }

// build turns the factory input into instances by object.
func (f Factory) build() (map[uint16]map[uint16]*Instance, error) {
	out := map[uint16]map[uint16]*Instance{SecurityObjectID: {}, ServerObjectID: {}, AccessControlObjectID: {}}
	secID := uint16(0)
	if f.Bootstrap != nil {
		in := securityInstance(secID, f.Bootstrap.URI, true, f.Bootstrap.Security)
		if f.Bootstrap.HoldOff > 0 {
			in.Set(SingleResource(11, IntValue(secs(f.Bootstrap.HoldOff))))
		}
		out[SecurityObjectID][secID] = in
		secID++
	}
	seen := map[uint16]bool{}
	for k, s := range f.Servers {
		if seen[s.ShortServerID] {
			return nil, fmt.Errorf("objects: factory bootstrap: short server id %d twice", s.ShortServerID)
		}
		seen[s.ShortServerID] = true
		in := securityInstance(secID, s.URI, false, s.Security)
		in.Set(SingleResource(10, IntValue(int64(s.ShortServerID))))
		if s.SMS != nil {
			in.Set(SingleResource(6, IntValue(s.SMS.SecurityMode)))
			in.Set(SingleResource(9, StringValue(strings.TrimPrefix(s.SMS.Number, "+"))))
			if s.SMS.KeyParameters != nil {
				in.Set(SingleResource(7, OpaqueValue(s.SMS.KeyParameters)))
			}
			if !s.SMS.SecretKey.IsZero() {
				in.Set(SingleResource(8, SecretValue(s.SMS.SecretKey)))
			}
		}
		out[SecurityObjectID][secID] = in
		secID++
		srv := &Instance{ID: uint16(k)}
		srv.Set(SingleResource(0, IntValue(int64(s.ShortServerID))))
		srv.Set(SingleResource(1, IntValue(secs(s.Lifetime))))
		if s.DefaultPmin > 0 {
			srv.Set(SingleResource(2, IntValue(secs(s.DefaultPmin))))
		}
		if s.DefaultPmax > 0 {
			srv.Set(SingleResource(3, IntValue(secs(s.DefaultPmax))))
		}
		srv.Set(SingleResource(6, BoolValue(s.NotificationStoring)))
		srv.Set(SingleResource(7, StringValue(s.Binding)))
		out[ServerObjectID][uint16(k)] = srv
	}
	if len(f.Servers) > 1 {
		// Multi-server: each server owns its Server instance; every server
		// may read, write and execute on Device and Connectivity
		// Monitoring; only the bootstrap path manages those ACLs
		// (LwM2M-TS 1.0 §7.3.1).
		aid := uint16(0)
		all := map[uint16]int64{}
		for _, s := range f.Servers {
			all[s.ShortServerID] = int64(aclRead | aclWrite | aclExecute)
		}
		for k, s := range f.Servers {
			out[AccessControlObjectID][aid] = newACLInstance(aid, ServerObjectID, uint16(k), s.ShortServerID, nil)
			aid++
		}
		for _, o := range []uint16{DeviceObjectID, ConnectivityObjectID} {
			out[AccessControlObjectID][aid] = newACLInstance(aid, o, 0, MaxID, all)
			aid++
		}
	}
	return out, nil
}

// fingerprint identifies the factory input, so a configuration edit is
// recognised at the next start (see doc.go). It is a SHA-256 over every
// field, secrets included, and never leaves the 0600 state file.
func (f Factory) fingerprint() string {
	h := sha256.New()
	w := func(parts ...any) {
		for _, p := range parts {
			switch v := p.(type) {
			case string:
				_ = binary.Write(h, binary.BigEndian, uint32(len(v)))
				h.Write([]byte(v))
			case []byte:
				_ = binary.Write(h, binary.BigEndian, uint32(len(v)))
				h.Write(v)
			case int64:
				_ = binary.Write(h, binary.BigEndian, v)
			case bool:
				_ = binary.Write(h, binary.BigEndian, v)
			}
		}
	}
	sec := func(s FactorySecurity) { w(s.Mode, s.PSKIdentity, s.PSK.b) }
	if b := f.Bootstrap; b != nil {
		w("bootstrap", b.URI, int64(b.HoldOff))
		sec(b.Security)
	}
	for _, s := range f.Servers {
		w("server", int64(s.ShortServerID), s.URI, int64(s.Lifetime), s.Binding, s.NotificationStoring, int64(s.DefaultPmin), int64(s.DefaultPmax))
		sec(s.Security)
		if s.SMS != nil {
			w("sms", s.SMS.Number, s.SMS.SecurityMode, s.SMS.KeyParameters, s.SMS.SecretKey.b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
