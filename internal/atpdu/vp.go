package atpdu

import (
	"fmt"
	"time"
)

// VPFormat is TP-VPF, b4b3 of an SMS-SUBMIT's first octet (TS 23.040
// §9.2.3.3).
type VPFormat uint8

// Validity period formats, TS 23.040 §9.2.3.3.
const (
	VPFNone     VPFormat = 0b00 // no TP-VP: the SMSC's default
	VPFEnhanced VPFormat = 0b01 // 7 octets, §9.2.3.12.3
	VPFRelative VPFormat = 0b10 // 1 octet, §9.2.3.12.1
	VPFAbsolute VPFormat = 0b11 // 7 octets, §9.2.3.12.2
)

// String returns "none", "relative", "absolute" or "enhanced".
func (f VPFormat) String() string {
	switch f {
	case VPFNone:
		return "none"
	case VPFEnhanced:
		return "enhanced"
	case VPFRelative:
		return "relative"
	case VPFAbsolute:
		return "absolute"
	default:
		return fmt.Sprintf("vpf(%d)", uint8(f))
	}
}

// Enhanced validity period formats, b2..b0 of the functionality indicator
// (TS 23.040 §9.2.3.12.3).
const (
	EVPFNone     = 0b000 // no validity period
	EVPFRelative = 0b001 // one octet as the relative format
	EVPFSeconds  = 0b010 // one octet, 0–255 seconds
	EVPFHMS      = 0b011 // three swapped-BCD octets: hours, minutes, seconds
)

// maxRelativeVP is the longest relative validity period, 63 weeks (v = 255).
const maxRelativeVP = 63 * 7 * 24 * time.Hour

// maxEnhancedHMS is the longest enhanced hh:mm:ss validity period.
const maxEnhancedHMS = 99*time.Hour + 59*time.Minute + 59*time.Second

// ValidityPeriod is an SMS-SUBMIT's TP-VPF and TP-VP (TS 23.040 §9.2.3.12).
// Only the member that Format names is meaningful.
//
//	VPF 00 none      no octets
//	VPF 10 relative  1 octet   0–143 (v+1)×5 min | 144–167 12 h+(v−143)×30 min |
//	                           168–196 (v−166) days | 197–255 (v−192) weeks
//	VPF 11 absolute  7 octets  as TP-SCTS (§9.2.3.11)
//	VPF 01 enhanced  7 octets  octet 0: b7 extension, b6 single shot, b5..b3
//	                           reserved, b2..b0 format; then the value
//	                           (1 octet relative, 1 octet seconds, or 3
//	                           octets hh mm ss swapped BCD); rest 0x00
type ValidityPeriod struct {
	Format   VPFormat
	Relative byte      // VPFRelative: the TP-VP octet (RelativeDuration)
	Absolute Timestamp // VPFAbsolute
	// Enhanced holds the 7 octets of VPFEnhanced as on the wire: the
	// functionality indicator (b7 extension, b6 single shot, b2..b0
	// format), then the value, then zero octets.
	Enhanced [7]byte
}

// RelativeVP returns the relative validity period that is at least d (TS
// 23.040 §9.2.3.12.1), rounding up so that a requested validity is never
// shortened: 5 min steps to 12 h, 30 min steps to 24 h, days to 30 days,
// weeks to 63 weeks. d ≤ 5 min gives 5 min; d over 63 weeks is an error.
func RelativeVP(d time.Duration) (ValidityPeriod, error) {
	v, err := relativeOctet(d)
	if err != nil {
		return ValidityPeriod{}, err
	}
	return ValidityPeriod{Format: VPFRelative, Relative: v}, nil
}

func relativeOctet(d time.Duration) (byte, error) {
	ceil := func(d, unit time.Duration) int64 { return int64((d + unit - 1) / unit) }
	switch {
	case d < 0:
		return 0, fmt.Errorf("atpdu: validity period %s: negative: %w", d, ErrInvalid)
	case d <= 12*time.Hour: // 0–143: (v+1) × 5 min
		return byte(max(ceil(d, 5*time.Minute), 1) - 1), nil
	case d <= 24*time.Hour: // 144–167: 12 h + (v−143) × 30 min
		return byte(143 + ceil(d-12*time.Hour, 30*time.Minute)), nil
	case d <= 30*24*time.Hour: // 168–196: (v−166) days
		return byte(166 + ceil(d, 24*time.Hour)), nil
	case d <= maxRelativeVP: // 197–255: (v−192) weeks
		return byte(192 + ceil(d, 7*24*time.Hour)), nil
	default:
		return 0, fmt.Errorf("atpdu: validity period %s: over the relative maximum of 63 weeks: %w", d, ErrTooLong)
	}
}

// RelativeDuration returns the validity period that a relative TP-VP octet
// means (TS 23.040 §9.2.3.12.1).
func RelativeDuration(v byte) time.Duration {
	switch {
	case v <= 143:
		return time.Duration(v+1) * 5 * time.Minute
	case v <= 167:
		return 12*time.Hour + time.Duration(v-143)*30*time.Minute
	case v <= 196:
		return time.Duration(v-166) * 24 * time.Hour
	default:
		return time.Duration(v-192) * 7 * 24 * time.Hour
	}
}

// EnhancedVP returns an enhanced validity period of at least d (TS 23.040
// §9.2.3.12.3), to the second: format 010 (seconds) up to 255 s, format 011
// (hh:mm:ss) up to 99:59:59. SMSC support for the enhanced format varies.
func EnhancedVP(d time.Duration) (ValidityPeriod, error) {
	if d < 0 || d > maxEnhancedHMS {
		return ValidityPeriod{}, fmt.Errorf("atpdu: enhanced validity period %s: outside 0..%s: %w", d, maxEnhancedHMS, ErrInvalid)
	}
	secs := int((d + time.Second - 1) / time.Second)
	vp := ValidityPeriod{Format: VPFEnhanced}
	if secs <= 255 {
		vp.Enhanced[0], vp.Enhanced[1] = EVPFSeconds, byte(secs)
		return vp, nil
	}
	vp.Enhanced[0] = EVPFHMS
	vp.Enhanced[1] = toSwappedBCD(secs / 3600)
	vp.Enhanced[2] = toSwappedBCD(secs / 60 % 60)
	vp.Enhanced[3] = toSwappedBCD(secs % 60)
	return vp, nil
}

// AbsoluteVP returns an absolute validity period ending at t (TS 23.040
// §9.2.3.12.2).
func AbsoluteVP(t time.Time) (ValidityPeriod, error) {
	ts, err := TimestampOf(t)
	if err != nil {
		return ValidityPeriod{}, err
	}
	return ValidityPeriod{Format: VPFAbsolute, Absolute: ts}, nil
}

// Duration returns the validity period of a relative or enhanced TP-VP; ok
// is false for none, absolute (which needs the SMSC's clock), an enhanced
// "no validity period" and reserved enhanced formats.
func (vp ValidityPeriod) Duration() (d time.Duration, ok bool) {
	switch vp.Format {
	case VPFRelative:
		return RelativeDuration(vp.Relative), true
	case VPFEnhanced:
		// Extension octets (b7 set) precede the value (§9.2.3.12.3).
		i := 0
		for i < len(vp.Enhanced)-1 && vp.Enhanced[i]&0x80 != 0 {
			i++
		}
		v := vp.Enhanced[i+1:]
		switch vp.Enhanced[0] & 0x07 {
		case EVPFRelative:
			return RelativeDuration(v[0]), true
		case EVPFSeconds:
			return time.Duration(v[0]) * time.Second, true
		case EVPFHMS:
			if len(v) < 3 {
				return 0, false
			}
			h, ok1 := swappedBCD(v[0])
			m, ok2 := swappedBCD(v[1])
			s, ok3 := swappedBCD(v[2])
			if !ok1 || !ok2 || !ok3 {
				return 0, false
			}
			return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second, true
		}
	}
	return 0, false
}

// decodeVP reads the TP-VP that format announces (TS 23.040 §9.2.3.12).
func decodeVP(r *reader, f VPFormat) (ValidityPeriod, error) {
	vp := ValidityPeriod{Format: f}
	switch f {
	case VPFRelative:
		v, err := r.u8("TP-VP")
		if err != nil {
			return vp, err
		}
		vp.Relative = v
	case VPFAbsolute:
		ts, err := decodeTimestamp(r, "TP-VP")
		if err != nil {
			return vp, err
		}
		vp.Absolute = ts
	case VPFEnhanced:
		v, err := r.next("TP-VP", len(vp.Enhanced))
		if err != nil {
			return vp, err
		}
		copy(vp.Enhanced[:], v)
	}
	return vp, nil
}

func appendVP(dst []byte, vp ValidityPeriod) ([]byte, error) {
	switch vp.Format {
	case VPFNone:
		return dst, nil
	case VPFRelative:
		return append(dst, vp.Relative), nil
	case VPFAbsolute:
		return appendTimestamp(dst, vp.Absolute)
	case VPFEnhanced:
		return append(dst, vp.Enhanced[:]...), nil
	default:
		return dst, fmt.Errorf("%w: TP-VPF %d", ErrInvalid, vp.Format)
	}
}
