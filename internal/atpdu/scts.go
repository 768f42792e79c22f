package atpdu

import (
	"fmt"
	"time"
)

// timestampLen is the length of TP-SCTS, TP-DT and an absolute TP-VP.
const timestampLen = 7

// timestampCentury is added to the two year digits of a timestamp. TS
// 23.040 §9.2.3.11 does not say which century the digits are in. PROJECT
// DEFAULT: 2000–2099.
const timestampCentury = 2000

// maxTZQuarters is the largest time zone offset the TZ octet holds: tens
// digit 0–7 (b2..b0), units 0–9, in quarter hours (TS 23.040 §9.2.3.11).
const maxTZQuarters = 79

// Timestamp is a TP-SCTS or TP-DT (TS 23.040 §9.2.3.11) and the absolute
// TP-VP (§9.2.3.12.2): local time and its offset from UTC.
//
// Wire layout, each octet two decimal semi-octets, units digit in the HIGH
// nibble (swapped BCD):
//
//	octet 0  year (last two digits)   octet 4  minute
//	octet 1  month                    octet 5  second
//	octet 2  day                      octet 6  time zone in quarter hours;
//	octet 3  hour                              b3 = sign (1 = west of UTC)
//
// Year holds the full year: the two digits on the wire are read as
// 2000–2099. Fields are kept as received (no calendar check), so a
// timestamp re-encodes byte for byte; Time normalises.
type Timestamp struct {
	Year, Month, Day     int
	Hour, Minute, Second int
	TZ                   int // offset from UTC in quarter hours, −79..79
}

// TimestampOf converts t, in its own location, to a Timestamp. The offset
// must be a whole number of quarter hours and the year 2000–2099.
func TimestampOf(t time.Time) (Timestamp, error) {
	_, off := t.Zone()
	if off%(15*60) != 0 {
		return Timestamp{}, fmt.Errorf("atpdu: timestamp %s: offset is not a whole quarter hour: %w", t, ErrInvalid)
	}
	ts := Timestamp{
		Year: t.Year(), Month: int(t.Month()), Day: t.Day(),
		Hour: t.Hour(), Minute: t.Minute(), Second: t.Second(),
		TZ: off / (15 * 60),
	}
	if err := ts.check(); err != nil {
		return Timestamp{}, fmt.Errorf("atpdu: timestamp %s: %w", t, err)
	}
	return ts, nil
}

// Time returns ts as a time.Time in a fixed zone of its offset.
func (ts Timestamp) Time() time.Time {
	return time.Date(ts.Year, time.Month(ts.Month), ts.Day, ts.Hour, ts.Minute, ts.Second, 0,
		time.FixedZone("", ts.TZ*15*60))
}

func (ts Timestamp) check() error {
	if ts.Year < timestampCentury || ts.Year > timestampCentury+99 {
		return fmt.Errorf("%w: year %d outside 2000–2099", ErrInvalid, ts.Year)
	}
	for _, v := range []int{ts.Month, ts.Day, ts.Hour, ts.Minute, ts.Second} {
		if v < 0 || v > 99 {
			return fmt.Errorf("%w: field value %d is not two decimal digits", ErrInvalid, v)
		}
	}
	if ts.TZ < -maxTZQuarters || ts.TZ > maxTZQuarters {
		return fmt.Errorf("%w: time zone %d quarter hours, at most ±%d", ErrInvalid, ts.TZ, maxTZQuarters)
	}
	return nil
}

// swappedBCD decodes one octet with the tens digit in the low nibble.
func swappedBCD(b byte) (int, bool) {
	lo, hi := b&0x0F, b>>4
	if lo > 9 || hi > 9 {
		return 0, false
	}
	return int(lo)*10 + int(hi), true
}

func toSwappedBCD(v int) byte { return byte(v%10)<<4 | byte(v/10) }

// decodeTimestamp reads 7 octets (TS 23.040 §9.2.3.11).
func decodeTimestamp(r *reader, field string) (Timestamp, error) {
	at := r.off
	v, err := r.next(field, timestampLen)
	if err != nil {
		return Timestamp{}, err
	}
	var f [6]int
	for i := range f {
		d, ok := swappedBCD(v[i])
		if !ok {
			return Timestamp{}, r.fail(field, at+i, fmt.Errorf("%w: octet 0x%02X is not two decimal digits", ErrInvalid, v[i]))
		}
		f[i] = d
	}
	// TZ: b3 is the sign, b2..b0 the tens digit, the high nibble the units.
	tz, units := int(v[6]&0x07)*10, int(v[6]>>4)
	if units > 9 {
		return Timestamp{}, r.fail(field, at+6, fmt.Errorf("%w: time zone octet 0x%02X", ErrInvalid, v[6]))
	}
	tz += units
	if v[6]&0x08 != 0 {
		tz = -tz
	}
	return Timestamp{Year: timestampCentury + f[0], Month: f[1], Day: f[2], Hour: f[3], Minute: f[4], Second: f[5], TZ: tz}, nil
}

func appendTimestamp(dst []byte, ts Timestamp) ([]byte, error) {
	if err := ts.check(); err != nil {
		return dst, err
	}
	tz := ts.TZ
	sign := byte(0)
	if tz < 0 {
		tz, sign = -tz, 0x08
	}
	return append(dst,
		toSwappedBCD(ts.Year-timestampCentury), toSwappedBCD(ts.Month), toSwappedBCD(ts.Day),
		toSwappedBCD(ts.Hour), toSwappedBCD(ts.Minute), toSwappedBCD(ts.Second),
		byte(tz%10)<<4|sign|byte(tz/10)), nil
}
