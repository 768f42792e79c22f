package securedpacket

import (
	"encoding/binary"
	"fmt"
)

// Response Packet (PoR) for SMS-PP, after the user data header (TS 31.115
// §4.3, TS 102 225 §5.2; secured-packet.md §7):
//
//	+-----+-----+-----+------+-------+-----+----------+-----------------+---------+
//	| RPL | RHL | TAR | CNTR | PCNTR | RSC | RC/CC/DS | additional data | padding |
//	| 2   | 1   | 3   | 5    | 1     | 1   | 0/4/8    | n               | PCNTR   |
//	+-----+-----+-----+------+-------+-----+----------+-----------------+---------+
//	                  |<---- ciphered when SPI second octet b5 = 1 -------------->|
//
// RPL counts the octets from RHL to the end of the padding; RHL the octets
// from TAR to the end of RC/CC/DS (10 + its length). TAR and CNTR copy the
// command's.
const (
	rspClearLen   = 1 + 3       // RHL, TAR
	rspRhlFixed   = 10          // TAR(3) CNTR(5) PCNTR RSC
	rspFixedPlain = cntrLen + 2 // CNTR, PCNTR, RSC
)

// porUDH is the user data header a PoR's checksum starts with: UDHL 02,
// RPI 71, IEDL 00 (secured-packet.md §5: included so that the data before
// the CC is block aligned).
var porUDH = [3]byte{0x02, IEIResponse, 0x00}

// Response is a response packet's content in clear.
type Response struct {
	TAR     TAR    // copy of the command's
	Counter uint64 // copy of the command's CNTR
	Status  Status // RSC
	Data    []byte // additional data (e.g. the remote command's response)
}

// ResponsePacket is a response packet as on the wire, decoded without keys.
type ResponsePacket struct {
	TAR TAR
	// ChecksumLen is the RC/CC/DS length announced by RHL (RHL − 10).
	ChecksumLen int
	// Secured is CNTR through the padding, as received (an owned copy).
	Secured []byte
}

// porSecurity is how a PoR to cmd is protected: SPI second octet b5 and
// b4 b3, with the command's KIc and KID.
func porSecurity(cmd Header) (ciphered bool, integ Integrity) {
	return cmd.SPI.PoRCiphered, cmd.SPI.PoRIntegrity
}

// SealResponse builds the PoR r to the command whose header is cmd (its SPI
// second octet says whether the PoR is ciphered and checksummed, its KIc
// and KID which algorithms) and appends it to dst, RPL through the padding,
// without the user data header.
func SealResponse(dst []byte, r Response, cmd Header, keys Keys) ([]byte, error) {
	if err := cmd.SPI.Validate(); err != nil {
		return nil, err
	}
	if r.Counter > maxCounter {
		return nil, fmt.Errorf("securedpacket: counter %d exceeds 40 bits: %w", r.Counter, ErrTooLong)
	}
	ciphered, integ := porSecurity(cmd)
	ccl, err := checksumLen(integ, cmd.KID)
	if err != nil {
		return nil, err
	}
	pcntr := 0
	if ciphered {
		bs, err := blockSize(cmd.KIc)
		if err != nil {
			return nil, err
		}
		pcntr = padLen(rspFixedPlain+ccl+len(r.Data), bs)
	}
	rpl := 1 + rspRhlFixed + ccl + len(r.Data) + pcntr
	if rpl > 0xFFFF {
		return nil, fmt.Errorf("securedpacket: response packet of %d octets: %w", rpl, ErrTooLong)
	}
	start := len(dst)
	dst = binary.BigEndian.AppendUint16(dst, uint16(rpl))
	dst = append(dst, byte(rspRhlFixed+ccl))
	dst = append(dst, r.TAR[:]...)
	dst = appendCounter(dst, r.Counter)
	dst = append(dst, byte(pcntr), byte(r.Status))
	ccAt := len(dst)
	dst = append(dst, make([]byte, ccl)...)
	dst = append(dst, r.Data...)
	dst = append(dst, make([]byte, pcntr)...)
	if ccl > 0 {
		cc, err := checksum(nil, integ, cmd.KID, keys, porUDH[:], dst[start:ccAt], dst[ccAt+ccl:])
		if err != nil {
			return nil, err
		}
		copy(dst[ccAt:], cc)
	}
	if ciphered {
		b, err := cipherBlock(cmd.KIc, keys)
		if err != nil {
			return nil, err
		}
		encryptCBC(b, dst[start+cplLen+rspClearLen:])
	}
	return dst, nil
}

// DecodeResponsePacket decodes a response packet (RPL through the padding,
// no user data header). b must hold exactly RPL + 2 octets.
func DecodeResponsePacket(b []byte) (ResponsePacket, error) {
	var p ResponsePacket
	if len(b) < cplLen {
		return p, decodeErr("RPL", 0, ErrTruncated)
	}
	rpl := int(binary.BigEndian.Uint16(b))
	if len(b) < cplLen+1 {
		return p, decodeErr("RHL", cplLen, ErrTruncated)
	}
	rhl := int(b[cplLen])
	if rhl < rspRhlFixed {
		return p, decodeErr("RHL", cplLen, ErrLength)
	}
	if len(b) < cplLen+1+rhl {
		return p, decodeErr("response header", len(b), ErrTruncated)
	}
	if len(b) < cplLen+rpl {
		return p, decodeErr("additional data", len(b), ErrTruncated)
	}
	if len(b) > cplLen+rpl {
		return p, decodeErr("RPL", 0, ErrLength)
	}
	if rpl < 1+rhl {
		return p, decodeErr("RPL", 0, ErrLength)
	}
	copy(p.TAR[:], b[3:6])
	p.ChecksumLen = rhl - rspRhlFixed
	p.Secured = append([]byte(nil), b[cplLen+rspClearLen:]...)
	return p, nil
}

// Append encodes the packet as received.
func (p ResponsePacket) Append(dst []byte) ([]byte, error) {
	if p.ChecksumLen < 0 || rspRhlFixed+p.ChecksumLen > 0xFF {
		return nil, fmt.Errorf("securedpacket: checksum length %d: %w", p.ChecksumLen, ErrLength)
	}
	if len(p.Secured) < rspFixedPlain+p.ChecksumLen {
		return nil, fmt.Errorf("securedpacket: secured part of %d octets: %w", len(p.Secured), ErrTruncated)
	}
	rpl := rspClearLen + len(p.Secured)
	if rpl > 0xFFFF {
		return nil, fmt.Errorf("securedpacket: response packet of %d octets: %w", rpl, ErrTooLong)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(rpl))
	dst = append(dst, byte(rspRhlFixed+p.ChecksumLen))
	dst = append(dst, p.TAR[:]...)
	return append(dst, p.Secured...), nil
}

// ResponsePlain is the secured part of a response packet after deciphering.
type ResponsePlain struct {
	Counter  uint64
	PCNTR    int
	Status   Status
	Checksum []byte // RC/CC/DS as received
	Body     []byte // additional data followed by PCNTR octets of padding
}

// Data strips the padding.
func (pl ResponsePlain) Data() ([]byte, error) {
	return Plain{PCNTR: pl.PCNTR, Body: pl.Body}.Data()
}

// Decipher deciphers the secured part when the command's SPI asked for a
// ciphered PoR, and splits it into its fields.
func (p ResponsePacket) Decipher(cmd Header, keys Keys) (ResponsePlain, error) {
	ciphered, _ := porSecurity(cmd)
	plain, err := decipherSpan(ciphered, cmd.KIc, keys, p.Secured)
	if err != nil {
		return ResponsePlain{}, err
	}
	if len(plain) < rspFixedPlain+p.ChecksumLen {
		return ResponsePlain{}, fmt.Errorf("securedpacket: secured part of %d octets: %w", len(plain), ErrTruncated)
	}
	return ResponsePlain{
		Counter:  readCounter(plain),
		PCNTR:    int(plain[cntrLen]),
		Status:   Status(plain[cntrLen+1]),
		Checksum: plain[rspFixedPlain : rspFixedPlain+p.ChecksumLen],
		Body:     plain[rspFixedPlain+p.ChecksumLen:],
	}, nil
}

// VerifyChecksum recomputes the PoR checksum over 02 71 00 ‖ RPL..RSC ‖
// data ‖ padding (secured-packet.md §5) and compares it with pl.Checksum.
func (p ResponsePacket) VerifyChecksum(pl ResponsePlain, cmd Header, keys Keys) error {
	_, integ := porSecurity(cmd)
	want, err := checksumLen(integ, cmd.KID)
	if err != nil {
		return err
	}
	if want != len(pl.Checksum) {
		return fmt.Errorf("securedpacket: PoR %s of %d octets, want %d: %w", integ, len(pl.Checksum), want, ErrChecksum)
	}
	if want == 0 {
		return nil
	}
	head := make([]byte, 0, len(porUDH)+cplLen+rspClearLen+rspFixedPlain)
	head = append(head, porUDH[:]...)
	head = binary.BigEndian.AppendUint16(head, uint16(rspClearLen+rspFixedPlain+len(pl.Checksum)+len(pl.Body)))
	head = append(head, byte(rspRhlFixed+len(pl.Checksum)))
	head = append(head, p.TAR[:]...)
	head = appendCounter(head, pl.Counter)
	head = append(head, byte(pl.PCNTR), byte(pl.Status))
	if err := verify(pl.Checksum, integ, cmd.KID, keys, head, pl.Body); err != nil {
		return fmt.Errorf("securedpacket: response TAR %s: %w", p.TAR, err)
	}
	return nil
}

// Open deciphers, verifies the checksum and strips the padding of a PoR to
// the command cmd. A PoR carries copies of the command's TAR and counter:
// they are returned for the caller to match, not checked against a store.
func (p ResponsePacket) Open(cmd Header, keys Keys) (Response, error) {
	pl, err := p.Decipher(cmd, keys)
	if err != nil {
		return Response{}, err
	}
	if err := p.VerifyChecksum(pl, cmd, keys); err != nil {
		return Response{}, err
	}
	data, err := pl.Data()
	if err != nil {
		return Response{}, err
	}
	return Response{TAR: p.TAR, Counter: pl.Counter, Status: pl.Status, Data: data}, nil
}
