package objects

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// decoded is a write/create payload turned into typed instances. An
// instance with ID MaxID came without an instance wrapper (Create where the
// client picks the ID). Unknown lists resources the object does not define.
type decoded struct {
	instances []*Instance
	unknown   []Path
}

// errSecretEncode guards the encoders: a secret value reaching one is a bug
// upstream (the access layer filters them), answered with 5.00.
var errSecretEncode = errors.New("objects: refusing to encode a secret value")

// errFormatTarget: the format cannot carry the addressed level (text or
// opaque for an instance, opaque for a non-opaque resource).
var errFormatTarget = errors.New("content format cannot represent the target")

// decodePayload decodes a Write/Create payload for path p of object def.
func decodePayload(def *ObjectDef, p Path, f ContentFormat, b []byte) (*decoded, error) {
	switch f.Canonical() {
	case FormatTLV:
		ts, err := DecodeTLV(b)
		if err != nil {
			return nil, err
		}
		return tlvToInstances(def, p, ts)
	case FormatJSON:
		doc, err := DecodeJSON(b)
		if err != nil {
			return nil, err
		}
		return jsonToInstances(def, p, doc)
	case FormatText, FormatOpaque:
		return singleToInstances(def, p, f.Canonical(), b)
	}
	return nil, errUnsupportedFormat
}

var errUnsupportedFormat = errors.New("unsupported content format")

func singleToInstances(def *ObjectDef, p Path, f ContentFormat, b []byte) (*decoded, error) {
	if p.Len() < 3 {
		return nil, errFormatTarget
	}
	rd, ok := def.Resource(p.Resource())
	if !ok {
		return &decoded{unknown: []Path{p}}, nil
	}
	if rd.Multiple && p.Len() == 3 {
		return nil, errFormatTarget
	}
	var v Value
	var err error
	if f == FormatOpaque {
		if rd.Type != TypeOpaque {
			return nil, errFormatTarget
		}
		v = OpaqueValue(b)
	} else if v, err = parseText(b, rd.Type); err != nil {
		return nil, decodeErr("text value", 0, err)
	}
	in := &Instance{ID: p.Instance()}
	if p.Len() == 4 {
		in.Set(MultiResource(rd.ID, map[uint16]Value{p.ResourceInstance(): v}))
	} else {
		in.Set(SingleResource(rd.ID, v))
	}
	return &decoded{instances: []*Instance{in}}, nil
}

func tlvToInstances(def *ObjectDef, p Path, ts TLVs) (*decoded, error) {
	d := &decoded{}
	switch p.Len() {
	case 1:
		if len(ts) == 0 {
			return d, nil
		}
		if ts[0].Kind == TLVObjectInstance {
			for _, e := range ts {
				if e.Kind != TLVObjectInstance {
					return nil, fmt.Errorf("%w: mixed object-instance and resource entries", errTLVShape)
				}
				if e.ID == MaxID {
					return nil, fmt.Errorf("%w: instance id 65535", errTLVShape)
				}
				in, err := tlvResources(def, p.Child(e.ID), e.Children, d)
				if err != nil {
					return nil, err
				}
				d.instances = append(d.instances, in)
			}
			return d, nil
		}
		in, err := tlvResources(def, p.Child(MaxID), ts, d)
		if err != nil {
			return nil, err
		}
		d.instances = []*Instance{in}
		return d, nil
	case 2:
		if len(ts) == 1 && ts[0].Kind == TLVObjectInstance {
			if ts[0].ID != p.Instance() {
				return nil, fmt.Errorf("%w: instance %d in payload for %s", errTLVShape, ts[0].ID, p)
			}
			ts = ts[0].Children
		}
		in, err := tlvResources(def, p, ts, d)
		if err != nil {
			return nil, err
		}
		d.instances = []*Instance{in}
		return d, nil
	case 3:
		if len(ts) != 1 || ts[0].ID != p.Resource() || (ts[0].Kind != TLVResource && ts[0].Kind != TLVMultipleResource) {
			return nil, fmt.Errorf("%w: want one entry for resource %s", errTLVShape, p)
		}
		in, err := tlvResources(def, p.Parent(), ts, d)
		if err != nil {
			return nil, err
		}
		d.instances = []*Instance{in}
		return d, nil
	case 4:
		if len(ts) != 1 || ts[0].Kind != TLVResourceInstance || ts[0].ID != p.ResourceInstance() {
			return nil, fmt.Errorf("%w: want one resource-instance entry for %s", errTLVShape, p)
		}
		wrapped := TLVs{{Kind: TLVMultipleResource, ID: p.Resource(), Children: ts}}
		in, err := tlvResources(def, p.Parent().Parent(), wrapped, d)
		if err != nil {
			return nil, err
		}
		d.instances = []*Instance{in}
		return d, nil
	}
	return nil, fmt.Errorf("%w: %s", errTLVShape, p)
}

// tlvResources types the resource entries of instance ip.
func tlvResources(def *ObjectDef, ip Path, ts TLVs, d *decoded) (*Instance, error) {
	in := &Instance{ID: ip.Instance(), Resources: map[uint16]Resource{}}
	for _, e := range ts {
		rp := ip.Child(e.ID)
		if e.Kind != TLVResource && e.Kind != TLVMultipleResource {
			return nil, fmt.Errorf("%w: entry kind %d for %s", errTLVShape, e.Kind, rp)
		}
		if _, dup := in.Resources[e.ID]; dup {
			return nil, fmt.Errorf("%w: resource %s twice", errTLVShape, rp)
		}
		rd, ok := def.Resource(e.ID)
		if !ok {
			d.unknown = append(d.unknown, rp)
			continue
		}
		if rd.Multiple != (e.Kind == TLVMultipleResource) {
			return nil, fmt.Errorf("%w: %s single/multiple mismatch", errTLVShape, rp)
		}
		if !rd.Multiple {
			v, err := parseTLVValue(e.Value, rd.Type)
			if err != nil {
				return nil, fmt.Errorf("decode %s: %w", rp, err)
			}
			in.Set(SingleResource(rd.ID, v))
			continue
		}
		vals := map[uint16]Value{}
		for _, c := range e.Children {
			if _, dup := vals[c.ID]; dup {
				return nil, fmt.Errorf("%w: %s/%d twice", errTLVShape, rp, c.ID)
			}
			v, err := parseTLVValue(c.Value, rd.Type)
			if err != nil {
				return nil, fmt.Errorf("decode %s/%d: %w", rp, c.ID, err)
			}
			vals[c.ID] = v
		}
		in.Set(Resource{ID: rd.ID, Multiple: true, Instances: vals})
	}
	return in, nil
}

// encodePayload renders instances read at path p. For a resource path the
// single instance holds the single resource; for a resource-instance path
// that resource holds the one instance.
func encodePayload(p Path, f ContentFormat, ins []*Instance) ([]byte, error) {
	switch f {
	case FormatTLV:
		ts, err := instancesToTLV(p, ins)
		if err != nil {
			return nil, err
		}
		return ts.Append(nil)
	case FormatJSON:
		doc, err := instancesToJSON(p, ins)
		if err != nil {
			return nil, err
		}
		return doc.Append(nil)
	case FormatText, FormatOpaque:
		v, err := singleValue(p, ins)
		if err != nil {
			return nil, err
		}
		if v.secret {
			return nil, errSecretEncode
		}
		if f == FormatOpaque {
			if v.typ != TypeOpaque {
				return nil, errFormatTarget
			}
			return v.Bytes(), nil
		}
		return v.appendText(nil), nil
	}
	return nil, errUnsupportedFormat
}

func singleValue(p Path, ins []*Instance) (Value, error) {
	if p.Len() < 3 || len(ins) != 1 {
		return Value{}, errFormatTarget
	}
	r, ok := ins[0].Resources[p.Resource()]
	if !ok {
		return Value{}, errFormatTarget
	}
	if p.Len() == 3 {
		if r.Multiple {
			return Value{}, errFormatTarget
		}
		return r.Value, nil
	}
	v, ok := r.Instances[p.ResourceInstance()]
	if !ok {
		return Value{}, errFormatTarget
	}
	return v, nil
}

func resourceTLV(r Resource) (TLV, error) {
	if !r.Multiple {
		if r.Value.secret {
			return TLV{}, errSecretEncode
		}
		return TLV{Kind: TLVResource, ID: r.ID, Value: appendTLVValue(nil, r.Value)}, nil
	}
	e := TLV{Kind: TLVMultipleResource, ID: r.ID, Children: []TLV{}}
	for _, id := range r.instanceIDs() {
		v := r.Instances[id]
		if v.secret {
			return TLV{}, errSecretEncode
		}
		e.Children = append(e.Children, TLV{Kind: TLVResourceInstance, ID: id, Value: appendTLVValue(nil, v)})
	}
	return e, nil
}

func instanceTLV(in *Instance) (TLVs, error) {
	var ts TLVs
	for _, id := range in.resourceIDs() {
		e, err := resourceTLV(in.Resources[id])
		if err != nil {
			return nil, err
		}
		ts = append(ts, e)
	}
	return ts, nil
}

// instancesToTLV follows §6.4.3: a request naming no instance is answered
// with object-instance entries; a multiple resource is always wrapped.
func instancesToTLV(p Path, ins []*Instance) (TLVs, error) {
	switch p.Len() {
	case 1:
		ts := TLVs{}
		for _, in := range ins {
			ch, err := instanceTLV(in)
			if err != nil {
				return nil, err
			}
			ts = append(ts, TLV{Kind: TLVObjectInstance, ID: in.ID, Children: ch})
		}
		return ts, nil
	case 2:
		if len(ins) != 1 {
			return nil, errFormatTarget
		}
		return instanceTLV(ins[0])
	case 3:
		if len(ins) != 1 {
			return nil, errFormatTarget
		}
		r, ok := ins[0].Resources[p.Resource()]
		if !ok {
			return nil, errFormatTarget
		}
		e, err := resourceTLV(r)
		if err != nil {
			return nil, err
		}
		return TLVs{e}, nil
	case 4:
		v, err := singleValue(p, ins)
		if err != nil {
			return nil, err
		}
		if v.secret {
			return nil, errSecretEncode
		}
		return TLVs{{Kind: TLVResourceInstance, ID: p.ResourceInstance(), Value: appendTLVValue(nil, v)}}, nil
	}
	return nil, errFormatTarget
}

// sortedInstances orders instances by ID.
func sortedInstances(m map[uint16]*Instance) []*Instance {
	out := make([]*Instance, 0, len(m))
	for _, id := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[id])
	}
	return out
}
