package objects

import (
	"fmt"
	"maps"
	"slices"
	"unicode/utf8"
)

// Ops are the operations the DM interface may perform on a resource
// (LwM2M-TS 1.0 App. E "Operations" column). Zero means "bootstrap only":
// no LwM2M Server reaches the resource.
type Ops uint8

// Operation bits.
const (
	OpRead Ops = 1 << iota
	OpWrite
	OpExecute
)

// Has reports whether all of o2 are in o.
func (o Ops) Has(o2 Ops) bool { return o&o2 == o2 }

// String gives "R", "RW", "E" or "-".
func (o Ops) String() string {
	s := ""
	if o.Has(OpRead) {
		s += "R"
	}
	if o.Has(OpWrite) {
		s += "W"
	}
	if o.Has(OpExecute) {
		s += "E"
	}
	if s == "" {
		return "-"
	}
	return s
}

// ResourceDef describes one resource of an object (LwM2M-TS 1.0 App. D).
type ResourceDef struct {
	ID        uint16
	Name      string
	Ops       Ops
	Multiple  bool
	Mandatory bool
	Type      Type
	// Min and Max bound Integer and Time values (inclusive) when HasRange.
	Min, Max int64
	HasRange bool
	// Lengths, when set, lists the byte lengths an Opaque or String value
	// may have; MaxLen (0 = none) bounds them otherwise.
	Lengths []int
	MaxLen  int
	// Secret resources are never readable by any server, never listed with
	// a value anywhere, and their values print as "[redacted]".
	Secret bool
	// Check is an extra per-value rule (nil: none).
	Check func(Value) error
}

// Validate checks a value against the definition: type, range, length
// and Check. The error wraps ErrBadType, ErrOutOfRange or ErrBadLength.
func (d *ResourceDef) Validate(v Value) error {
	if v.typ != d.Type {
		return fmt.Errorf("resource %d (%s): %w: %s, want %s", d.ID, d.Name, ErrBadType, v.typ, d.Type)
	}
	switch d.Type {
	case TypeFloat:
		if err := checkFinite(v); err != nil {
			return fmt.Errorf("resource %d (%s): %w", d.ID, d.Name, err)
		}
	case TypeInteger, TypeTime:
		if d.HasRange && (v.i < d.Min || v.i > d.Max) {
			return fmt.Errorf("resource %d (%s): %w: %d not in %d–%d", d.ID, d.Name, ErrOutOfRange, v.i, d.Min, d.Max)
		}
	case TypeString, TypeOpaque:
		if d.Type == TypeString && !utf8.ValidString(v.s) {
			return fmt.Errorf("resource %d (%s): %w", d.ID, d.Name, ErrInvalidUTF8)
		}
		if len(d.Lengths) > 0 && !slices.Contains(d.Lengths, len(v.s)) {
			return fmt.Errorf("resource %d (%s): %w: %d bytes, want one of %v", d.ID, d.Name, ErrBadLength, len(v.s), d.Lengths)
		}
		if d.MaxLen > 0 && len(v.s) > d.MaxLen {
			return fmt.Errorf("resource %d (%s): %w: %d bytes, at most %d", d.ID, d.Name, ErrBadLength, len(v.s), d.MaxLen)
		}
	}
	if d.Check != nil {
		if err := d.Check(v); err != nil {
			return fmt.Errorf("resource %d (%s): %w", d.ID, d.Name, err)
		}
	}
	return nil
}

// ExecArg is one Execute argument (LwM2M-TS 1.0 §5.4.5): a digit and an
// optional quoted value ("0='ab',1").
type ExecArg struct {
	ID       int
	Value    string
	HasValue bool
}

// ObjectDef describes an object (LwM2M-TS 1.0 App. D).
type ObjectDef struct {
	ID        uint16
	Name      string
	Multiple  bool
	Mandatory bool
	Resources []ResourceDef
	// Persist marks objects whose instances are durable state (Security,
	// Server, Access Control, and the writable Device resources).
	Persist bool
	// CheckInstance enforces rules across resources of one instance after
	// a server write and at Bootstrap-Finish (nil: none).
	CheckInstance func(*Instance) error
	// Live returns values computed at read time (clock, modem) for
	// resources that hold no stored value. It is called with the tree locked and must not
	// call into the Tree or block.
	Live func(inst, res uint16) (Resource, bool)
	// Execute runs an executable resource after the access checks. It is
	// called without the tree lock held; it may use the Tree.
	Execute func(inst, res uint16, args []ExecArg) Code
}

// Resource returns the definition of resource id.
func (d *ObjectDef) Resource(id uint16) (*ResourceDef, bool) {
	for k := range d.Resources {
		if d.Resources[k].ID == id {
			return &d.Resources[k], true
		}
	}
	return nil, false
}

// Resource is a resource's current content: one Value, or for a multiple
// resource the values by resource-instance ID.
type Resource struct {
	ID        uint16
	Multiple  bool
	Value     Value
	Instances map[uint16]Value
}

// SingleResource and MultiResource build Resource values.
func SingleResource(id uint16, v Value) Resource { return Resource{ID: id, Value: v} }

// MultiResource builds a multiple resource from instance values.
func MultiResource(id uint16, vals map[uint16]Value) Resource {
	return Resource{ID: id, Multiple: true, Instances: maps.Clone(vals)}
}

func (r Resource) clone() Resource {
	r.Instances = maps.Clone(r.Instances)
	return r
}

func (r Resource) equal(o Resource) bool {
	if r.ID != o.ID || r.Multiple != o.Multiple {
		return false
	}
	if !r.Multiple {
		return r.Value.Equal(o.Value)
	}
	return maps.EqualFunc(r.Instances, o.Instances, Value.Equal)
}

// instanceIDs returns the sorted resource-instance IDs.
func (r Resource) instanceIDs() []uint16 {
	return slices.Sorted(maps.Keys(r.Instances))
}

// Instance is an object instance: its resources by ID.
type Instance struct {
	ID        uint16
	Resources map[uint16]Resource
}

// Get returns resource id.
func (in *Instance) Get(id uint16) (Resource, bool) {
	r, ok := in.Resources[id]
	return r, ok
}

// Set stores r.
func (in *Instance) Set(r Resource) {
	if in.Resources == nil {
		in.Resources = map[uint16]Resource{}
	}
	in.Resources[r.ID] = r
}

// Int, Str, Bool, Bytes read single values with a default when absent.
func (in *Instance) Int(id uint16, def int64) int64 {
	if r, ok := in.Resources[id]; ok && !r.Multiple {
		return r.Value.Int()
	}
	return def
}

// Str returns a single String resource or def.
func (in *Instance) Str(id uint16, def string) string {
	if r, ok := in.Resources[id]; ok && !r.Multiple {
		return r.Value.Str()
	}
	return def
}

// Bool returns a single Boolean resource or def.
func (in *Instance) Bool(id uint16, def bool) bool {
	if r, ok := in.Resources[id]; ok && !r.Multiple {
		return r.Value.Bool()
	}
	return def
}

// Bytes returns a single Opaque resource or nil.
func (in *Instance) Bytes(id uint16) []byte {
	if r, ok := in.Resources[id]; ok && !r.Multiple {
		return r.Value.Bytes()
	}
	return nil
}

func (in *Instance) clone() *Instance {
	c := &Instance{ID: in.ID, Resources: make(map[uint16]Resource, len(in.Resources))}
	for id, r := range in.Resources {
		c.Resources[id] = r.clone()
	}
	return c
}

func (in *Instance) resourceIDs() []uint16 {
	return slices.Sorted(maps.Keys(in.Resources))
}
