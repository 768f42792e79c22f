package objects

import (
	"fmt"
	"math"
	"time"
)

// DeviceInfo is the static part of the Device object, from the daemon's
// configuration. Empty fields fall back to what the modem reports.
type DeviceInfo struct {
	Manufacturer    string // resource 0
	Model           string // resource 1
	Serial          string // resource 2
	Firmware        string // resource 3
	DeviceType      string // resource 17
	HardwareVersion string // resource 18
	SoftwareVersion string // resource 19
	// Timezone is the IANA zone name reported in resource 15 until a
	// server writes one ("" : absent).
	Timezone string
}

// PowerSource is one instance of Device resources 6/7/8.
type PowerSource struct {
	Type      int64 // 0 DC, 1 internal battery, 2 external battery, 4 PoE, 5 USB, 6 AC, 7 solar
	VoltageMV *int64
	CurrentMA *int64
}

// DeviceStatus is the live part of the Device object. Nil pointers and
// empty strings mean "unknown": the resource is then absent.
type DeviceStatus struct {
	Manufacturer, Model, Serial, Firmware string // modem identity (+CGMI, +CGMM, +CGSN, +CGMR)
	PowerSources                          []PowerSource
	BatteryLevel                          *int64 // %
	BatteryStatus                         *int64 // 0–6
	MemoryFreeKB, MemoryTotalKB           *int64
}

// Connectivity is the live content of Connectivity Monitoring (object 4,
// App. E.5). Nil pointers and empty slices mean "unknown".
type Connectivity struct {
	NetworkBearer       *int64   // 0
	AvailableBearers    []int64  // 1
	RadioSignalStrength *int64   // 2, dBm
	LinkQuality         *int64   // 3
	IPAddresses         []string // 4
	RouterIPAddresses   []string // 5
	LinkUtilization     *int64   // 6, %
	APNs                []string // 7
	CellID              *int64   // 8
	SMNC                *int64   // 9
	SMCC                *int64   // 10
	LAC                 *int64   // LACResourceID
}

// LACResourceID is the Location Area Code resource of Connectivity
// Monitoring. LwM2M 1.0 defines resources 0–10 only (lwm2m.md §6); the
// issue asks for the LAC, which later registry versions of object 4 carry
// as resource 12 (Integer 0–65535). UNCONFIRMED against the digest; a 1.0
// server ignores resources it does not know.
const LACResourceID = 12

// ModemInfo supplies live values. The daemon implements it from the modem
// driver's cached information; methods are called with the tree locked and
// must return at once (never wait for the modem).
type ModemInfo interface {
	DeviceStatus() DeviceStatus
	Connectivity() Connectivity
}

// Device error codes, resource 11 (App. E.4).
const (
	ErrorNone            = 0
	ErrorLowBattery      = 1
	ErrorExternalPower   = 2
	ErrorGPS             = 3
	ErrorLowSignal       = 4
	ErrorOutOfMemory     = 5
	ErrorSMS             = 6
	ErrorIPConnectivity  = 7
	ErrorPeripheral      = 8
	deviceTimeResourceID = 13
)

func deviceDef(t *Tree) *ObjectDef {
	r := func(id uint16, name string, typ Type) ResourceDef {
		return ResourceDef{ID: id, Name: name, Ops: OpRead, Type: typ}
	}
	rm := func(id uint16, name string, lo, hi int64) ResourceDef {
		return ResourceDef{ID: id, Name: name, Ops: OpRead, Multiple: true, Type: TypeInteger, Min: lo, Max: hi, HasRange: true}
	}
	return &ObjectDef{
		ID: DeviceObjectID, Name: "Device", Mandatory: true, Persist: true,
		Resources: []ResourceDef{
			r(0, "Manufacturer", TypeString),
			r(1, "Model Number", TypeString),
			r(2, "Serial Number", TypeString),
			r(3, "Firmware Version", TypeString),
			{ID: 4, Name: "Reboot", Ops: OpExecute, Mandatory: true, Type: TypeNone},
			{ID: 5, Name: "Factory Reset", Ops: OpExecute, Type: TypeNone},
			rm(6, "Available Power Sources", 0, 7),
			rm(7, "Power Source Voltage", math.MinInt64, math.MaxInt64),
			rm(8, "Power Source Current", math.MinInt64, math.MaxInt64),
			intRes(9, "Battery Level", OpRead, false, 0, 100),
			intRes(10, "Memory Free", OpRead, false, 0, math.MaxInt64),
			{ID: 11, Name: "Error Code", Ops: OpRead, Multiple: true, Mandatory: true, Type: TypeInteger, Min: 0, Max: 8, HasRange: true},
			{ID: 12, Name: "Reset Error Code", Ops: OpExecute, Type: TypeNone},
			{ID: 13, Name: "Current Time", Ops: OpRead | OpWrite, Type: TypeTime},
			{ID: 14, Name: "UTC Offset", Ops: OpRead | OpWrite, Type: TypeString, MaxLen: 16},
			{ID: 15, Name: "Timezone", Ops: OpRead | OpWrite, Type: TypeString, MaxLen: 64},
			{ID: 16, Name: "Supported Binding and Modes", Ops: OpRead, Mandatory: true, Type: TypeString},
			r(17, "Device Type", TypeString),
			r(18, "Hardware Version", TypeString),
			r(19, "Software Version", TypeString),
			intRes(20, "Battery Status", OpRead, false, 0, 6),
			intRes(21, "Memory Total", OpRead, false, 0, math.MaxInt64),
		},
		Live: t.deviceLive,
		Execute: func(_, res uint16, _ []ExecArg) Code {
			switch res {
			case 4:
				if t.hooks.Reboot == nil {
					t.log.Warn("execute reboot: no reboot hook wired")
					return MethodNotAllowed
				}
				t.hooks.Reboot()
				return Changed
			case 5:
				if t.hooks.FactoryReset == nil {
					t.log.Warn("execute factory reset: no factory-reset hook wired")
					return MethodNotAllowed
				}
				t.hooks.FactoryReset()
				return Changed
			case 12:
				t.ClearErrors()
				return Changed
			}
			return MethodNotAllowed
		},
	}
}

// deviceLive computes Device resources at read time (called with t.mu held).
func (t *Tree) deviceLive(_, res uint16) (Resource, bool) {
	info := t.opts.Device
	var st DeviceStatus
	if t.modem != nil && (res <= 3 || res >= 6 && res <= 10 || res >= 20) {
		st = t.modem.DeviceStatus()
	}
	str := func(cfg, live string) (Resource, bool) {
		if cfg == "" {
			cfg = live
		}
		return SingleResource(res, StringValue(cfg)), cfg != ""
	}
	ptr := func(p *int64) (Resource, bool) {
		if p == nil {
			return Resource{}, false
		}
		return SingleResource(res, IntValue(*p)), true
	}
	switch res {
	case 0:
		return str(info.Manufacturer, st.Manufacturer)
	case 1:
		return str(info.Model, st.Model)
	case 2:
		return str(info.Serial, st.Serial)
	case 3:
		return str(info.Firmware, st.Firmware)
	case 6, 7, 8:
		if len(st.PowerSources) == 0 {
			return Resource{}, false
		}
		vals := map[uint16]Value{}
		for k, ps := range st.PowerSources {
			switch {
			case res == 6:
				vals[uint16(k)] = IntValue(ps.Type)
			case res == 7 && ps.VoltageMV != nil:
				vals[uint16(k)] = IntValue(*ps.VoltageMV)
			case res == 8 && ps.CurrentMA != nil:
				vals[uint16(k)] = IntValue(*ps.CurrentMA)
			}
		}
		return MultiResource(res, vals), len(vals) > 0
	case 9:
		return ptr(st.BatteryLevel)
	case 10:
		return ptr(st.MemoryFreeKB)
	case 11:
		vals := map[uint16]Value{0: IntValue(ErrorNone)}
		for k, c := range t.errorCodes {
			vals[uint16(k)] = IntValue(c)
		}
		return MultiResource(res, vals), true
	case deviceTimeResourceID:
		return SingleResource(res, TimeValue(t.now().Add(t.timeOffset))), true
	case 14:
		// The clock's own offset until a server writes one; the form of
		// the §6.4.3.1 example ("+02:00").
		_, off := t.now().Zone()
		sign := '+'
		if off < 0 {
			sign, off = '-', -off
		}
		return SingleResource(res, StringValue(fmt.Sprintf("%c%02d:%02d", sign, off/3600, off%3600/60))), true
	case 15:
		return str(info.Timezone, "")
	case 16:
		return SingleResource(res, StringValue(t.opts.SupportedBindings)), true
	case 17:
		return str(info.DeviceType, "")
	case 18:
		return str(info.HardwareVersion, "")
	case 19:
		return str(info.SoftwareVersion, "")
	case 20:
		return ptr(st.BatteryStatus)
	case 21:
		return ptr(st.MemoryTotalKB)
	}
	return Resource{}, false
}

// applyDeviceWriteLocked turns a written Current Time into an offset from
// the clock (the daemon does not set the system clock; NTP owns it) so the
// resource keeps ticking.
func (t *Tree) applyDeviceWriteLocked() {
	in, ok := t.inst[DeviceObjectID][0]
	if !ok {
		return
	}
	if r, ok := in.Resources[deviceTimeResourceID]; ok {
		t.timeOffset = r.Value.Time().Sub(t.now().Truncate(time.Second))
		delete(in.Resources, deviceTimeResourceID)
	}
}

// RaiseError adds a Device error code (resource 11; App. E.4: one
// instance per active error, a single 0 when none) and notifies observers.
func (t *Tree) RaiseError(code int64) {
	t.mu.Lock()
	for _, c := range t.errorCodes {
		if c == code {
			t.mu.Unlock()
			return
		}
	}
	t.errorCodes = append(t.errorCodes, code)
	t.mu.Unlock()
	t.emit([]Change{{Kind: ChangeValue, Path: ResourcePath(DeviceObjectID, 0, 11)}})
}

// ClearErrors empties Device resource 11 back to the single 0 (also what
// Execute /3/0/12 does).
func (t *Tree) ClearErrors() {
	t.mu.Lock()
	had := len(t.errorCodes) > 0
	t.errorCodes = nil
	t.mu.Unlock()
	if had {
		t.emit([]Change{{Kind: ChangeValue, Path: ResourcePath(DeviceObjectID, 0, 11)}})
	}
}

func connectivityDef(t *Tree) *ObjectDef {
	ri := func(id uint16, name string, mand bool, lo, hi int64) ResourceDef {
		return ResourceDef{ID: id, Name: name, Ops: OpRead, Mandatory: mand, Type: TypeInteger, Min: lo, Max: hi, HasRange: true}
	}
	return &ObjectDef{
		ID: ConnectivityObjectID, Name: "Connectivity Monitoring",
		Resources: []ResourceDef{
			ri(0, "Network Bearer", true, 0, 50),
			{ID: 1, Name: "Available Network Bearer", Ops: OpRead, Multiple: true, Mandatory: true, Type: TypeInteger, Min: 0, Max: 50, HasRange: true},
			ri(2, "Radio Signal Strength", true, math.MinInt64, math.MaxInt64),
			ri(3, "Link Quality", false, math.MinInt64, math.MaxInt64),
			{ID: 4, Name: "IP Addresses", Ops: OpRead, Multiple: true, Mandatory: true, Type: TypeString},
			{ID: 5, Name: "Router IP Addresses", Ops: OpRead, Multiple: true, Type: TypeString},
			ri(6, "Link Utilization", false, 0, 100),
			{ID: 7, Name: "APN", Ops: OpRead, Multiple: true, Type: TypeString},
			ri(8, "Cell ID", false, 0, math.MaxInt64),
			ri(9, "SMNC", false, 0, 999),
			ri(10, "SMCC", false, 0, 999),
			ri(LACResourceID, "LAC", false, 0, 65535),
		},
		Live: func(_, res uint16) (Resource, bool) {
			if t.modem == nil {
				return Resource{}, false
			}
			c := t.modem.Connectivity()
			ptr := func(p *int64) (Resource, bool) {
				if p == nil {
					return Resource{}, false
				}
				return SingleResource(res, IntValue(*p)), true
			}
			ints := func(xs []int64) (Resource, bool) {
				vals := map[uint16]Value{}
				for k, x := range xs {
					vals[uint16(k)] = IntValue(x)
				}
				return MultiResource(res, vals), len(xs) > 0
			}
			strs := func(xs []string) (Resource, bool) {
				vals := map[uint16]Value{}
				for k, x := range xs {
					vals[uint16(k)] = StringValue(x)
				}
				return MultiResource(res, vals), len(xs) > 0
			}
			switch res {
			case 0:
				return ptr(c.NetworkBearer)
			case 1:
				return ints(c.AvailableBearers)
			case 2:
				return ptr(c.RadioSignalStrength)
			case 3:
				return ptr(c.LinkQuality)
			case 4:
				return strs(c.IPAddresses)
			case 5:
				return strs(c.RouterIPAddresses)
			case 6:
				return ptr(c.LinkUtilization)
			case 7:
				return strs(c.APNs)
			case 8:
				return ptr(c.CellID)
			case 9:
				return ptr(c.SMNC)
			case 10:
				return ptr(c.SMCC)
			case LACResourceID:
				return ptr(c.LAC)
			}
			return Resource{}, false
		},
	}
}
