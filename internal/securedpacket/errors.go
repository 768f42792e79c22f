package securedpacket

import (
	"errors"
	"fmt"
)

// DecodeError reports where a packet failed to decode: the field (as named in
// TS 102 225 / TS 31.115), the octet offset from the start of the decoded
// input, and the cause.
type DecodeError struct {
	Field  string
	Offset int
	Err    error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("securedpacket: %s at octet %d: %v", e.Field, e.Offset, e.Err)
}

// Unwrap returns the cause, one of the sentinels below.
func (e *DecodeError) Unwrap() error { return e.Err }

func decodeErr(field string, off int, err error) error {
	return &DecodeError{Field: field, Offset: off, Err: err}
}

// Framing sentinels.
var (
	// ErrTruncated: the input ends before the field does.
	ErrTruncated = errors.New("truncated")
	// ErrLength: a length field (CPL, CHL, RPL, RHL, UDHL, IEDL) disagrees
	// with the octets present, or trailing octets follow the packet.
	ErrLength = errors.New("length mismatch")
	// ErrReserved: a reserved value or bit is set (TS 102 225 §5.1.1–§5.1.3).
	ErrReserved = errors.New("reserved value")
	// ErrNotSecuredPacket: the user data header has no CPI (0x70) or RPI
	// (0x71) information element.
	ErrNotSecuredPacket = errors.New("no command or response packet identifier")
	// ErrTooLong: the packet does not fit the length fields or the maximum
	// number of concatenated SMS.
	ErrTooLong = errors.New("too long")
)

// Security sentinels, in the order the receiving side meets them.
var (
	// ErrUnsupportedAlgorithm: the KIc/KID algorithm (or the SPI's RC/DS
	// choice) cannot be used to build or open a packet here: DES (parse
	// only), implicit, proprietary or reserved algorithms, RC and DS.
	ErrUnsupportedAlgorithm = errors.New("unsupported algorithm")
	// ErrKeyLength: the key does not fit the algorithm (AES 16/24/32,
	// 3DES 2-key 16, 3DES 3-key 24 octets).
	ErrKeyLength = errors.New("key length does not fit the algorithm")
	// ErrCipherLength: the ciphered part is not a whole number of blocks.
	ErrCipherLength = errors.New("ciphered part is not a multiple of the block size")
	// ErrChecksum: the cryptographic checksum does not verify.
	ErrChecksum = errors.New("cryptographic checksum mismatch")
	// ErrCounterLow: the counter is not higher than the stored value.
	ErrCounterLow = errors.New("counter too low")
	// ErrCounterHigh: mode "exactly one higher" and the counter jumped.
	ErrCounterHigh = errors.New("counter too high")
	// ErrCounterBlocked: the stored counter reached 0xFFFFFFFFFF.
	ErrCounterBlocked = errors.New("counter blocked")
	// ErrPadding: PCNTR exceeds the octets after the checksum.
	ErrPadding = errors.New("padding counter exceeds the secured data")
)
