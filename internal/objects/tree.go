package objects

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/store"
)

// CallerKind says who performs an operation.
type CallerKind uint8

// Callers.
const (
	// CallerServer is an LwM2M (device-management) server, identified by
	// its Short Server ID.
	CallerServer CallerKind = iota + 1
	// CallerBootstrap is the bootstrap server (or the bootstrap path of the
	// daemon): it alone writes the Security object.
	CallerBootstrap
	// CallerInternal is the daemon itself (status output, tests): no
	// visibility or ACL rules, but secrets stay unreadable.
	CallerInternal
)

// Caller identifies who asks.
type Caller struct {
	Kind          CallerKind
	ShortServerID uint16 // CallerServer only
}

// Server is the caller for the DM server with Short Server ID ssid.
func Server(ssid uint16) Caller { return Caller{Kind: CallerServer, ShortServerID: ssid} }

// Callers for the bootstrap server and the daemon itself.
var (
	Bootstrap = Caller{Kind: CallerBootstrap}
	Internal  = Caller{Kind: CallerInternal}
)

// String gives "server 101", "bootstrap" or "internal".
func (c Caller) String() string {
	switch c.Kind {
	case CallerServer:
		return fmt.Sprintf("server %d", c.ShortServerID)
	case CallerBootstrap:
		return "bootstrap"
	case CallerInternal:
		return "internal"
	}
	return "unknown caller"
}

// WriteMode selects Write semantics (LwM2M-TS 1.0 §5.4.3).
type WriteMode uint8

// Write modes: PUT replaces, POST on an instance updates partially.
const (
	WriteReplace WriteMode = iota + 1
	WriteUpdate
)

// ChangeKind says what a Change reports.
type ChangeKind uint8

// Kinds of change.
const (
	// ChangeValue: the value of the resource (or resource instance) at
	// Path changed.
	ChangeValue ChangeKind = iota + 1
	// ChangeCreated: the instance at Path was created.
	ChangeCreated
	// ChangeDeleted: the instance at Path was deleted.
	ChangeDeleted
)

// Change is one effect of an operation, reported to Hooks.OnChange so the
// engine can send Update (instances created/deleted, Server lifetime or
// binding changed) and notify observers (values changed).
type Change struct {
	Kind ChangeKind
	Path Path
}

// Hooks connect executable resources and change events to the engine and
// the daemon. Every hook is called without the tree lock held, after the
// operation completed; hooks must return quickly (the engine answers the
// CoAP request only after the operation returned, so a reboot or a
// de-register must be scheduled, not run, inside the hook). Nil hooks are
// allowed: executing a resource whose hook is nil answers 4.05.
type Hooks struct {
	// RegistrationUpdateTrigger: Execute /1/x/8 (LwM2M-TS 1.0 App. E.2);
	// ssid is resource 0 of instance x.
	RegistrationUpdateTrigger func(ssid uint16)
	// Disable: Execute /1/x/4; the engine de-registers and stays silent for
	// the Disable Timeout (resource 5, default 86400 s).
	Disable func(ssid uint16, timeout time.Duration)
	// Reboot: Execute /3/0/4.
	Reboot func()
	// FactoryReset: Execute /3/0/5.
	FactoryReset func()
	// OnChange receives the changes of one operation, in order.
	OnChange func([]Change)
}

// Tree is the client's object tree: object definitions, instances,
// per-server attributes, access rules and persistence. All methods are safe
// for concurrent use.
type Tree struct {
	defs  map[uint16]*ObjectDef // immutable after New
	hooks Hooks                 // immutable after New
	log   *slog.Logger          // non-nil
	st    store.Store           // nil: nothing persisted
	now   func() time.Time      // non-nil
	opts  Options               // immutable after New
	modem ModemInfo             // may be nil

	mu sync.Mutex
	// instances by object and instance ID; guarded by mu.
	inst map[uint16]map[uint16]*Instance
	// attrs by Short Server ID and path; guarded by mu.
	attrs map[uint16]map[Path]Attributes
	// bs is the snapshot taken at BootstrapBegin (nil outside a bootstrap
	// session); guarded by mu.
	bs map[uint16]map[uint16]*Instance
	// meta is what the persisted state says about its origin; guarded by mu.
	meta stateMeta
	// errorCodes are Device resource 11 values; guarded by mu.
	errorCodes []int64
	// timeOffset is what a server wrote into Device resource 13 minus the
	// clock; guarded by mu.
	timeOffset time.Duration
}

// Options are the tunables of the standard objects; the zero value is the
// project default.
type Options struct {
	// SMSKeyParamLengths are the accepted lengths of Security resource 7 in
	// SMS security mode 2 (default DefaultSMSKeyParamLengths).
	SMSKeyParamLengths []int
	// SupportedBindings is Device resource 16 (default "UQS").
	SupportedBindings string
	// Device is the static part of the Device object.
	Device DeviceInfo
}

// DefaultSMSKeyParamLengths: KIc(1) KID(1) SPI(2) TAR(3) = 7 bytes, the
// PROJECT DEFAULT layout of lwm2m.md §2.3 (the 1.0 table's "6 bytes"
// contradicts its own field list; TS 102 225 §5.1 sizes).
var DefaultSMSKeyParamLengths = []int{7}

// DefaultSupportedBindings is Device resource 16 for a UDP+SMS gateway.
const DefaultSupportedBindings = "UQS"

// Config builds a Tree.
type Config struct {
	// Store persists Security, Server, Access Control and writable Device
	// resources; nil keeps everything in memory.
	Store store.Store
	// Logger (default: discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Hooks connect executes and changes to the engine.
	Hooks Hooks
	// Modem supplies live Device and Connectivity Monitoring values (nil:
	// those resources are absent, Connectivity Monitoring is empty).
	Modem ModemInfo
	// Options tune the standard objects.
	Options Options
	// Factory is the factory bootstrap: the server accounts from the
	// daemon's configuration (see doc.go for how it combines with stored
	// state).
	Factory Factory
}

// Definitions returns copies of the object definitions, sorted by ID.
func (t *Tree) Definitions() []ObjectDef {
	out := make([]ObjectDef, 0, len(t.defs))
	for _, id := range slices.Sorted(maps.Keys(t.defs)) {
		d := *t.defs[id]
		d.Resources = slices.Clone(d.Resources)
		for k := range d.Resources {
			d.Resources[k].Lengths = slices.Clone(d.Resources[k].Lengths)
		}
		out = append(out, d)
	}
	return out
}

// emit dispatches changes to the hook (called without mu held).
func (t *Tree) emit(ch []Change) {
	if len(ch) > 0 && t.hooks.OnChange != nil {
		t.hooks.OnChange(ch)
	}
}

// serverCountLocked is the number of DM server accounts: Security
// instances that are not the bootstrap account. Counting Security rather
// than Server instances means a DM server that creates a Server instance
// (which has no account behind it) cannot switch the client into
// multi-server mode and lock everyone out; only the bootstrap path can.
func (t *Tree) serverCountLocked() int {
	n := 0
	for _, in := range t.inst[SecurityObjectID] {
		if !in.Bool(1, false) {
			n++
		}
	}
	return n
}

// serverInstanceLocked finds the Server instance with Short Server ID ssid.
func (t *Tree) serverInstanceLocked(ssid uint16) (*Instance, bool) {
	for _, in := range t.inst[1] {
		if in.Int(0, -1) == int64(ssid) {
			return in, true
		}
	}
	return nil, false
}

// viewLocked returns the stored instance with live values filling the
// resources that are not stored.
func (t *Tree) viewLocked(o, i uint16) (*Instance, bool) {
	in, ok := t.inst[o][i]
	if !ok {
		return nil, false
	}
	def := t.defs[o]
	if def.Live == nil {
		return in, true
	}
	v := in.clone()
	for _, rd := range def.Resources {
		if _, stored := v.Resources[rd.ID]; stored {
			continue // what a server wrote wins over the computed default
		}
		if r, ok := def.Live(i, rd.ID); ok {
			r.ID = rd.ID
			v.Set(r)
		}
	}
	return v, true
}

// readableLocked filters an instance view to what caller may read: R
// operations for servers, never secrets for anyone.
func readable(c Caller, def *ObjectDef, in *Instance) *Instance {
	out := &Instance{ID: in.ID, Resources: map[uint16]Resource{}}
	for id, r := range in.Resources {
		rd, ok := def.Resource(id)
		if !ok || rd.Secret || rd.Type == TypeNone {
			continue
		}
		if c.Kind == CallerServer && !rd.Ops.Has(OpRead) {
			continue
		}
		out.Resources[id] = r
	}
	return out
}

// Read performs Read (LwM2M-TS 1.0 §5.4.1) of p for c in format accept
// (NoFormat: TLV for objects, instances and multiple resources; plain
// text, or opaque for Opaque resources, for single values). It returns the
// payload, the format actually used and 2.05, or a refusal code: 4.04
// (absent, or the Security object for a server), 4.05 (not readable), 4.01
// (ACL, or a secret resource), 4.06 (format not acceptable).
func (t *Tree) Read(c Caller, p Path, accept ContentFormat) ([]byte, ContentFormat, Code) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.Kind == CallerBootstrap || p.IsRoot() {
		return nil, NoFormat, MethodNotAllowed
	}
	def, code := t.visibleLocked(c, p)
	if code != 0 {
		return nil, NoFormat, code
	}
	var ins []*Instance
	if p.IsObject() {
		for _, in := range sortedInstances(t.inst[p.Object()]) {
			if !t.allowedLocked(c, p.Object(), in.ID, aclRead) {
				continue
			}
			v, _ := t.viewLocked(p.Object(), in.ID)
			ins = append(ins, readable(c, def, v))
		}
	} else {
		if !t.allowedLocked(c, p.Object(), p.Instance(), aclRead) {
			return nil, NoFormat, Unauthorized
		}
		v, _ := t.viewLocked(p.Object(), p.Instance())
		if p.Len() >= 3 {
			rd, ok := def.Resource(p.Resource())
			if !ok {
				return nil, NoFormat, NotFound
			}
			if rd.Secret {
				return nil, NoFormat, Unauthorized
			}
			if (c.Kind == CallerServer && !rd.Ops.Has(OpRead)) || rd.Type == TypeNone {
				return nil, NoFormat, MethodNotAllowed
			}
			r, ok := v.Resources[rd.ID]
			if !ok {
				return nil, NoFormat, NotFound
			}
			if p.Len() == 4 {
				if !r.Multiple {
					return nil, NoFormat, NotFound
				}
				if _, ok := r.Instances[p.ResourceInstance()]; !ok {
					return nil, NoFormat, NotFound
				}
			}
			v = &Instance{ID: v.ID, Resources: map[uint16]Resource{rd.ID: r}}
		} else {
			v = readable(c, def, v)
		}
		ins = []*Instance{v}
	}
	f := accept.Canonical()
	if accept == NoFormat {
		f = FormatTLV
		if p.Len() >= 3 {
			if val, err := singleValue(p, ins); err == nil {
				f = FormatText
				if val.typ == TypeOpaque {
					f = FormatOpaque
				}
			}
		}
		accept = f
	}
	switch f {
	case FormatTLV, FormatJSON, FormatText, FormatOpaque:
	default:
		return nil, NoFormat, NotAcceptable
	}
	b, err := encodePayload(p, f, ins)
	if err != nil {
		if err == errFormatTarget {
			return nil, NoFormat, NotAcceptable
		}
		t.log.Error("encode read response", "path", p.String(), "format", f.String(), "err", err)
		return nil, NoFormat, InternalServerError
	}
	return b, accept, Content
}

// visibleLocked applies the rules every operation shares: the object must
// exist; the Security object does not exist for a DM server (LwM2M-TS 1.0
// App. E.1: "no LwM2M Server may access it"; answered 4.04 so it stays
// invisible, as Eclipse Leshan's client does); an instance/resource path
// needs the instance.
func (t *Tree) visibleLocked(c Caller, p Path) (*ObjectDef, Code) {
	def, ok := t.defs[p.Object()]
	if !ok || (c.Kind == CallerServer && p.Object() == SecurityObjectID) {
		return nil, NotFound
	}
	if p.Len() >= 2 {
		if _, ok := t.inst[p.Object()][p.Instance()]; !ok {
			return nil, NotFound
		}
	}
	return def, 0
}

// Value returns the current value at a resource or resource-instance path,
// bypassing access rules, for the engine's observation logic (gt/lt/st).
// Secret resources are never returned.
func (t *Tree) Value(p Path) (Resource, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p.Len() < 3 {
		return Resource{}, false
	}
	def, ok := t.defs[p.Object()]
	if !ok {
		return Resource{}, false
	}
	if rd, ok := def.Resource(p.Resource()); !ok || rd.Secret {
		return Resource{}, false
	}
	v, ok := t.viewLocked(p.Object(), p.Instance())
	if !ok {
		return Resource{}, false
	}
	r, ok := v.Resources[p.Resource()]
	if !ok {
		return Resource{}, false
	}
	if p.Len() == 4 {
		val, ok := r.Instances[p.ResourceInstance()]
		if !ok {
			return Resource{}, false
		}
		return SingleResource(p.Resource(), val), true
	}
	return r.clone(), true
}

// Exists reports whether p names something present (object defined,
// instance or resource present), without access rules.
func (t *Tree) Exists(p Path) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p.IsRoot() {
		return true
	}
	if _, ok := t.defs[p.Object()]; !ok {
		return false
	}
	if p.Len() == 1 {
		return true
	}
	v, ok := t.viewLocked(p.Object(), p.Instance())
	if !ok {
		return false
	}
	if p.Len() == 2 {
		return true
	}
	r, ok := v.Resources[p.Resource()]
	if !ok || p.Len() == 3 {
		return ok
	}
	_, ok = r.Instances[p.ResourceInstance()]
	return ok
}

// NotifyChanged tells the tree that live values under p changed (the
// daemon calls it when modem information changes); observers are told
// through Hooks.OnChange.
func (t *Tree) NotifyChanged(p Path) {
	t.emit([]Change{{Kind: ChangeValue, Path: p}})
}
