package objects

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// JSONDoc is an LwM2M JSON payload (content format 11543,
// LwM2M-TS 1.0 §6.4.4):
//
//	{"bn":"/3/0/","bt":…,"e":[{"n":"0","sv":"Open Mobile Alliance"},{"n":"6/0","v":1},…]}
//
// Entry names are relative to the base name; each entry carries exactly one
// of v (number), bv (boolean), sv (string; Base64 for Opaque) or ov (object
// link "O:I"), and an optional time t.
type JSONDoc struct {
	BaseName string
	BaseTime json.Number // "" when absent
	Entries  []JSONEntry
}

// JSONValueKind says which value member an entry carries.
type JSONValueKind uint8

// Value members of a JSON entry.
const (
	JSONNumber JSONValueKind = iota + 1 // "v"
	JSONBool                            // "bv"
	JSONString                          // "sv"
	JSONObjlnk                          // "ov"
)

// JSONEntry is one element of "e".
type JSONEntry struct {
	Name   string
	Kind   JSONValueKind
	Number json.Number // Kind JSONNumber, the literal as received
	Bool   bool        // Kind JSONBool
	Str    string      // Kind JSONString or JSONObjlnk
	Time   json.Number // "" when absent
}

type jsonWireEntry struct {
	N  *string      `json:"n"`
	V  *json.Number `json:"v"`
	BV *bool        `json:"bv"`
	SV *string      `json:"sv"`
	OV *string      `json:"ov"`
	T  *json.Number `json:"t"`
}

type jsonWireDoc struct {
	BN *string          `json:"bn"`
	BT *json.Number     `json:"bt"`
	E  *[]jsonWireEntry `json:"e"`
}

// DecodeJSON decodes an LwM2M JSON payload. Unknown members, a missing "e",
// entries with no or several values, and trailing data are errors.
func DecodeJSON(b []byte) (JSONDoc, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var w jsonWireDoc
	if err := dec.Decode(&w); err != nil {
		return JSONDoc{}, decodeErr("json", int(dec.InputOffset()), fmt.Errorf("%w: %w", ErrSyntax, err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return JSONDoc{}, decodeErr("json", int(dec.InputOffset()), ErrTrailing)
	}
	if w.E == nil {
		return JSONDoc{}, decodeErr("json e", 0, fmt.Errorf("%w: no \"e\" array", ErrSyntax))
	}
	var doc JSONDoc
	if w.BN != nil {
		doc.BaseName = *w.BN
	}
	if w.BT != nil {
		doc.BaseTime = *w.BT
	}
	doc.Entries = make([]JSONEntry, 0, len(*w.E))
	for k, we := range *w.E {
		var e JSONEntry
		if we.N != nil {
			e.Name = *we.N
		}
		if we.T != nil {
			e.Time = *we.T
		}
		n := 0
		if we.V != nil {
			n++
			e.Kind, e.Number = JSONNumber, *we.V
		}
		if we.BV != nil {
			n++
			e.Kind, e.Bool = JSONBool, *we.BV
		}
		if we.SV != nil {
			n++
			e.Kind, e.Str = JSONString, *we.SV
		}
		if we.OV != nil {
			n++
			e.Kind, e.Str = JSONObjlnk, *we.OV
		}
		if n != 1 {
			return JSONDoc{}, decodeErr(fmt.Sprintf("json e[%d]", k), 0, fmt.Errorf("%w: %d value members, want 1", ErrSyntax, n))
		}
		doc.Entries = append(doc.Entries, e)
	}
	return doc, nil
}

// Append encodes the document compactly with members in a fixed order
// (bn, bt, e; n, value, t).
func (d JSONDoc) Append(dst []byte) ([]byte, error) {
	dst = append(dst, '{')
	if d.BaseName != "" {
		dst = append(dst, `"bn":`...)
		dst = appendJSONString(dst, d.BaseName)
		dst = append(dst, ',')
	}
	if d.BaseTime != "" {
		if !validJSONNumber(d.BaseTime) {
			return nil, fmt.Errorf("objects: encode json bt: %w", ErrBadNumber)
		}
		dst = append(dst, `"bt":`...)
		dst = append(dst, d.BaseTime...)
		dst = append(dst, ',')
	}
	dst = append(dst, `"e":[`...)
	for k, e := range d.Entries {
		if k > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		if e.Name != "" {
			dst = append(dst, `"n":`...)
			dst = appendJSONString(dst, e.Name)
			dst = append(dst, ',')
		}
		switch e.Kind {
		case JSONNumber:
			if !validJSONNumber(e.Number) {
				return nil, fmt.Errorf("objects: encode json e[%d].v %q: %w", k, e.Number, ErrBadNumber)
			}
			dst = append(dst, `"v":`...)
			dst = append(dst, e.Number...)
		case JSONBool:
			dst = append(dst, `"bv":`...)
			dst = strconv.AppendBool(dst, e.Bool)
		case JSONString:
			dst = append(dst, `"sv":`...)
			dst = appendJSONString(dst, e.Str)
		case JSONObjlnk:
			dst = append(dst, `"ov":`...)
			dst = appendJSONString(dst, e.Str)
		default:
			return nil, fmt.Errorf("objects: encode json e[%d]: %w: kind %d", k, ErrBadType, e.Kind)
		}
		if e.Time != "" {
			if !validJSONNumber(e.Time) {
				return nil, fmt.Errorf("objects: encode json e[%d].t: %w", k, ErrBadNumber)
			}
			dst = append(dst, `,"t":`...)
			dst = append(dst, e.Time...)
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}"...), nil
}

func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}

func validJSONNumber(n json.Number) bool {
	var v json.Number
	return json.Unmarshal([]byte(n), &v) == nil && string(v) == string(n)
}

// jsonValue renders a value as an entry member (App. C; §6.4.4).
func jsonValue(name string, v Value) (JSONEntry, error) {
	e := JSONEntry{Name: name}
	switch v.typ {
	case TypeInteger, TypeTime:
		e.Kind, e.Number = JSONNumber, json.Number(strconv.FormatInt(v.i, 10))
	case TypeFloat:
		n := json.Number(strconv.FormatFloat(v.f, 'g', -1, 64))
		if !validJSONNumber(n) {
			return JSONEntry{}, fmt.Errorf("objects: encode json %s: %w: %v", name, ErrOutOfRange, v.f)
		}
		e.Kind, e.Number = JSONNumber, n
	case TypeBoolean:
		e.Kind, e.Bool = JSONBool, v.Bool()
	case TypeString:
		e.Kind, e.Str = JSONString, v.s
	case TypeOpaque:
		if v.secret {
			return JSONEntry{}, errSecretEncode
		}
		e.Kind, e.Str = JSONString, base64.StdEncoding.EncodeToString([]byte(v.s))
	case TypeObjlnk:
		e.Kind, e.Str = JSONObjlnk, v.Objlnk().String()
	default:
		return JSONEntry{}, fmt.Errorf("objects: encode json %s: %w: %s", name, ErrBadType, v.typ)
	}
	return e, nil
}

// parseJSONValue types an entry for resource type typ.
func parseJSONValue(e JSONEntry, typ Type) (Value, error) {
	switch typ {
	case TypeInteger, TypeTime:
		if e.Kind != JSONNumber {
			break
		}
		i, err := strconv.ParseInt(string(e.Number), 10, 64)
		if err != nil {
			return Value{}, fmt.Errorf("%w: %q", ErrBadNumber, e.Number)
		}
		return Value{typ: typ, i: i}, nil
	case TypeFloat:
		if e.Kind != JSONNumber {
			break
		}
		f, err := strconv.ParseFloat(string(e.Number), 64)
		if err != nil {
			return Value{}, fmt.Errorf("%w: %q", ErrBadNumber, e.Number)
		}
		return FloatValue(f), nil
	case TypeBoolean:
		if e.Kind == JSONBool {
			return BoolValue(e.Bool), nil
		}
	case TypeString:
		if e.Kind == JSONString {
			return StringValue(e.Str), nil
		}
	case TypeOpaque:
		if e.Kind == JSONString {
			b, err := base64.StdEncoding.DecodeString(e.Str)
			if err != nil {
				return Value{}, fmt.Errorf("%w: %w", ErrBadBase64, err)
			}
			return OpaqueValue(b), nil
		}
	case TypeObjlnk:
		if e.Kind == JSONObjlnk {
			return parseObjlnk(e.Str)
		}
	}
	return Value{}, fmt.Errorf("%w: json member kind %d for %s", ErrBadType, e.Kind, typ)
}

// basePath gives the bn for a read at p and the name prefix depth: objects
// and instances use their own path, resources and resource instances the
// instance path, so names are "R" or "R/RI" as in the §6.4.4 example.
func jsonBase(p Path) Path {
	for p.Len() > 2 {
		p = p.Parent()
	}
	return p
}

func instancesToJSON(p Path, ins []*Instance) (JSONDoc, error) {
	if p.Len() == 0 {
		return JSONDoc{}, errFormatTarget
	}
	base := jsonBase(p)
	doc := JSONDoc{BaseName: base.String() + "/", Entries: []JSONEntry{}}
	add := func(rp Path, v Value) error {
		segs := rp.Segments()[base.Len():]
		e, err := jsonValue(strings.Join(segs, "/"), v)
		if err != nil {
			return err
		}
		doc.Entries = append(doc.Entries, e)
		return nil
	}
	for _, in := range ins {
		ip := InstancePath(p.Object(), in.ID)
		for _, rid := range in.resourceIDs() {
			if p.Len() >= 3 && rid != p.Resource() {
				continue
			}
			r := in.Resources[rid]
			rp := ip.Child(rid)
			if !r.Multiple {
				if err := add(rp, r.Value); err != nil {
					return JSONDoc{}, err
				}
				continue
			}
			for _, ri := range r.instanceIDs() {
				if p.Len() == 4 && ri != p.ResourceInstance() {
					continue
				}
				if err := add(rp.Child(ri), r.Instances[ri]); err != nil {
					return JSONDoc{}, err
				}
			}
		}
	}
	return doc, nil
}

func jsonToInstances(def *ObjectDef, p Path, doc JSONDoc) (*decoded, error) {
	d := &decoded{}
	byID := map[uint16]*Instance{}
	var order []uint16
	for k, e := range doc.Entries {
		full, err := ParsePath(doc.BaseName + e.Name)
		if err != nil {
			return nil, decodeErr(fmt.Sprintf("json e[%d].n", k), 0, err)
		}
		if full.Len() < 3 || !p.Contains(full) || full.Object() != def.ID {
			return nil, decodeErr(fmt.Sprintf("json e[%d].n", k), 0, fmt.Errorf("%w: %s outside %s", errTLVShape, full, p))
		}
		rd, ok := def.Resource(full.Resource())
		if !ok {
			d.unknown = append(d.unknown, full)
			continue
		}
		if rd.Multiple != (full.Len() == 4) {
			return nil, decodeErr(fmt.Sprintf("json e[%d].n", k), 0, fmt.Errorf("%w: %s single/multiple mismatch", errTLVShape, full))
		}
		v, err := parseJSONValue(e, rd.Type)
		if err != nil {
			return nil, decodeErr(fmt.Sprintf("json e[%d]", k), 0, err)
		}
		in, ok := byID[full.Instance()]
		if !ok {
			in = &Instance{ID: full.Instance(), Resources: map[uint16]Resource{}}
			byID[in.ID] = in
			order = append(order, in.ID)
		}
		r, exists := in.Resources[rd.ID]
		if !rd.Multiple {
			if exists {
				return nil, decodeErr(fmt.Sprintf("json e[%d].n", k), 0, fmt.Errorf("%w: %s twice", errTLVShape, full))
			}
			in.Set(SingleResource(rd.ID, v))
			continue
		}
		if !exists {
			r = Resource{ID: rd.ID, Multiple: true, Instances: map[uint16]Value{}}
		}
		if _, dup := r.Instances[full.ResourceInstance()]; dup {
			return nil, decodeErr(fmt.Sprintf("json e[%d].n", k), 0, fmt.Errorf("%w: %s twice", errTLVShape, full))
		}
		r.Instances[full.ResourceInstance()] = v
		in.Set(r)
	}
	for _, id := range order {
		d.instances = append(d.instances, byID[id])
	}
	if p.Len() >= 2 && len(d.instances) == 0 {
		d.instances = []*Instance{{ID: p.Instance(), Resources: map[uint16]Resource{}}}
	}
	return d, nil
}
