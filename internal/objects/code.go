package objects

import "fmt"

// Code is a CoAP response code (RFC 7252 §12.1.2: class<<5 | detail). The
// engine copies it into the CoAP response unchanged; operations return it
// as a value because a refused request is an answer to the peer, not a Go
// error (style.md rule 8).
type Code uint8

// Response codes used by the LwM2M operations (LwM2M-TS 1.0 §8.5;
// RFC 7252 §12.1.2).
const (
	Created             Code = 2<<5 | 1  // 2.01
	Deleted             Code = 2<<5 | 2  // 2.02
	Changed             Code = 2<<5 | 4  // 2.04
	Content             Code = 2<<5 | 5  // 2.05
	BadRequest          Code = 4<<5 | 0  // 4.00
	Unauthorized        Code = 4<<5 | 1  // 4.01
	NotFound            Code = 4<<5 | 4  // 4.04
	MethodNotAllowed    Code = 4<<5 | 5  // 4.05
	NotAcceptable       Code = 4<<5 | 6  // 4.06
	UnsupportedFormat   Code = 4<<5 | 15 // 4.15
	InternalServerError Code = 5<<5 | 0  // 5.00
)

// Success reports whether c is a 2.xx code.
func (c Code) Success() bool { return c>>5 == 2 }

// String gives the dotted form, "2.05".
func (c Code) String() string { return fmt.Sprintf("%d.%02d", c>>5, c&0x1f) }
