package securedpacket

import (
	"encoding/binary"
	"fmt"
)

// Command Packet for SMS-PP, after the user data header (TS 31.115 §4.2,
// TS 102 225 §5.1; secured-packet.md §1):
//
//	+-----+-----+-----+-----+-----+-----+------+-------+----------+--------------+---------+
//	| CPL | CHL | SPI | KIc | KID | TAR | CNTR | PCNTR | RC/CC/DS | secured data | padding |
//	| 2   | 1   | 2   | 1   | 1   | 3   | 5    | 1     | 0/4/8    | n            | PCNTR   |
//	+-----+-----+-----+-----+-----+-----+------+-------+----------+--------------+---------+
//	                                    |<------- ciphered when SPI first octet b3 = 1 ------->|
//
// CPL counts the octets from CHL to the end of the padding; CHL the octets
// from SPI to the end of RC/CC/DS (13 + its length).
const (
	cplLen        = 2
	cmdClearLen   = 1 + 2 + 1 + 1 + 3 // CHL, SPI, KIc, KID, TAR
	cntrLen       = 5
	cmdChlFixed   = 13          // SPI(2) KIc KID TAR(3) CNTR(5) PCNTR
	cmdFixedPlain = cntrLen + 1 // CNTR, PCNTR
	maxCounter    = 1<<40 - 1
)

// MaxCounter is the largest CNTR value; a Receiving Entity that stored it
// is blocked (TS 102 225 §5.1.4, status 0x04).
const MaxCounter uint64 = maxCounter

// Header is the clear part of a command packet that selects the keys and
// the checks: SPI, KIc, KID and TAR. A response packet is read with the
// Header of the command it answers.
type Header struct {
	SPI SPI
	KIc KeyRef
	KID KeyRef
	TAR TAR
}

// Command is a command packet's content in clear.
type Command struct {
	Header
	Counter uint64 // CNTR, 40 bits
	Data    []byte // secured data (for LwM2M: the BER-TLV of §9)
}

// CommandPacket is a command packet as on the wire, decoded without keys:
// the clear header, and the secured part still ciphered when the SPI says
// so. DecodeCommandPacket and Append are exact inverses.
type CommandPacket struct {
	Header
	// ChecksumLen is the RC/CC/DS length announced by CHL (CHL − 13).
	ChecksumLen int
	// Secured is CNTR through the padding, as received (an owned copy).
	Secured []byte
}

// SealCommand builds the command packet for c (CPL through the padding,
// without the user data header) and appends it to dst: padding to the
// cipher block size counted in PCNTR, the checksum over the clear layout,
// then ciphering of CNTR..padding with a zero IV (secured-packet.md §4–5).
func SealCommand(dst []byte, c Command, keys Keys) ([]byte, error) {
	if err := c.SPI.Validate(); err != nil {
		return nil, err
	}
	if c.Counter > maxCounter {
		return nil, fmt.Errorf("securedpacket: counter %d exceeds 40 bits: %w", c.Counter, ErrTooLong)
	}
	ccl, err := checksumLen(c.SPI.Integrity, c.KID)
	if err != nil {
		return nil, err
	}
	pcntr := 0
	if c.SPI.Ciphered {
		bs, err := blockSize(c.KIc)
		if err != nil {
			return nil, err
		}
		pcntr = padLen(cmdFixedPlain+ccl+len(c.Data), bs)
	}
	cpl := 1 + cmdChlFixed + ccl + len(c.Data) + pcntr
	if cpl > 0xFFFF {
		return nil, fmt.Errorf("securedpacket: command packet of %d octets: %w", cpl, ErrTooLong)
	}
	start := len(dst)
	dst = binary.BigEndian.AppendUint16(dst, uint16(cpl))
	dst = append(dst, byte(cmdChlFixed+ccl))
	spi := c.SPI.Bytes()
	dst = append(dst, spi[0], spi[1], byte(c.KIc), byte(c.KID))
	dst = append(dst, c.TAR[:]...)
	dst = appendCounter(dst, c.Counter)
	dst = append(dst, byte(pcntr))
	ccAt := len(dst)
	dst = append(dst, make([]byte, ccl)...)
	dst = append(dst, c.Data...)
	dst = append(dst, make([]byte, pcntr)...) // padding octets 00 (secured-packet.md §4)
	if ccl > 0 {
		// TS 102 225 §5.1.3 via secured-packet.md §5: CPL..PCNTR ‖ data ‖
		// padding, the CC field itself excluded, no UDH.
		cc, err := checksum(nil, c.SPI.Integrity, c.KID, keys, dst[start:ccAt], dst[ccAt+ccl:])
		if err != nil {
			return nil, err
		}
		copy(dst[ccAt:], cc)
	}
	if c.SPI.Ciphered {
		b, err := cipherBlock(c.KIc, keys)
		if err != nil {
			return nil, err
		}
		encryptCBC(b, dst[start+cplLen+cmdClearLen:])
	}
	return dst, nil
}

// DecodeCommandPacket decodes a command packet (CPL through the padding, no
// user data header). b must hold exactly CPL + 2 octets. The result does
// not alias b.
func DecodeCommandPacket(b []byte) (CommandPacket, error) {
	var p CommandPacket
	if len(b) < cplLen {
		return p, decodeErr("CPL", 0, ErrTruncated)
	}
	cpl := int(binary.BigEndian.Uint16(b))
	if len(b) < cplLen+1 {
		return p, decodeErr("CHL", cplLen, ErrTruncated)
	}
	chl := int(b[cplLen])
	if chl < cmdChlFixed {
		return p, decodeErr("CHL", cplLen, ErrLength)
	}
	if len(b) < cplLen+cmdClearLen {
		return p, decodeErr("command header", len(b), ErrTruncated)
	}
	spi, err := DecodeSPI(b[3:5])
	if err != nil {
		return p, decodeErr("SPI", 3, err)
	}
	if len(b) < cplLen+1+chl {
		return p, decodeErr("command header", len(b), ErrTruncated)
	}
	if len(b) < cplLen+cpl {
		return p, decodeErr("secured data", len(b), ErrTruncated)
	}
	if len(b) > cplLen+cpl {
		return p, decodeErr("CPL", 0, ErrLength)
	}
	if cpl < 1+chl {
		return p, decodeErr("CPL", 0, ErrLength)
	}
	p.SPI = spi
	p.KIc = KeyRef(b[5])
	p.KID = KeyRef(b[6])
	copy(p.TAR[:], b[7:10])
	p.ChecksumLen = chl - cmdChlFixed
	p.Secured = append([]byte(nil), b[cplLen+cmdClearLen:]...)
	return p, nil
}

// Append encodes the packet as received: CPL and CHL recomputed from
// ChecksumLen and Secured.
func (p CommandPacket) Append(dst []byte) ([]byte, error) {
	if err := p.SPI.Validate(); err != nil {
		return nil, err
	}
	if p.ChecksumLen < 0 || cmdChlFixed+p.ChecksumLen > 0xFF {
		return nil, fmt.Errorf("securedpacket: checksum length %d: %w", p.ChecksumLen, ErrLength)
	}
	if len(p.Secured) < cmdFixedPlain+p.ChecksumLen {
		return nil, fmt.Errorf("securedpacket: secured part of %d octets: %w", len(p.Secured), ErrTruncated)
	}
	cpl := cmdClearLen + len(p.Secured)
	if cpl > 0xFFFF {
		return nil, fmt.Errorf("securedpacket: command packet of %d octets: %w", cpl, ErrTooLong)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(cpl))
	spi := p.SPI.Bytes()
	dst = append(dst, byte(cmdChlFixed+p.ChecksumLen), spi[0], spi[1], byte(p.KIc), byte(p.KID))
	dst = append(dst, p.TAR[:]...)
	return append(dst, p.Secured...), nil
}

// Plain is the secured part of a command packet after deciphering, before
// any check: what was received, for display and for the checks.
type Plain struct {
	Counter  uint64 // CNTR
	PCNTR    int    // padding counter
	Checksum []byte // RC/CC/DS as received
	Body     []byte // secured data followed by PCNTR octets of padding
}

// Data strips the padding (the last step of the receiving side; the pad
// value is not checked, secured-packet.md §4).
func (pl Plain) Data() ([]byte, error) {
	if pl.PCNTR > len(pl.Body) {
		return nil, fmt.Errorf("securedpacket: PCNTR %d with %d octets after the checksum: %w", pl.PCNTR, len(pl.Body), ErrPadding)
	}
	return pl.Body[:len(pl.Body)-pl.PCNTR], nil
}

// Decipher deciphers the secured part (when the SPI says it is ciphered)
// and splits it into its fields. It checks nothing but the block length.
func (p CommandPacket) Decipher(keys Keys) (Plain, error) {
	plain, err := decipherSpan(p.SPI.Ciphered, p.KIc, keys, p.Secured)
	if err != nil {
		return Plain{}, err
	}
	if len(plain) < cmdFixedPlain+p.ChecksumLen {
		return Plain{}, fmt.Errorf("securedpacket: secured part of %d octets: %w", len(plain), ErrTruncated)
	}
	return Plain{
		Counter:  readCounter(plain),
		PCNTR:    int(plain[cntrLen]),
		Checksum: plain[cmdFixedPlain : cmdFixedPlain+p.ChecksumLen],
		Body:     plain[cmdFixedPlain+p.ChecksumLen:],
	}, nil
}

// VerifyChecksum recomputes the checksum the SPI asks for over the clear
// layout (CPL..PCNTR ‖ data ‖ padding) and compares it with pl.Checksum.
// With no RC/CC/DS it returns nil.
func (p CommandPacket) VerifyChecksum(pl Plain, keys Keys) error {
	want, err := checksumLen(p.SPI.Integrity, p.KID)
	if err != nil {
		return err
	}
	if want != len(pl.Checksum) {
		return fmt.Errorf("securedpacket: %s of %d octets, want %d: %w", p.SPI.Integrity, len(pl.Checksum), want, ErrChecksum)
	}
	if want == 0 {
		return nil
	}
	head := make([]byte, 0, cplLen+cmdClearLen+cmdFixedPlain)
	head = binary.BigEndian.AppendUint16(head, uint16(cmdClearLen+cmdFixedPlain+len(pl.Checksum)+len(pl.Body)))
	spi := p.SPI.Bytes()
	head = append(head, byte(cmdChlFixed+len(pl.Checksum)), spi[0], spi[1], byte(p.KIc), byte(p.KID))
	head = append(head, p.TAR[:]...)
	head = appendCounter(head, pl.Counter)
	head = append(head, byte(pl.PCNTR))
	if err := verify(pl.Checksum, p.SPI.Integrity, p.KID, keys, head, pl.Body); err != nil {
		return fmt.Errorf("securedpacket: command TAR %s: %w", p.TAR, err)
	}
	return nil
}

// Open is the receiving side (secured-packet.md §5): decipher, verify the
// checksum, check CNTR against stored (the last counter the Receiving
// Entity accepted) per the SPI counter mode, strip the padding — in that
// order, returning nothing but the error at the first failure. On success
// the caller stores the returned Counter.
func (p CommandPacket) Open(keys Keys, stored uint64) (Command, error) {
	pl, err := p.Decipher(keys)
	if err != nil {
		return Command{}, err
	}
	if err := p.VerifyChecksum(pl, keys); err != nil {
		return Command{}, err
	}
	if err := p.SPI.Counter.Check(pl.Counter, stored); err != nil {
		return Command{}, err
	}
	data, err := pl.Data()
	if err != nil {
		return Command{}, err
	}
	return Command{Header: p.Header, Counter: pl.Counter, Data: data}, nil
}

// decipherSpan returns an owned plain copy of the secured span.
func decipherSpan(ciphered bool, kic KeyRef, keys Keys, span []byte) ([]byte, error) {
	out := make([]byte, len(span))
	if !ciphered {
		copy(out, span)
		return out, nil
	}
	b, err := cipherBlock(kic, keys)
	if err != nil {
		return nil, err
	}
	if len(span) == 0 || len(span)%b.BlockSize() != 0 {
		return nil, fmt.Errorf("securedpacket: %d ciphered octets: %w", len(span), ErrCipherLength)
	}
	decryptCBC(b, out, span)
	return out, nil
}

// padLen is the number of padding octets that bring n to a multiple of bs.
func padLen(n, bs int) int { return (bs - n%bs) % bs }

func appendCounter(dst []byte, c uint64) []byte {
	return append(dst, byte(c>>32), byte(c>>24), byte(c>>16), byte(c>>8), byte(c))
}

func readCounter(b []byte) uint64 {
	return uint64(b[0])<<32 | uint64(b[1])<<24 | uint64(b[2])<<16 | uint64(b[3])<<8 | uint64(b[4])
}
