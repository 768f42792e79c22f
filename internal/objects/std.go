package objects

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Object IDs of LwM2M 1.0 (LwM2M-TS 1.0 App. E, Table 28).
const (
	SecurityObjectID      uint16 = 0
	ServerObjectID        uint16 = 1
	AccessControlObjectID uint16 = 2
	DeviceObjectID        uint16 = 3
	ConnectivityObjectID  uint16 = 4
)

// SMS Security Mode values, Security resource 6 (lwm2m.md §2.2).
const (
	SMSModeDTLS         = 1 // DTLS terminated on the device
	SMSModeSecurePacket = 2 // TS 102 225 secured packets, on the UICC
	SMSModeNoSec        = 3
)

// UDP Security Mode values, Security resource 2 (App. E.1).
const (
	SecurityModePSK         = 0
	SecurityModeRPK         = 1
	SecurityModeCertificate = 2
	SecurityModeNoSec       = 3
	SecurityModeEST         = 4
)

// Bindings a 1.0 client may use (LwM2M-TS 1.0 §5.3.1.1 Table 8; UQSQ and
// USQ are not allowed).
var Bindings = []string{"U", "UQ", "S", "SQ", "US", "UQS"}

var errInconsistent = errors.New("inconsistent configuration")

func intRes(id uint16, name string, ops Ops, mand bool, lo, hi int64) ResourceDef {
	return ResourceDef{ID: id, Name: name, Ops: ops, Mandatory: mand, Type: TypeInteger, Min: lo, Max: hi, HasRange: true}
}

// checkSMSSecurityMode rejects the reserved values of resource 6: 0, 4
// (DTLS with multiplexing, not in 1.0) and 5–203; 1–3 and the proprietary
// 204–255 are accepted (lwm2m.md §2.2).
func checkSMSSecurityMode(v Value) error {
	m := v.Int()
	if m >= 1 && m <= 3 || m >= 204 && m <= 255 {
		return nil
	}
	return fmt.Errorf("%w: sms security mode %d is reserved", ErrOutOfRange, m)
}

// checkMSISDN accepts TS 23.003 digits with an optional leading "+"
// (lwm2m.md §2.5 says the value carries none; tolerate servers that send
// one and strip it where it is used).
func checkMSISDN(v Value) error {
	s := strings.TrimPrefix(v.Str(), "+")
	if s == "" || len(s) > 15 || strings.Trim(s, "0123456789") != "" {
		return fmt.Errorf("%w: msisdn %q", ErrSyntax, v.Str())
	}
	return nil
}

func checkBinding(v Value) error {
	if !slices.Contains(Bindings, v.Str()) {
		return fmt.Errorf("%w: binding %q (want one of %v)", ErrOutOfRange, v.Str(), Bindings)
	}
	return nil
}

func checkFinite(v Value) error {
	if math.IsNaN(v.f) || math.IsInf(v.f, 0) {
		return fmt.Errorf("%w: %v", ErrOutOfRange, v.f)
	}
	return nil
}

// securityDef is object 0 (App. E.1; lwm2m.md §2). No resource has DM
// operations: only the bootstrap path reaches it.
func securityDef(keyParamLens []int) *ObjectDef {
	return &ObjectDef{
		ID: SecurityObjectID, Name: "LWM2M Security", Multiple: true, Mandatory: true, Persist: true,
		Resources: []ResourceDef{
			{ID: 0, Name: "LWM2M Server URI", Mandatory: true, Type: TypeString, MaxLen: 255},
			{ID: 1, Name: "Bootstrap-Server", Mandatory: true, Type: TypeBoolean},
			intRes(2, "Security Mode", 0, true, 0, 4),
			{ID: 3, Name: "Public Key or Identity", Mandatory: true, Type: TypeOpaque, MaxLen: 1024},
			{ID: 4, Name: "Server Public Key", Mandatory: true, Type: TypeOpaque, MaxLen: 4096},
			{ID: 5, Name: "Secret Key", Mandatory: true, Type: TypeOpaque, MaxLen: 1024, Secret: true},
			{ID: 6, Name: "SMS Security Mode", Type: TypeInteger, Min: 0, Max: 255, HasRange: true, Check: checkSMSSecurityMode},
			{ID: 7, Name: "SMS Binding Key Parameters", Type: TypeOpaque, MaxLen: 255},
			{ID: 8, Name: "SMS Binding Secret Key(s)", Type: TypeOpaque, Lengths: []int{16, 32, 48}, Secret: true},
			{ID: 9, Name: "LWM2M Server SMS Number", Type: TypeString, Check: checkMSISDN},
			intRes(10, "Short Server ID", 0, false, 1, 65534),
			intRes(11, "Client Hold Off Time", 0, false, 0, math.MaxInt32),
			intRes(12, "Bootstrap-Server Account Timeout", 0, false, 0, math.MaxInt32),
		},
		CheckInstance: func(in *Instance) error { return checkSecurityInstance(in, keyParamLens) },
	}
}

// checkSecurityInstance enforces what the client needs to use an account.
func checkSecurityInstance(in *Instance, keyParamLens []int) error {
	for _, id := range []uint16{0, 1, 2} {
		if _, ok := in.Resources[id]; !ok {
			return fmt.Errorf("%w: security instance %d lacks resource %d", errInconsistent, in.ID, id)
		}
	}
	uri := in.Str(0, "")
	mode := in.Int(2, -1)
	bs := in.Bool(1, false)
	if !bs {
		if _, ok := in.Resources[10]; !ok {
			return fmt.Errorf("%w: security instance %d: short server id (10) required for a server account", errInconsistent, in.ID)
		}
	}
	switch {
	case strings.HasPrefix(uri, "coaps://"):
		if mode != SecurityModePSK {
			return fmt.Errorf("%w: security instance %d: %s needs security mode 0 (psk), have %d", errInconsistent, in.ID, uri, mode)
		}
		if len(in.Bytes(3)) == 0 || len(in.Bytes(5)) == 0 {
			return fmt.Errorf("%w: security instance %d: psk identity (3) and key (5) required", errInconsistent, in.ID)
		}
	case strings.HasPrefix(uri, "coap://"):
		if mode != SecurityModeNoSec {
			return fmt.Errorf("%w: security instance %d: %s needs security mode 3 (nosec), have %d", errInconsistent, in.ID, uri, mode)
		}
	case strings.HasPrefix(uri, "sms://"), strings.HasPrefix(uri, "tel:"):
	default:
		return fmt.Errorf("%w: security instance %d: unsupported server uri %q", errInconsistent, in.ID, uri)
	}
	if r, ok := in.Resources[6]; ok {
		if _, ok := in.Resources[9]; !ok {
			return fmt.Errorf("%w: security instance %d: sms security mode without server sms number (9)", errInconsistent, in.ID)
		}
		switch r.Value.Int() {
		case SMSModeSecurePacket:
			kp := in.Bytes(7)
			if !slices.Contains(keyParamLens, len(kp)) {
				return fmt.Errorf("%w: security instance %d: sms key parameters (7) are %d bytes, want %v (KIc KID SPI TAR)", errInconsistent, in.ID, len(kp), keyParamLens)
			}
			if _, ok := in.Resources[8]; !ok {
				return fmt.Errorf("%w: security instance %d: sms secret keys (8) required in secure-packet mode", errInconsistent, in.ID)
			}
		case SMSModeDTLS:
			_, has7 := in.Resources[7]
			_, has8 := in.Resources[8]
			if !(has7 && has8) && (len(in.Bytes(3)) == 0 || len(in.Bytes(5)) == 0) {
				return fmt.Errorf("%w: security instance %d: dtls sms mode needs psk identity/key in 7/8 or 3/5", errInconsistent, in.ID)
			}
		}
	}
	return nil
}

// serverDef is object 1 (App. E.2).
func serverDef(t *Tree) *ObjectDef {
	return &ObjectDef{
		ID: ServerObjectID, Name: "LwM2M Server", Multiple: true, Mandatory: true, Persist: true,
		Resources: []ResourceDef{
			intRes(0, "Short Server ID", OpRead, true, 1, 65534),
			intRes(1, "Lifetime", OpRead|OpWrite, true, 1, math.MaxInt32),
			intRes(2, "Default Minimum Period", OpRead|OpWrite, false, 0, math.MaxInt32),
			intRes(3, "Default Maximum Period", OpRead|OpWrite, false, 0, math.MaxInt32),
			{ID: 4, Name: "Disable", Ops: OpExecute, Type: TypeNone},
			intRes(5, "Disable Timeout", OpRead|OpWrite, false, 0, math.MaxInt32),
			{ID: 6, Name: "Notification Storing When Disabled or Offline", Ops: OpRead | OpWrite, Mandatory: true, Type: TypeBoolean},
			{ID: 7, Name: "Binding", Ops: OpRead | OpWrite, Mandatory: true, Type: TypeString, Check: checkBinding},
			{ID: 8, Name: "Registration Update Trigger", Ops: OpExecute, Mandatory: true, Type: TypeNone},
		},
		Execute: func(inst, res uint16, _ []ExecArg) Code {
			t.mu.Lock()
			in, ok := t.inst[ServerObjectID][inst]
			var ssid uint16
			var timeout = disableTimeout(&Instance{})
			if ok {
				ssid = uint16(in.Int(0, 0))
				timeout = disableTimeout(in)
			}
			t.mu.Unlock()
			if !ok {
				return NotFound
			}
			switch res {
			case 8:
				if t.hooks.RegistrationUpdateTrigger == nil {
					return MethodNotAllowed
				}
				t.hooks.RegistrationUpdateTrigger(ssid)
				return Changed
			case 4:
				if t.hooks.Disable == nil {
					return MethodNotAllowed
				}
				t.hooks.Disable(ssid, timeout)
				return Changed
			}
			return MethodNotAllowed
		},
	}
}

// accessControlDef is object 2 (App. E.3; lwm2m.md §4).
func accessControlDef() *ObjectDef {
	return &ObjectDef{
		ID: AccessControlObjectID, Name: "LwM2M Access Control", Multiple: true, Persist: true,
		Resources: []ResourceDef{
			intRes(0, "Object ID", OpRead, true, 1, 65534),
			intRes(1, "Object Instance ID", OpRead, true, 0, 65535),
			{ID: 2, Name: "ACL", Ops: OpRead | OpWrite, Multiple: true, Type: TypeInteger, Min: 0, Max: 65535, HasRange: true},
			intRes(3, "Access Control Owner", OpRead|OpWrite, true, 0, 65535),
		},
	}
}

// newACLInstance protects /o/i: owner ssid (MaxID: bootstrap only), with
// rights per Short Server ID (nil: none beyond the owner's).
func newACLInstance(id, o, i, owner uint16, rights map[uint16]int64) *Instance {
	in := &Instance{ID: id}
	in.Set(SingleResource(0, IntValue(int64(o))))
	in.Set(SingleResource(1, IntValue(int64(i))))
	if len(rights) > 0 {
		vals := map[uint16]Value{}
		for ssid, r := range rights {
			vals[ssid] = IntValue(r)
		}
		in.Set(MultiResource(2, vals))
	}
	in.Set(SingleResource(3, IntValue(int64(owner))))
	return in
}
