package objects

import (
	"errors"
	"fmt"
)

// DecodeError says where a content-format decoder stopped: the element
// (Field, e.g. "tlv length" or "json e[3].v") and the byte offset in the
// payload.
type DecodeError struct {
	Field  string
	Offset int
	Err    error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("objects: %s at octet %d: %v", e.Field, e.Offset, e.Err)
}

// Unwrap gives the sentinel.
func (e *DecodeError) Unwrap() error { return e.Err }

// Sentinels for decode and validation failures; callers branch on them with
// errors.Is (all of them map to 4.00 Bad Request in an operation).
var (
	ErrTruncated   = errors.New("truncated")
	ErrTrailing    = errors.New("trailing bytes")
	ErrBadLength   = errors.New("invalid length for type")
	ErrNesting     = errors.New("invalid nesting")
	ErrInvalidUTF8 = errors.New("invalid utf-8")
	ErrBadNumber   = errors.New("invalid number")
	ErrBadBase64   = errors.New("invalid base64")
	ErrBadType     = errors.New("invalid type")
	ErrOutOfRange  = errors.New("value out of range")
	ErrSyntax      = errors.New("syntax error")
)

func decodeErr(field string, off int, err error) error {
	return &DecodeError{Field: field, Offset: off, Err: err}
}
