package atpdu

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// gsm7Default is the GSM 7-bit default alphabet, TS 23.038 §6.2.1, indexed
// by septet. 0x1B is the escape to the extension table; a receiver that does
// not understand an escape displays a space (TS 23.038 §6.2.1 note 1).
var gsm7Default = [128]rune{
	'@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
	'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', ' ', 'Æ', 'æ', 'ß', 'É',
	' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
	'¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
	'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
	'¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
}

// gsm7Escape is the septet that escapes to the extension table.
const gsm7Escape = 0x1B

// gsm7Extension is the GSM 7-bit default alphabet extension table, TS 23.038
// §6.2.1.1: the character after an escape. Zero means undefined; a receiver
// then displays the default-table character (TS 23.038 §6.2.1.1 note).
var gsm7Extension = [128]rune{
	0x0A: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2F: '\\',
	0x3C: '[', 0x3D: '~', 0x3E: ']', 0x40: '|', 0x65: '€',
}

// gsm7Encode maps a character to its septet; escaped (extension) characters
// are marked with the escape in the high byte. Built once from the two tables
// above and never written afterwards.
var gsm7Encode = func() map[rune]uint16 {
	m := make(map[rune]uint16, 140)
	for s, r := range gsm7Default {
		if s != gsm7Escape {
			m[r] = uint16(s)
		}
	}
	for s, r := range gsm7Extension {
		if r != 0 {
			m[r] = gsm7Escape<<8 | uint16(s)
		}
	}
	return m
}()

// EncodeGSM7 converts s to GSM 7-bit default alphabet septets (one per byte,
// 0x00–0x7F, unpacked), using the extension table (TS 23.038 §6.2.1.1) for
// ^ { } \ [ ~ ] | € and form feed, each taking two septets. It fails with
// ErrInvalid on a character the alphabet lacks.
func EncodeGSM7(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i, r := range s {
		v, ok := gsm7Encode[r]
		if !ok {
			return nil, fmt.Errorf("atpdu: encode GSM 7-bit: %q at byte %d: %w", r, i, ErrInvalid)
		}
		if v > 0xFF {
			out = append(out, gsm7Escape)
		}
		out = append(out, byte(v))
	}
	return out, nil
}

// DecodeGSM7 converts unpacked septets to text (TS 23.038 §6.2.1). An escape
// followed by a septet the extension table lacks yields that septet's
// default-table character; a trailing escape yields a space. Bits above the
// seventh are ignored.
func DecodeGSM7(septets []byte) string {
	var b strings.Builder
	b.Grow(len(septets))
	for i := 0; i < len(septets); i++ {
		s := septets[i] & 0x7F
		if s == gsm7Escape && i+1 < len(septets) {
			i++
			e := septets[i] & 0x7F
			if r := gsm7Extension[e]; r != 0 {
				b.WriteRune(r)
			} else {
				b.WriteRune(gsm7Default[e])
			}
			continue
		}
		b.WriteRune(gsm7Default[s])
	}
	return b.String()
}

// EncodeUCS2 converts s to UCS2 (big-endian UTF-16, TS 23.038 §5 and §7);
// characters outside the BMP become surrogate pairs, as handsets send them.
func EncodeUCS2(s string) []byte {
	units := utf16.Encode([]rune(s))
	out := make([]byte, 0, 2*len(units))
	for _, u := range units {
		out = append(out, byte(u>>8), byte(u))
	}
	return out
}

// DecodeUCS2 converts big-endian UCS2/UTF-16 to text. An odd final octet or
// an unpaired surrogate becomes U+FFFD.
func DecodeUCS2(b []byte) string {
	units := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		units = append(units, uint16(b[i])<<8|uint16(b[i+1]))
	}
	s := string(utf16.Decode(units))
	if len(b)%2 != 0 {
		s += string(utf8.RuneError)
	}
	return s
}

// EncodeText chooses the alphabet for s: GSM 7-bit when every character is
// in it, else UCS2. It returns the coding and the user data in that coding's
// units (septets or octets), ready for a Submit's or Deliver's UD.
func EncodeText(s string) (Coding, []byte) {
	if septets, err := EncodeGSM7(s); err == nil {
		return CodingGSM7, septets
	}
	return CodingUCS2, EncodeUCS2(s)
}

// septetsFor returns the number of septets that hold n octets (TS 23.040
// §9.2.3.24: a header in 7-bit user data is padded to a septet boundary).
func septetsFor(octets int) int { return (octets*8 + 6) / 7 }

// octetsFor returns the number of octets that hold n septets.
func octetsFor(septets int) int { return (septets*7 + 7) / 8 }

// packSeptets writes septets into out starting at bit offset bit, low bits
// first (TS 23.038 §6.1.2.1.1). out must be long enough and zeroed.
func packSeptets(out []byte, bit int, septets []byte) {
	for _, s := range septets {
		v := uint16(s&0x7F) << (bit % 8)
		i := bit / 8
		out[i] |= byte(v)
		if v > 0xFF {
			out[i+1] |= byte(v >> 8)
		}
		bit += 7
	}
}

// unpackSeptets reads n septets from in starting at bit offset bit. The
// caller guarantees in holds them.
func unpackSeptets(in []byte, bit, n int) []byte {
	out := make([]byte, n)
	for k := range out {
		i, sh := bit/8, bit%8
		v := uint16(in[i])
		if i+1 < len(in) {
			v |= uint16(in[i+1]) << 8
		}
		out[k] = byte(v>>sh) & 0x7F
		bit += 7
	}
	return out
}
