package uicc

import (
	"errors"
	"fmt"
)

// DecodeError reports where an APDU, TLV or data_rcv record failed to
// decode.
type DecodeError struct {
	Field  string
	Offset int
	Err    error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("uicc: %s at octet %d: %v", e.Field, e.Offset, e.Err)
}

// Unwrap returns the cause.
func (e *DecodeError) Unwrap() error { return e.Err }

func decodeErr(field string, off int, err error) error {
	return &DecodeError{Field: field, Offset: off, Err: err}
}

// Codec sentinels.
var (
	// ErrTruncated: the input ends before the field does.
	ErrTruncated = errors.New("truncated")
	// ErrLength: a length disagrees with the octets present, or does not
	// fit a short APDU.
	ErrLength = errors.New("length mismatch")
	// ErrTag: an unexpected tag.
	ErrTag = errors.New("unexpected tag")
)

// StatusError is a status word the operation did not expect: the card
// answered, but not with success. Callers branch on SW.
type StatusError struct {
	Op string     // "select", "get data", ...
	SW StatusWord // the card's answer
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("uicc: %s: status %s", e.Op, e.SW)
}

// TransportError is a failure of the APDU transport: the card (or the modem
// in front of it) gave no response APDU, e.g. "+CME ERROR: 13" (SIM
// failure) or a timeout of AT+CSIM. Err is the transport's error, so
// errors.As still finds the modem driver's typed error.
type TransportError struct {
	CLA, INS byte  // the command that got no answer
	Err      error // the transport's error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("uicc: transmit %02x%02x: %v", e.CLA, e.INS, e.Err)
}

// Unwrap returns the transport's error.
func (e *TransportError) Unwrap() error { return e.Err }
