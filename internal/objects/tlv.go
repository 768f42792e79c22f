package objects

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// TLVKind is the identifier type of a TLV entry (LwM2M-TS 1.0 §6.4.3
// Table 21, bits 7-6 of the type byte).
type TLVKind uint8

// The four identifier types.
const (
	TLVObjectInstance   TLVKind = 0 // value = nested resource TLVs
	TLVResourceInstance TLVKind = 1 // inside a multiple resource
	TLVMultipleResource TLVKind = 2 // value = nested resource-instance TLVs
	TLVResource         TLVKind = 3 // resource with value
)

// TLV is one decoded entry. Object instances and multiple resources carry
// Children; resources and resource instances carry Value (a copy, never
// aliasing the input).
type TLV struct {
	Kind     TLVKind
	ID       uint16
	Value    []byte
	Children []TLV
}

// TLVs is a sequence of sibling entries, the unit of a TLV payload.
type TLVs []TLV

// maxTLVLength is the largest value a 24-bit length field can carry.
const maxTLVLength = 1<<24 - 1

// DecodeTLV decodes a TLV payload (content format 11542).
//
//	type byte:  7-6 identifier type | 5 ID length (0: 8 bit, 1: 16 bit)
//	            4-3 length type (00: in bits 2-0, 01: 8, 10: 16, 11: 24 bit)
//	            2-0 value length when bits 4-3 are 00
//	then ID (1|2 octets, big-endian), length (0–3 octets, big-endian), value
//
// (LwM2M-TS 1.0 §6.4.3 Table 21). Object instances may contain only
// resources and multiple resources; multiple resources only resource
// instances (the nesting the clause allows).
func DecodeTLV(b []byte) (TLVs, error) {
	// One copy of the input backs every Value (capped slices, so an
	// append to one never reaches its neighbour): no aliasing of b, and
	// one allocation instead of one per value.
	return decodeTLVLevel(append([]byte(nil), b...), 0, 0)
}

// level 0 = top, 1 = inside an object instance, 2 = inside a multiple resource.
func decodeTLVLevel(b []byte, base int, level int) (TLVs, error) {
	var out TLVs
	for off := 0; off < len(b); {
		e, n, err := decodeTLVEntry(b[off:], base+off, level)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		off += n
	}
	return out, nil
}

func decodeTLVEntry(b []byte, at int, level int) (TLV, int, error) {
	typ := b[0]
	e := TLV{Kind: TLVKind(typ >> 6)}
	switch level {
	case 1:
		if e.Kind != TLVResource && e.Kind != TLVMultipleResource {
			return TLV{}, 0, decodeErr("tlv type", at, fmt.Errorf("%w: %d inside an object instance", ErrNesting, e.Kind))
		}
	case 2:
		if e.Kind != TLVResourceInstance {
			return TLV{}, 0, decodeErr("tlv type", at, fmt.Errorf("%w: %d inside a multiple resource", ErrNesting, e.Kind))
		}
	}
	off := 1
	idLen := 1 + int(typ>>5&1)
	if len(b) < off+idLen {
		return TLV{}, 0, decodeErr("tlv identifier", at+off, ErrTruncated)
	}
	if idLen == 1 {
		e.ID = uint16(b[off])
	} else {
		e.ID = binary.BigEndian.Uint16(b[off:])
	}
	off += idLen
	lenType := int(typ >> 3 & 3)
	length := int(typ & 7)
	if lenType > 0 {
		if len(b) < off+lenType {
			return TLV{}, 0, decodeErr("tlv length", at+off, ErrTruncated)
		}
		length = 0
		for _, c := range b[off : off+lenType] {
			length = length<<8 | int(c)
		}
		off += lenType
	}
	if len(b)-off < length {
		return TLV{}, 0, decodeErr("tlv value", at+off, ErrTruncated)
	}
	v := b[off : off+length]
	switch e.Kind {
	case TLVObjectInstance, TLVMultipleResource:
		next := 1
		if e.Kind == TLVMultipleResource {
			next = 2
		}
		ch, err := decodeTLVLevel(v, at+off, next)
		if err != nil {
			return TLV{}, 0, err
		}
		e.Children = ch
	default:
		e.Value = v[:len(v):len(v)]
	}
	return e, off + length, nil
}

// Append encodes the entries with the shortest identifier and length
// fields (8-bit IDs below 256, the length in the type byte up to 7).
func (ts TLVs) Append(dst []byte) ([]byte, error) {
	for _, e := range ts {
		var err error
		if dst, err = e.Append(dst); err != nil {
			return nil, err
		}
	}
	return dst, nil
}

// Append encodes one entry (and its children).
func (e TLV) Append(dst []byte) ([]byte, error) {
	if e.Kind > TLVResource {
		return nil, fmt.Errorf("objects: encode tlv: %w: kind %d", ErrBadType, e.Kind)
	}
	var val []byte
	switch e.Kind {
	case TLVObjectInstance, TLVMultipleResource:
		var err error
		if val, err = TLVs(e.Children).Append(nil); err != nil {
			return nil, err
		}
	default:
		val = e.Value
	}
	if len(val) > maxTLVLength {
		return nil, fmt.Errorf("objects: encode tlv %d: %w: %d bytes", e.ID, ErrBadLength, len(val))
	}
	typ := byte(e.Kind) << 6
	if e.ID > 0xff {
		typ |= 1 << 5
	}
	n := len(val)
	switch {
	case n <= 7:
		typ |= byte(n)
	case n <= 0xff:
		typ |= 1 << 3
	case n <= 0xffff:
		typ |= 2 << 3
	default:
		typ |= 3 << 3
	}
	dst = append(dst, typ)
	if e.ID > 0xff {
		dst = binary.BigEndian.AppendUint16(dst, e.ID)
	} else {
		dst = append(dst, byte(e.ID))
	}
	switch {
	case n <= 7:
	case n <= 0xff:
		dst = append(dst, byte(n))
	case n <= 0xffff:
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, val...), nil
}

// appendTLVValue encodes a value's bytes per App. C: integers in the
// fewest of 1, 2, 4 or 8 octets, floats in 4 octets when binary32 holds
// them exactly and 8 otherwise, booleans in one octet, objlnk in 4.
func appendTLVValue(dst []byte, v Value) []byte {
	switch v.typ {
	case TypeString, TypeOpaque:
		return append(dst, v.s...)
	case TypeInteger, TypeTime:
		i := v.i
		switch {
		case i >= math.MinInt8 && i <= math.MaxInt8:
			return append(dst, byte(i))
		case i >= math.MinInt16 && i <= math.MaxInt16:
			return binary.BigEndian.AppendUint16(dst, uint16(i))
		case i >= math.MinInt32 && i <= math.MaxInt32:
			return binary.BigEndian.AppendUint32(dst, uint32(i))
		}
		return binary.BigEndian.AppendUint64(dst, uint64(i))
	case TypeFloat:
		if f32 := float32(v.f); float64(f32) == v.f || math.IsNaN(v.f) {
			return binary.BigEndian.AppendUint32(dst, math.Float32bits(f32))
		}
		return binary.BigEndian.AppendUint64(dst, math.Float64bits(v.f))
	case TypeBoolean:
		return append(dst, byte(v.i))
	case TypeObjlnk:
		return binary.BigEndian.AppendUint32(dst, uint32(v.i))
	}
	return dst
}

// parseTLVValue decodes a resource value of type typ (App. C "TLV" column).
func parseTLVValue(b []byte, typ Type) (Value, error) {
	switch typ {
	case TypeString:
		if !utf8.Valid(b) {
			return Value{}, ErrInvalidUTF8
		}
		return StringValue(string(b)), nil
	case TypeOpaque:
		return OpaqueValue(b), nil
	case TypeInteger, TypeTime:
		var i int64
		switch len(b) {
		case 1:
			i = int64(int8(b[0]))
		case 2:
			i = int64(int16(binary.BigEndian.Uint16(b)))
		case 4:
			i = int64(int32(binary.BigEndian.Uint32(b)))
		case 8:
			i = int64(binary.BigEndian.Uint64(b))
		default:
			return Value{}, fmt.Errorf("%w: integer of %d bytes", ErrBadLength, len(b))
		}
		return Value{typ: typ, i: i}, nil
	case TypeFloat:
		switch len(b) {
		case 4:
			return FloatValue(float64(math.Float32frombits(binary.BigEndian.Uint32(b)))), nil
		case 8:
			return FloatValue(math.Float64frombits(binary.BigEndian.Uint64(b))), nil
		}
		return Value{}, fmt.Errorf("%w: float of %d bytes", ErrBadLength, len(b))
	case TypeBoolean:
		if len(b) != 1 || b[0] > 1 {
			return Value{}, fmt.Errorf("%w: boolean % x", ErrBadLength, b)
		}
		return BoolValue(b[0] == 1), nil
	case TypeObjlnk:
		if len(b) != 4 {
			return Value{}, fmt.Errorf("%w: objlnk of %d bytes", ErrBadLength, len(b))
		}
		return ObjlnkValue(Objlnk{binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:])}), nil
	}
	return Value{}, fmt.Errorf("%w: %s has no value", ErrBadType, typ)
}

// errTLVShape is returned when the entries do not fit the addressed level.
var errTLVShape = errors.New("tlv entries do not match the target path")
