package objects

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// Type is an LwM2M resource data type (LwM2M-TS 1.0 App. C).
type Type uint8

// The data types of LwM2M 1.0.
const (
	TypeNone    Type = iota // Execute-only resources
	TypeString              // UTF-8
	TypeInteger             // signed 64-bit
	TypeFloat               // IEEE 754 binary32/binary64
	TypeBoolean             // true/false
	TypeOpaque              // bytes
	TypeTime                // Unix seconds, encoded as Integer
	TypeObjlnk              // object link ObjID:InstID
)

var typeNames = [...]string{"none", "string", "integer", "float", "boolean", "opaque", "time", "objlnk"}

// String names the type as the spec does, lower-case.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// Objlnk is an object link (LwM2M-TS 1.0 App. C): 16-bit object ID and
// 16-bit instance ID; 65535:65535 is the null link.
type Objlnk struct {
	Object, Instance uint16
}

// String gives "3:0".
func (l Objlnk) String() string { return fmt.Sprintf("%d:%d", l.Object, l.Instance) }

// Secret holds key material (PSKs, SIM keys). It prints and logs as
// "[redacted]" whatever verb or handler is used; the bytes are reachable
// only through Bytes.
type Secret struct{ b []byte }

// NewSecret copies b into a Secret.
func NewSecret(b []byte) Secret { return Secret{b: bytes.Clone(b)} }

// Bytes returns a copy of the key material.
func (s Secret) Bytes() []byte { return bytes.Clone(s.b) }

// Len is the key length in bytes (safe to log).
func (s Secret) Len() int { return len(s.b) }

// IsZero reports whether no key is set.
func (s Secret) IsZero() bool { return len(s.b) == 0 }

// Equal compares two secrets.
func (s Secret) Equal(o Secret) bool { return bytes.Equal(s.b, o.b) }

// String implements fmt.Stringer.
func (Secret) String() string { return "[redacted]" }

// GoString implements fmt.GoStringer.
func (Secret) GoString() string { return "[redacted]" }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Format implements fmt.Formatter so %x and %v print no key bytes.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[redacted]")) }

// MarshalText keeps secrets out of encoding/json and yaml output.
func (Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Value is one typed resource value. The zero Value has TypeNone. Values are
// immutable: constructors copy their input and accessors copy their output.
// A value stored in a secret resource is marked secret: String, GoString and
// LogValue then print "[redacted]".
type Value struct {
	typ    Type
	secret bool
	i      int64   // Integer, Time, Boolean (0/1), Objlnk (obj<<16|inst)
	f      float64 // Float
	s      string  // String; Opaque bytes as a string (immutable copy)
}

// String values, integers and so on.
func StringValue(s string) Value  { return Value{typ: TypeString, s: s} }
func IntValue(i int64) Value      { return Value{typ: TypeInteger, i: i} }
func FloatValue(f float64) Value  { return Value{typ: TypeFloat, f: f} }
func OpaqueValue(b []byte) Value  { return Value{typ: TypeOpaque, s: string(b)} }
func TimeValue(t time.Time) Value { return Value{typ: TypeTime, i: t.Unix()} }
func UnixValue(sec int64) Value   { return Value{typ: TypeTime, i: sec} }
func ObjlnkValue(l Objlnk) Value {
	return Value{typ: TypeObjlnk, i: int64(l.Object)<<16 | int64(l.Instance)}
}

// BoolValue is a Boolean value.
func BoolValue(b bool) Value {
	v := Value{typ: TypeBoolean}
	if b {
		v.i = 1
	}
	return v
}

// SecretValue is an Opaque value marked secret.
func SecretValue(s Secret) Value { return Value{typ: TypeOpaque, s: string(s.b), secret: true} }

// Type is the value's data type.
func (v Value) Type() Type { return v.typ }

// IsSecret reports whether the value came from or goes to a secret resource.
func (v Value) IsSecret() bool { return v.secret }

// Int returns Integer and Time values (and Boolean as 0/1).
func (v Value) Int() int64 { return v.i }

// Float returns Float values, and Integer/Time converted.
func (v Value) Float() float64 {
	if v.typ == TypeFloat {
		return v.f
	}
	return float64(v.i)
}

// Bool returns Boolean values.
func (v Value) Bool() bool { return v.i != 0 }

// Str returns String values.
func (v Value) Str() string {
	if v.typ == TypeString {
		return v.s
	}
	return ""
}

// Bytes returns a copy of an Opaque value (also of a secret one: callers
// that reach secrets do so through the internal-only accessors of Tree).
func (v Value) Bytes() []byte {
	if v.typ == TypeOpaque {
		return []byte(v.s)
	}
	return nil
}

// Secret returns an Opaque value as a Secret.
func (v Value) Secret() Secret { return Secret{b: v.Bytes()} }

// Time returns Time values.
func (v Value) Time() time.Time { return time.Unix(v.i, 0).UTC() }

// Objlnk returns Objlnk values.
func (v Value) Objlnk() Objlnk { return Objlnk{Object: uint16(v.i >> 16), Instance: uint16(v.i)} }

// Numeric reports whether gt/lt/st attributes apply (Integer, Float, Time).
func (v Value) Numeric() bool {
	return v.typ == TypeInteger || v.typ == TypeFloat || v.typ == TypeTime
}

// Equal compares type, secrecy and content. Floats compare by bits so NaN
// equals itself (a stored value compared with itself is unchanged).
func (v Value) Equal(o Value) bool {
	if v.typ != o.typ || v.secret != o.secret || v.i != o.i || v.s != o.s {
		return false
	}
	return math.Float64bits(v.f) == math.Float64bits(o.f)
}

// String is the plain-text form (LwM2M-TS 1.0 App. C column "Plain text");
// secrets print "[redacted]".
func (v Value) String() string {
	if v.secret {
		return "[redacted]"
	}
	return string(v.appendText(nil))
}

// GoString keeps secrets out of %#v.
func (v Value) GoString() string {
	if v.secret {
		return "objects.Value{[redacted]}"
	}
	return fmt.Sprintf("objects.Value{%s %q}", v.typ, v.String())
}

// LogValue implements slog.LogValuer.
func (v Value) LogValue() slog.Value { return slog.StringValue(v.String()) }

// appendText renders the plain-text form (App. C): integers and time in
// decimal, floats in the shortest decimal, booleans "0"/"1", opaque in
// Base64 (RFC 4648 §4), objlnk "O:I".
func (v Value) appendText(dst []byte) []byte {
	switch v.typ {
	case TypeString:
		return append(dst, v.s...)
	case TypeInteger, TypeTime:
		return strconv.AppendInt(dst, v.i, 10)
	case TypeFloat:
		return strconv.AppendFloat(dst, v.f, 'g', -1, 64)
	case TypeBoolean:
		return strconv.AppendInt(dst, v.i, 10)
	case TypeOpaque:
		return base64.StdEncoding.AppendEncode(dst, []byte(v.s))
	case TypeObjlnk:
		l := v.Objlnk()
		dst = strconv.AppendUint(dst, uint64(l.Object), 10)
		dst = append(dst, ':')
		return strconv.AppendUint(dst, uint64(l.Instance), 10)
	}
	return dst
}

// parseText decodes the plain-text form of typ (App. C).
func parseText(b []byte, typ Type) (Value, error) {
	s := string(b)
	switch typ {
	case TypeString:
		if !utf8.Valid(b) {
			return Value{}, ErrInvalidUTF8
		}
		return StringValue(s), nil
	case TypeInteger, TypeTime:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Value{}, fmt.Errorf("%w: %q", ErrBadNumber, s)
		}
		return Value{typ: typ, i: i}, nil
	case TypeFloat:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || len(s) == 0 || !isDecimal(s) {
			return Value{}, fmt.Errorf("%w: %q", ErrBadNumber, s)
		}
		return FloatValue(f), nil
	case TypeBoolean:
		switch s {
		case "0":
			return BoolValue(false), nil
		case "1":
			return BoolValue(true), nil
		}
		return Value{}, fmt.Errorf("%w: boolean %q", ErrBadNumber, s)
	case TypeOpaque:
		d, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return Value{}, fmt.Errorf("%w: %w", ErrBadBase64, err)
		}
		return OpaqueValue(d), nil
	case TypeObjlnk:
		return parseObjlnk(s)
	}
	return Value{}, fmt.Errorf("%w: no text form for %s", ErrBadType, typ)
}

// isDecimal rejects the forms strconv accepts but App. C's "ASCII decimal"
// does not: Inf, NaN, hex floats, underscores.
func isDecimal(s string) bool {
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E') {
			return false
		}
	}
	return true
}

func parseObjlnk(s string) (Value, error) {
	o, i, ok := cut(s, ':')
	if !ok {
		return Value{}, fmt.Errorf("%w: objlnk %q", ErrBadNumber, s)
	}
	ov, err1 := strconv.ParseUint(o, 10, 16)
	iv, err2 := strconv.ParseUint(i, 10, 16)
	if err1 != nil || err2 != nil {
		return Value{}, fmt.Errorf("%w: objlnk %q", ErrBadNumber, s)
	}
	return ObjlnkValue(Objlnk{uint16(ov), uint16(iv)}), nil
}

func cut(s string, sep byte) (string, string, bool) {
	for k := 0; k < len(s); k++ {
		if s[k] == sep {
			return s[:k], s[k+1:], true
		}
	}
	return s, "", false
}
