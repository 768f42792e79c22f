package objects

// Exported value codecs for peers that build or check payloads themselves
// (the emulated server, tests). They refuse secret values: key material
// leaves the tree only as Secret.

// AppendTLV appends v's TLV value bytes (LwM2M-TS 1.0 App. C): the
// content of a resource or resource-instance entry.
func (v Value) AppendTLV(dst []byte) ([]byte, error) {
	if v.secret {
		return nil, errSecretEncode
	}
	return appendTLVValue(dst, v), nil
}

// DecodeTLVValue decodes the value bytes of a TLV entry as type t.
func DecodeTLVValue(b []byte, t Type) (Value, error) {
	v, err := parseTLVValue(b, t)
	if err != nil {
		return Value{}, decodeErr("tlv value", 0, err)
	}
	return v, nil
}

// AppendText appends v's plain-text form (content format 0).
func (v Value) AppendText(dst []byte) ([]byte, error) {
	if v.secret {
		return nil, errSecretEncode
	}
	return v.appendText(dst), nil
}

// ParseText decodes a plain-text payload as type t.
func ParseText(b []byte, t Type) (Value, error) {
	v, err := parseText(b, t)
	if err != nil {
		return Value{}, decodeErr("text value", 0, err)
	}
	return v, nil
}

// NewJSONEntry builds the JSON entry named name (relative to the base
// name) carrying v.
func NewJSONEntry(name string, v Value) (JSONEntry, error) { return jsonValue(name, v) }

// Value types the entry as t.
func (e JSONEntry) Value(t Type) (Value, error) { return parseJSONValue(e, t) }

// TLVResourceEntry builds the TLV entry of a resource: a resource with
// value, or a multiple resource wrapping its instances.
func TLVResourceEntry(r Resource) (TLV, error) { return resourceTLV(r) }
