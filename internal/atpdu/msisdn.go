package atpdu

import "strings"

// MinInternationalDigits is the fewest digits a bare digit string (no '+',
// no "00", no leading 0) must have to be taken as an international number
// without its '+'; shorter ones are short codes and never equal an
// international number. PROJECT DEFAULT: short codes are at most 6 digits in
// the numbering plans we know, and the shortest E.164 numbers in use have 7.
const MinInternationalDigits = 7

// msisdnKind classifies a normalised sender or configured number.
type msisdnKind int

const (
	kindInvalid       msisdnKind = iota
	kindInternational            // value = E.164 digits, no '+'
	kindNational                 // value = digits after the trunk 0, no country code known
	kindShort                    // value = the digits, a short code
	kindText                     // value = the text (alphanumeric sender)
)

// normaliseMSISDN reduces a number as people, configuration or
// Address.String write it to a comparable form.
//
//	+33612345678, 0033612345678, 33612345678   → international 33612345678
//	0612345678 with country code 33            → international 33612345678
//	0612345678 without a country code          → national 612345678
//	36179 (fewer than MinInternationalDigits)  → short code
//	anything with letters                      → text
func normaliseMSISDN(s, countryCode string) (msisdnKind, string) {
	s = strings.TrimSpace(s)
	n := strings.Map(func(r rune) rune {
		if strings.ContainsRune(addressSeparators, r) {
			return -1
		}
		return r
	}, s)
	if n == "" {
		return kindInvalid, ""
	}
	cc := normaliseCountryCode(countryCode)
	if rest, ok := strings.CutPrefix(n, "+"); ok {
		if rest == "" || !isDigits(rest) {
			return kindInvalid, ""
		}
		return kindInternational, rest
	}
	if !isDigits(n) {
		if isDialString(n) {
			return kindShort, n // service codes such as *100#
		}
		return kindText, s
	}
	switch {
	case strings.HasPrefix(n, "00") && len(n) > 2:
		return kindInternational, n[2:]
	case strings.HasPrefix(n, "0") && len(n) > 1:
		if cc != "" {
			return kindInternational, cc + n[1:]
		}
		return kindNational, n[1:]
	case len(n) < MinInternationalDigits:
		return kindShort, n
	default:
		return kindInternational, n
	}
}

func normaliseCountryCode(cc string) string {
	cc = strings.TrimSpace(cc)
	cc = strings.TrimPrefix(cc, "+")
	if strings.HasPrefix(cc, "00") {
		cc = cc[2:]
	}
	if !isDigits(cc) {
		return ""
	}
	return cc
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// SameMSISDN reports whether two numbers, as people, the configuration or
// Address.String write them, name the same subscriber. "+33612345678",
// "0033612345678" and "33612345678" are equal; a national number with a
// trunk 0 ("0612345678") equals the international form only when
// countryCode ("33", "+33") is given; short codes (fewer than
// MinInternationalDigits digits) and alphanumeric senders equal only
// themselves, never an international number.
func SameMSISDN(a, b string, countryCode string) bool {
	ka, va := normaliseMSISDN(a, countryCode)
	kb, vb := normaliseMSISDN(b, countryCode)
	return ka != kindInvalid && ka == kb && va == vb
}

// SameMSISDN reports whether the address (typically a TP-OA) names the
// subscriber msisdn, using the TON rather than guessing from the digits:
// TON international compares as "+digits"; TON national compares through
// countryCode (a leading trunk 0 is dropped, else the digits are the
// national significant number) and never matches without it; alphanumeric,
// network-specific, subscriber and abbreviated addresses are short codes or
// names and never equal an international number. TON unknown follows the
// string rules of the package-level SameMSISDN.
func (a Address) SameMSISDN(msisdn, countryCode string) bool {
	switch a.TON {
	case TONInternational:
		return SameMSISDN("+"+a.Number, msisdn, countryCode)
	case TONNational:
		cc := normaliseCountryCode(countryCode)
		if cc == "" || !isDigits(a.Number) {
			return false
		}
		return SameMSISDN("+"+cc+strings.TrimPrefix(a.Number, "0"), msisdn, countryCode)
	case TONUnknown:
		return SameMSISDN(a.Number, msisdn, countryCode)
	default:
		kb, vb := normaliseMSISDN(msisdn, countryCode)
		if a.TON == TONAlphanumeric {
			return kb == kindText && vb == strings.TrimSpace(a.Number)
		}
		return kb == kindShort && vb == a.Number
	}
}
