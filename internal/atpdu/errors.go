package atpdu

import (
	"errors"
	"fmt"
)

// DecodeError reports where and why a PDU failed to decode: the TS 23.040
// field (e.g. "TP-UDL"), the octet offset of that field in the input, and the
// cause, which wraps one of the sentinel errors below.
type DecodeError struct {
	Field  string // TS 23.040 field name: "TP-OA", "TP-UDL", "SMSC", ...
	Offset int    // octet offset of the field in the decoded buffer
	Err    error  // the cause; errors.Is works through Unwrap
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("atpdu: %s at octet %d: %v", e.Field, e.Offset, e.Err)
}

// Unwrap returns the cause.
func (e *DecodeError) Unwrap() error { return e.Err }

// Sentinel causes. Decoders wrap them in a *DecodeError, encoders in an error
// that names the field.
var (
	// ErrTruncated: the input ends before the field does.
	ErrTruncated = errors.New("truncated")
	// ErrTrailingBytes: octets follow the end of the TPDU.
	ErrTrailingBytes = errors.New("trailing bytes after the TPDU")
	// ErrWrongType: TP-MTI names another message type.
	ErrWrongType = errors.New("wrong message type")
	// ErrCompressed: TP-DCS says the user data is compressed (TS 23.038 §4),
	// which this package does not implement.
	ErrCompressed = errors.New("compressed user data (TS 23.038 §4) is not supported")
	// ErrTooLong: user data over 140 octets / 160 septets (TS 23.040
	// §9.2.3.24), or a field over its maximum length.
	ErrTooLong = errors.New("too long")
	// ErrInvalid: a value the clause does not allow (a non-decimal BCD digit,
	// an address length over 20, a header that overruns the user data, ...).
	ErrInvalid = errors.New("invalid value")
	// ErrNotText: the user data is 8-bit data, not text.
	ErrNotText = errors.New("user data is 8-bit data, not text")
)

// reader walks a TPDU and produces *DecodeError with offsets. It never
// retains b beyond the decode call; callers copy what they keep.
type reader struct {
	b   []byte
	off int
}

func (r *reader) fail(field string, at int, err error) error {
	return &DecodeError{Field: field, Offset: at, Err: err}
}

func (r *reader) u8(field string) (byte, error) {
	if r.off >= len(r.b) {
		return 0, r.fail(field, r.off, ErrTruncated)
	}
	v := r.b[r.off]
	r.off++
	return v, nil
}

// next returns the next n octets as a sub-slice of the input (not a copy).
func (r *reader) next(field string, n int) ([]byte, error) {
	if n < 0 || len(r.b)-r.off < n {
		return nil, r.fail(field, r.off, ErrTruncated)
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v, nil
}

func (r *reader) end() error {
	if r.off != len(r.b) {
		return r.fail("TPDU", r.off, fmt.Errorf("%w: %d", ErrTrailingBytes, len(r.b)-r.off))
	}
	return nil
}

func encodeErr(field string, err error) error {
	return fmt.Errorf("atpdu: encode %s: %w", field, err)
}
