package objects

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// prepareResource validates r against rd and marks secret values.
func prepareResource(rd *ResourceDef, r Resource) (Resource, error) {
	if r.Multiple != rd.Multiple {
		return Resource{}, fmt.Errorf("resource %d: %w: single/multiple mismatch", rd.ID, ErrBadType)
	}
	if !r.Multiple {
		if err := rd.Validate(r.Value); err != nil {
			return Resource{}, err
		}
		r.Value.secret = rd.Secret
		return r, nil
	}
	vals := make(map[uint16]Value, len(r.Instances))
	for id, v := range r.Instances {
		if err := rd.Validate(v); err != nil {
			return Resource{}, fmt.Errorf("instance %d: %w", id, err)
		}
		v.secret = rd.Secret
		vals[id] = v
	}
	r.Instances = vals
	return r, nil
}

// decodeCode maps a payload decode failure to its response code.
func decodeCode(err error) Code {
	switch {
	case errors.Is(err, errUnsupportedFormat), errors.Is(err, errFormatTarget):
		return UnsupportedFormat
	}
	return BadRequest
}

// Write performs Write (LwM2M-TS 1.0 §5.4.3) or, for the bootstrap
// caller, Bootstrap-Write (§5.2.7.1). Replace on an instance replaces every
// writable resource (writable resources absent from the payload are
// removed; a mandatory one missing is 4.00); Update changes only the
// resources given. A bootstrap write creates instances that do not exist,
// may target a whole object, reaches bootstrap-only resources, and ignores
// resources the client does not implement; on an existing instance it
// updates the resources given and keeps the others (bootstrap servers
// normally Delete "/" first).
//
// Codes: 2.04; 4.00 (bad payload or value), 4.01 (ACL), 4.04 (absent,
// unknown resource, Security object for a server), 4.05 (object-level
// write by a server, read-only resource), 4.15 (format).
func (t *Tree) Write(c Caller, p Path, mode WriteMode, f ContentFormat, payload []byte) Code {
	ch, code := t.write(c, p, mode, f, payload)
	t.emit(ch)
	return code
}

func (t *Tree) write(c Caller, p Path, mode WriteMode, f ContentFormat, payload []byte) ([]Change, Code) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p.IsRoot() {
		return nil, MethodNotAllowed
	}
	switch f.Canonical() {
	case FormatTLV, FormatJSON, FormatText, FormatOpaque:
	default:
		return nil, UnsupportedFormat
	}
	bootstrap := c.Kind == CallerBootstrap
	var def *ObjectDef
	if bootstrap {
		var ok bool
		if def, ok = t.defs[p.Object()]; !ok {
			return nil, NotFound
		}
		t.beginBootstrapLocked()
	} else {
		if p.IsObject() {
			return nil, MethodNotAllowed
		}
		var code Code
		if def, code = t.visibleLocked(c, p); code != 0 {
			return nil, code
		}
		if !t.allowedLocked(c, p.Object(), p.Instance(), aclWrite) {
			return nil, Unauthorized
		}
		if p.Len() >= 3 {
			rd, ok := def.Resource(p.Resource())
			if !ok {
				return nil, NotFound
			}
			if !rd.Ops.Has(OpWrite) || rd.Type == TypeNone {
				return nil, MethodNotAllowed
			}
		}
	}
	d, err := decodePayload(def, p, f, payload)
	if err != nil {
		t.log.Info("write refused: bad payload", "caller", c.String(), "path", p.String(), "format", f.String(), "err", err)
		return nil, decodeCode(err)
	}
	if len(d.unknown) > 0 {
		if !bootstrap {
			t.log.Info("write refused: unknown resource", "caller", c.String(), "path", d.unknown[0].String())
			return nil, NotFound
		}
		t.log.Debug("bootstrap write: ignoring unsupported resources", "count", len(d.unknown))
	}
	var changes []Change
	work := map[uint16]*Instance{}
	for _, in := range d.instances {
		if in.ID == MaxID || (p.Len() >= 2 && in.ID != p.Instance()) {
			return nil, BadRequest
		}
		if _, dup := work[in.ID]; dup {
			return nil, BadRequest
		}
		cur, exists := t.inst[def.ID][in.ID]
		if !exists && !bootstrap {
			return nil, NotFound
		}
		if !exists && !def.Multiple && len(t.inst[def.ID]) > 0 {
			return nil, BadRequest
		}
		next := &Instance{ID: in.ID, Resources: map[uint16]Resource{}}
		if exists {
			next = cur.clone()
		}
		for rid := range in.Resources {
			if rd, _ := def.Resource(rid); rd.Type == TypeNone || !bootstrap && !rd.Ops.Has(OpWrite) {
				return nil, MethodNotAllowed
			}
		}
		if mode == WriteReplace && p.Len() <= 2 && !bootstrap {
			for _, rd := range def.Resources {
				if rd.Ops.Has(OpWrite) {
					if _, given := in.Resources[rd.ID]; !given {
						if rd.Mandatory {
							return nil, BadRequest
						}
						delete(next.Resources, rd.ID)
					}
				}
			}
		}
		for _, rid := range in.resourceIDs() {
			r := in.Resources[rid]
			rd, _ := def.Resource(rid)
			r, err := prepareResource(rd, r)
			if err != nil {
				t.log.Info("write refused: invalid value", "caller", c.String(), "path", InstancePath(def.ID, in.ID).Child(rid).String(), "err", err)
				return nil, BadRequest
			}
			if p.Len() == 4 {
				old := next.Resources[rid]
				merged := map[uint16]Value{}
				for k, v := range old.Instances {
					merged[k] = v
				}
				for k, v := range r.Instances {
					merged[k] = v
				}
				r = Resource{ID: rid, Multiple: true, Instances: merged}
			}
			next.Set(r)
		}
		if !bootstrap {
			if err := t.checkInstanceLocked(def, next); err != nil {
				t.log.Info("write refused: inconsistent instance", "caller", c.String(), "path", InstancePath(def.ID, in.ID).String(), "err", err)
				return nil, BadRequest
			}
		}
		work[in.ID] = next
		if !exists {
			changes = append(changes, Change{Kind: ChangeCreated, Path: InstancePath(def.ID, in.ID)})
		} else {
			changes = append(changes, diffInstance(def.ID, cur, next)...)
		}
	}
	if t.inst[def.ID] == nil {
		t.inst[def.ID] = map[uint16]*Instance{}
	}
	old := map[uint16]*Instance{}
	for id, in := range work {
		old[id] = t.inst[def.ID][id]
		t.inst[def.ID][id] = in
	}
	if def.ID == DeviceObjectID {
		t.applyDeviceWriteLocked()
	}
	if len(changes) > 0 && def.Persist {
		meta := t.meta
		if bootstrap {
			t.meta.Origin = OriginBootstrap
		}
		if err := t.persistLocked(); err != nil {
			// Memory and disk must agree: undo what the store refused.
			t.meta = meta
			for id, in := range old {
				if in == nil {
					delete(t.inst[def.ID], id)
				} else {
					t.inst[def.ID][id] = in
				}
			}
			return nil, InternalServerError
		}
	}
	return changes, Changed
}

// checkInstanceLocked applies the object's own rules and, for a Server
// instance, that an SMS binding has a server SMS number to use
// (Security resource 9 of the same Short Server ID).
func (t *Tree) checkInstanceLocked(def *ObjectDef, in *Instance) error {
	if def.CheckInstance != nil {
		if err := def.CheckInstance(in); err != nil {
			return err
		}
	}
	if def.ID == ServerObjectID && strings.Contains(in.Str(7, ""), "S") {
		ssid := in.Int(0, -1)
		for _, sec := range t.inst[SecurityObjectID] {
			if !sec.Bool(1, false) && sec.Int(10, -2) == ssid && sec.Str(9, "") != "" {
				return nil
			}
		}
		return fmt.Errorf("%w: binding %s for server %d without an sms number", errInconsistent, in.Str(7, ""), ssid)
	}
	return nil
}

// diffInstance lists the resources whose values differ.
func diffInstance(o uint16, a, b *Instance) []Change {
	var out []Change
	ip := InstancePath(o, a.ID)
	ids := map[uint16]bool{}
	for id := range a.Resources {
		ids[id] = true
	}
	for id := range b.Resources {
		ids[id] = true
	}
	keys := make([]uint16, 0, len(ids))
	for id := range ids {
		keys = append(keys, id)
	}
	slices.Sort(keys)
	for _, id := range keys {
		ra, oka := a.Resources[id]
		rb, okb := b.Resources[id]
		if oka != okb || !ra.equal(rb) {
			out = append(out, Change{Kind: ChangeValue, Path: ip.Child(id)})
		}
	}
	return out
}

// Create performs Create (LwM2M-TS 1.0 §5.4.6) on object p with a TLV or
// JSON payload. With an object-instance wrapper the server chose the ID
// (4.00 if it exists); without one the client picks the lowest free ID.
// Every mandatory resource that is not executable must be given. In a
// multi-server set-up the Create right comes from the Access Control
// instance for (object, 65535), and the client creates an Access Control
// instance owned by the creator (§7.3.1.2.2).
//
// Returns the new instance's path and 2.01, or 4.00, 4.01, 4.04, 4.05
// (single-instance object), 4.15.
func (t *Tree) Create(c Caller, p Path, f ContentFormat, payload []byte) (Path, Code) {
	np, ch, code := t.create(c, p, f, payload)
	t.emit(ch)
	return np, code
}

func (t *Tree) create(c Caller, p Path, f ContentFormat, payload []byte) (Path, []Change, Code) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.Kind == CallerBootstrap {
		return Path{}, nil, MethodNotAllowed
	}
	if !p.IsObject() {
		return Path{}, nil, BadRequest
	}
	def, code := t.visibleLocked(c, p)
	if code != 0 {
		return Path{}, nil, code
	}
	if !def.Multiple || def.ID == AccessControlObjectID && c.Kind == CallerServer {
		return Path{}, nil, MethodNotAllowed
	}
	if c.Kind == CallerServer && t.serverCountLocked() > 1 {
		aco, ok := t.aclForLocked(def.ID, MaxID)
		if !ok || !aclGrants(aco, c.ShortServerID, aclCreate) {
			return Path{}, nil, Unauthorized
		}
	}
	switch f.Canonical() {
	case FormatTLV, FormatJSON:
	default:
		return Path{}, nil, UnsupportedFormat
	}
	d, err := decodePayload(def, p, f, payload)
	if err != nil {
		return Path{}, nil, decodeCode(err)
	}
	if len(d.unknown) > 0 {
		return Path{}, nil, NotFound
	}
	if len(d.instances) != 1 {
		return Path{}, nil, BadRequest
	}
	in := d.instances[0]
	if in.ID == MaxID {
		in.ID = t.freeIDLocked(def.ID)
	} else if _, exists := t.inst[def.ID][in.ID]; exists {
		return Path{}, nil, BadRequest
	}
	next := &Instance{ID: in.ID, Resources: map[uint16]Resource{}}
	for _, rid := range in.resourceIDs() {
		rd, _ := def.Resource(rid)
		if c.Kind == CallerServer && rd.Ops&(OpRead|OpWrite) == 0 || rd.Type == TypeNone {
			return Path{}, nil, MethodNotAllowed
		}
		r, err := prepareResource(rd, in.Resources[rid])
		if err != nil {
			return Path{}, nil, BadRequest
		}
		next.Set(r)
	}
	for _, rd := range def.Resources {
		if rd.Mandatory && rd.Type != TypeNone {
			if _, ok := next.Resources[rd.ID]; !ok {
				return Path{}, nil, BadRequest
			}
		}
	}
	if err := t.checkInstanceLocked(def, next); err != nil {
		return Path{}, nil, BadRequest
	}
	if def.ID == ServerObjectID {
		if _, dup := t.serverInstanceLocked(uint16(next.Int(0, 0))); dup {
			return Path{}, nil, BadRequest
		}
	}
	if t.inst[def.ID] == nil {
		t.inst[def.ID] = map[uint16]*Instance{}
	}
	t.inst[def.ID][next.ID] = next
	np := InstancePath(def.ID, next.ID)
	changes := []Change{{Kind: ChangeCreated, Path: np}}
	if c.Kind == CallerServer && t.serverCountLocked() > 1 {
		aid := t.freeIDLocked(AccessControlObjectID)
		t.inst[AccessControlObjectID][aid] = newACLInstance(aid, def.ID, next.ID, c.ShortServerID, nil)
		changes = append(changes, Change{Kind: ChangeCreated, Path: InstancePath(AccessControlObjectID, aid)})
	}
	if def.Persist {
		if err := t.persistLocked(); err != nil {
			delete(t.inst[def.ID], next.ID)
			return Path{}, nil, InternalServerError
		}
	}
	return np, changes, Created
}

func (t *Tree) freeIDLocked(o uint16) uint16 {
	for id := uint16(0); id < MaxID; id++ {
		if _, used := t.inst[o][id]; !used {
			return id
		}
	}
	return MaxID
}

// Delete performs Delete (LwM2M-TS 1.0 §5.4.7) on an instance, or for the
// bootstrap caller Bootstrap-Delete (§5.2.7.2) on "/", an object or an
// instance: everything except the bootstrap-server account and the Device
// instance (live objects such as Connectivity Monitoring are kept too).
//
// Codes: 2.02; 4.01 (ACL), 4.04, 4.05 (object-level or mandatory single
// instance).
func (t *Tree) Delete(c Caller, p Path) Code {
	ch, code := t.delete(c, p)
	t.emit(ch)
	return code
}

func (t *Tree) delete(c Caller, p Path) ([]Change, Code) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.Kind == CallerBootstrap {
		return t.bootstrapDeleteLocked(p)
	}
	if !p.IsInstance() {
		return nil, MethodNotAllowed
	}
	def, code := t.visibleLocked(c, p)
	if code != 0 {
		return nil, code
	}
	if !def.Multiple && def.Mandatory || !def.Persist {
		return nil, MethodNotAllowed
	}
	if def.ID == AccessControlObjectID && c.Kind == CallerServer {
		return nil, Unauthorized
	}
	if !t.allowedLocked(c, p.Object(), p.Instance(), aclDelete) {
		return nil, Unauthorized
	}
	snap := t.snapshotLocked()
	ch := t.removeLocked(p.Object(), p.Instance())
	if err := t.persistLocked(); err != nil {
		t.inst = snap
		return nil, InternalServerError
	}
	return ch, Deleted
}

// removeLocked deletes an instance with its attributes and the Access
// Control instances that protect it.
func (t *Tree) removeLocked(o, i uint16) []Change {
	delete(t.inst[o], i)
	ip := InstancePath(o, i)
	for _, m := range t.attrs {
		for p := range m {
			if ip.Contains(p) {
				delete(m, p)
			}
		}
	}
	ch := []Change{{Kind: ChangeDeleted, Path: ip}}
	if o != AccessControlObjectID {
		for id, in := range t.inst[AccessControlObjectID] {
			if in.Int(0, -1) == int64(o) && in.Int(1, -1) == int64(i) {
				delete(t.inst[AccessControlObjectID], id)
				ch = append(ch, Change{Kind: ChangeDeleted, Path: InstancePath(AccessControlObjectID, id)})
			}
		}
	}
	return ch
}

func (t *Tree) bootstrapDeleteLocked(p Path) ([]Change, Code) {
	if p.Len() > 2 {
		return nil, BadRequest
	}
	if p.Len() >= 1 {
		if _, ok := t.defs[p.Object()]; !ok {
			return nil, NotFound
		}
	}
	t.beginBootstrapLocked()
	var ch []Change
	snap := t.snapshotLocked()
	for _, o := range slicesSortedKeys(t.inst) {
		if p.Len() >= 1 && o != p.Object() {
			continue
		}
		def := t.defs[o]
		if !def.Persist || o == DeviceObjectID {
			if p.Len() == 0 {
				continue
			}
			t.inst = snap
			return nil, BadRequest
		}
		for _, in := range sortedInstances(t.inst[o]) {
			if p.Len() == 2 && in.ID != p.Instance() {
				continue
			}
			if o == SecurityObjectID && in.Bool(1, false) {
				if p.Len() == 2 {
					t.inst = snap
					return nil, BadRequest
				}
				continue
			}
			if _, ok := t.inst[o][in.ID]; ok {
				ch = append(ch, t.removeLocked(o, in.ID)...)
			}
		}
	}
	if len(ch) > 0 {
		meta := t.meta
		t.meta.Origin = OriginBootstrap
		if err := t.persistLocked(); err != nil {
			t.inst, t.meta = snap, meta
			return nil, InternalServerError
		}
	}
	return ch, Deleted
}

func slicesSortedKeys[V any](m map[uint16]V) []uint16 {
	keys := make([]uint16, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ParseExecArgs parses Execute arguments (LwM2M-TS 1.0 §5.4.5):
//
//	arglist = arg *( "," arg );  arg = DIGIT [ "=" "'" *CHAR "'" ]
//
// where CHAR excludes "'". An empty payload is no arguments.
func ParseExecArgs(b []byte) ([]ExecArg, error) {
	s := string(b)
	if s == "" {
		return nil, nil
	}
	var out []ExecArg
	for off := 0; ; {
		if off >= len(s) || s[off] < '0' || s[off] > '9' {
			return nil, decodeErr("execute argument", off, ErrSyntax)
		}
		a := ExecArg{ID: int(s[off] - '0')}
		off++
		if off < len(s) && s[off] == '=' {
			if off+1 >= len(s) || s[off+1] != '\'' {
				return nil, decodeErr("execute argument value", off+1, ErrSyntax)
			}
			end := strings.IndexByte(s[off+2:], '\'')
			if end < 0 {
				return nil, decodeErr("execute argument value", off+2, ErrTruncated)
			}
			a.Value, a.HasValue = s[off+2:off+2+end], true
			off += 3 + end
		}
		out = append(out, a)
		if off == len(s) {
			return out, nil
		}
		if s[off] != ',' {
			return nil, decodeErr("execute argument list", off, ErrSyntax)
		}
		off++
	}
}

// Execute performs Execute (LwM2M-TS 1.0 §5.4.5) on a resource with the
// plain-text argument list args. The resource's action (for the standard
// objects: Hooks) runs after the checks, without the tree lock.
//
// Codes: 2.04 or the action's code; 4.00 (bad arguments), 4.01 (ACL), 4.04,
// 4.05 (not executable, or no hook wired).
func (t *Tree) Execute(c Caller, p Path, args []byte) Code {
	t.mu.Lock()
	if c.Kind == CallerBootstrap {
		t.mu.Unlock()
		return MethodNotAllowed
	}
	if !p.IsResource() {
		t.mu.Unlock()
		return MethodNotAllowed
	}
	def, code := t.visibleLocked(c, p)
	if code != 0 {
		t.mu.Unlock()
		return code
	}
	rd, ok := def.Resource(p.Resource())
	if !ok {
		t.mu.Unlock()
		return NotFound
	}
	if !rd.Ops.Has(OpExecute) || def.Execute == nil {
		t.mu.Unlock()
		return MethodNotAllowed
	}
	if !t.allowedLocked(c, p.Object(), p.Instance(), aclExecute) {
		t.mu.Unlock()
		return Unauthorized
	}
	t.mu.Unlock()
	parsed, err := ParseExecArgs(args)
	if err != nil {
		return BadRequest
	}
	code = def.Execute(p.Instance(), p.Resource(), parsed)
	t.log.Info("execute", "caller", c.String(), "path", p.String(), "code", code.String())
	return code
}

// disableTimeout reads Server resource 5 (default 86400 s, App. E.2).
func disableTimeout(in *Instance) time.Duration {
	return time.Duration(in.Int(5, 86400)) * time.Second
}
