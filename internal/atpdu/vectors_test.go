package atpdu_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
)

// vector is a PDU as it appears on the AT line (SMSC prefix + TPDU).
type vector struct {
	name   string
	source string // where the bytes come from
	pdu    string // hex, SMSC prefix included
	smsc   string // SMSC as Address.String
	want   any    // the decoded TPDU (atpdu.Deliver, Submit or StatusReport), or nil to check only the round trip
}

// mode2Deliver is the SMS-PP data download of LwM2M SMS security mode 2:
// SMS-DELIVER, UDHI, PID 0x7F, DCS 0xF6 (8-bit, class 2), UD starting with
// the Command Packet Identifier 02 70 00. Header and the first 12 user data
// octets are as published in the pySim docs/smpp2sim.rst ENVELOPE example
// (spec digest sms-pdu.md §13); the remaining 30 ciphered octets, elided
// there, are replaced by a counting pattern.
const mode2Deliver = "00" + "40 02 90 21 7F F6 22 70 52 00 00 00 00 2D" +
	"02 70 00" + "00 28 15 16 19 12 12 B0 00 01 27 FA" +
	"00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10 11 12 13 14 15 16 17 18 19 1A 1B 1C 1D"

func mode2UD() []byte {
	ud := []byte{0x00, 0x28, 0x15, 0x16, 0x19, 0x12, 0x12, 0xB0, 0x00, 0x01, 0x27, 0xFA}
	for i := range 30 {
		ud = append(ud, byte(i))
	}
	return ud
}

func vectors(tb testing.TB) []vector {
	return []vector{
		{
			name:   "deliver gsm7 subscriber/national OA",
			source: "dreamfabric.com 'SMS and the PDU format' SMS-DELIVER example (also SMS::PDU Perl tests)",
			pdu:    "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37",
			smsc:   "+27381000015",
			want: atpdu.Deliver{
				MMS:  true,
				OA:   atpdu.Address{TON: atpdu.TONSubscriber, NPI: atpdu.NPINational, Number: "27838890001"},
				SCTS: atpdu.Timestamp{Year: 2099, Month: 3, Day: 29, Hour: 15, Minute: 16, Second: 59, TZ: 8},
				UD:   septets(tb, "hellohello"),
			},
		},
		{
			name:   "deliver alphanumeric OA",
			source: "jackkum/PHPPDU tests/PduTest.php testDeliverParse (Diafaan capture)",
			pdu:    "0791448720003023240DD0E474D81C0EBB010000111011315214000BE474D81C0EBB5DE3771B",
			smsc:   "+447802000332",
			want: atpdu.Deliver{
				SRI: true, MMS: true,
				OA:   atpdu.Address{TON: atpdu.TONAlphanumeric, NPI: atpdu.NPIUnknown, Number: "diafaan"},
				SCTS: atpdu.Timestamp{Year: 2011, Month: 1, Day: 11, Hour: 13, Minute: 25, Second: 41},
				UD:   septets(tb, "diafaan.com"),
			},
		},
		{
			name:   "deliver SRI international",
			source: "vumi transports/smpp test_modem (AT+CMGL capture, message 1)",
			pdu:    "07911326040011F5240B911326880736F40000111081017362401654747A0E4ACF41F4329E0E6A97E7F3F0B90C8A01",
			smsc:   "+31624000115",
			want: atpdu.Deliver{
				SRI: true, MMS: true,
				OA:   atpdu.Address{TON: atpdu.TONInternational, NPI: atpdu.NPIISDN, Number: "31628870634"},
				SCTS: atpdu.Timestamp{Year: 2011, Month: 1, Day: 18, Hour: 10, Minute: 37, Second: 26, TZ: 4},
				UD:   septets(tb, "This is text message 1"),
			},
		},
		{
			name:   "deliver concatenated gsm7 160 septets with fill bit",
			source: "gammu tests/sms-nokia-*.c style decode test (part 1 of 8, ref 0x63)",
			pdu:    "07918497900000F6400B918406290000F4000002219221351140A005000363080140CCB7BCDC06A5E1F37A1B447EB3DF72D03C4D0785DB653A0B347EBBE7E531BD4CAFCB4161721A9E9E8FD3EE33A8CC4ED35D206899CD2EBBE9E579BC5E06D9D3F47019E42EC7EB6550F95C9ED3C37316C81CAE8FD3E2FA1C5496BFE7A0B49B054A87C775767A0E4AC3E7F5B60B34ADCFE16537393D9F9741E4F4D99D9ECFD36D10FC2DA7D3D3",
			smsc:   "+48790900006",
			want: atpdu.Deliver{
				UDHI: true,
				OA:   atpdu.Address{TON: atpdu.TONInternational, NPI: atpdu.NPIISDN, Number: "48609200004"},
				SCTS: atpdu.Timestamp{Year: 2020, Month: 12, Day: 29, Hour: 12, Minute: 53, Second: 11, TZ: 4},
				UDH:  atpdu.UDH{atpdu.Concat8IE(0x63, 8, 1)},
				UD:   septets(tb, " Lorem ipsum dolor sit amet, consectetur adipiscing elit. Pellentesque vitae neque egestas, faucibus eros in, iaculis ipsum. Suspendisse dignissim portti"),
			},
		},
		{
			name:   "deliver LwM2M mode 2 secured packet (class 2, PID 7F, UDH 70 00)",
			source: "pySim docs/smpp2sim.rst ENVELOPE SMS-PP download (spec digest §13); tail synthetic",
			pdu:    mode2Deliver,
			want: atpdu.Deliver{
				UDHI: true,
				OA:   atpdu.Address{TON: atpdu.TONInternational, NPI: atpdu.NPIUnknown, Number: "12"},
				PID:  atpdu.PIDUSIMDataDownload, DCS: 0xF6,
				SCTS: atpdu.Timestamp{Year: 2022, Month: 7, Day: 25},
				UDH:  atpdu.UDH{atpdu.CommandPacketIE()},
				UD:   mode2UD(),
			},
		},
		{
			name:   "submit gsm7 relative VP 4 days",
			source: "dreamfabric.com 'SMS and the PDU format' SMS-SUBMIT example",
			pdu:    "0011000B916407281553F80000AA0AE8329BFD4697D9EC37",
			want: atpdu.Submit{
				DA: atpdu.Address{TON: atpdu.TONInternational, NPI: atpdu.NPIISDN, Number: "46708251358"},
				VP: atpdu.ValidityPeriod{Format: atpdu.VPFRelative, Relative: 0xAA},
				UD: septets(tb, "hellohello"),
			},
		},
		{
			name:   "submit SRR MR 13 VP 3 days with SMSC",
			source: "python-gsmmodem test/test_pdu.py testEncodeSmsSubmit (www.diafaan.com)",
			pdu:    "07911326040000F0310D0B911326880736F40000A90FF7FBDD454E87CDE1B0DB357EB701",
			smsc:   "+31624000000",
			want: atpdu.Submit{
				SRR: true, MR: 13,
				DA: atpdu.Address{TON: atpdu.TONInternational, NPI: atpdu.NPIISDN, Number: "31628870634"},
				VP: atpdu.ValidityPeriod{Format: atpdu.VPFRelative, Relative: 0xA9},
				UD: septets(tb, "www.diafaan.com"),
			},
		},
		{
			name:   "submit ucs2",
			source: "jackkum/PHPPDU tests/PduTest.php testPolishChar",
			pdu:    "0011000B918466508434F00008AA0C014200F3015B010701050119",
			want: atpdu.Submit{
				DA:  atpdu.Address{TON: atpdu.TONInternational, NPI: atpdu.NPIISDN, Number: "48660548430"},
				DCS: 0x08,
				VP:  atpdu.ValidityPeriod{Format: atpdu.VPFRelative, Relative: 0xAA},
				UD:  atpdu.EncodeUCS2("łóśćąę"),
			},
		},
		{
			name:   "submit 8-bit 16-bit ports SRR (LwM2M mode 1 shape)",
			source: "constructed from TS 23.040 §9.2.2.2 and §9.2.3.24.4; spec digest §3 first octet 0x71",
			pdu:    "00 71 2A 0B 91 33 16 32 54 76 F8 00 04 0B 0B 06 05 04 16 34 C0 00 DE AD BE EF",
			want: atpdu.Submit{
				UDHI: true, SRR: true, MR: 0x2A,
				DA:  atpdu.Address{TON: atpdu.TONInternational, NPI: atpdu.NPIISDN, Number: "33612345678"},
				DCS: 0x04,
				VP:  atpdu.ValidityPeriod{Format: atpdu.VPFRelative, Relative: 0x0B},
				UDH: atpdu.UDH{atpdu.Ports16IE(5684, 49152)},
				UD:  []byte{0xDE, 0xAD, 0xBE, 0xEF},
			},
		},
		{
			name:   "submit enhanced VP seconds, RD, national DA with odd digits",
			source: "constructed from TS 23.040 §9.2.2.2 and §9.2.3.12.3",
			pdu:    "00 0D 07 09 A1 10 32 54 76 F8 00 F5 02 1E 00 00 00 00 00 03 01 02 03",
			want: atpdu.Submit{
				RD: true, MR: 7,
				DA:  atpdu.Address{TON: atpdu.TONNational, NPI: atpdu.NPIISDN, Number: "012345678"},
				DCS: 0xF5,
				VP:  atpdu.ValidityPeriod{Format: atpdu.VPFEnhanced, Enhanced: [7]byte{0x02, 0x1E}},
				UD:  []byte{1, 2, 3},
			},
		},
		{
			name:   "submit absolute VP negative time zone, short code DA",
			source: "constructed from TS 23.040 §9.2.2.2, §9.2.3.11 (TZ sign b3) and §9.2.3.12.2",
			pdu:    "00 19 00 05 81 63 71 F9 00 00 62 11 82 41 53 00 0A 00",
			want: atpdu.Submit{
				MR: 0,
				DA: atpdu.Address{TON: atpdu.TONUnknown, NPI: atpdu.NPIISDN, Number: "36179"},
				VP: atpdu.ValidityPeriod{Format: atpdu.VPFAbsolute,
					Absolute: atpdu.Timestamp{Year: 2026, Month: 11, Day: 28, Hour: 14, Minute: 35, Second: 0, TZ: -20}},
			},
		},
		{
			name:   "status report, 25 octets (+CDS: 25)",
			source: "HeboTech ATLib SmsStatusReportDecoderTests; also smslib CStatusReportMessage test",
			pdu:    "07911326040000F006D60B911326880736F4111011719551401110117195714000",
			smsc:   "+31624000000",
			want: atpdu.StatusReport{
				MMS: true, MR: 0xD6,
				RA:   atpdu.Address{TON: atpdu.TONInternational, NPI: atpdu.NPIISDN, Number: "31628870634"},
				SCTS: atpdu.Timestamp{Year: 2011, Month: 1, Day: 11, Hour: 17, Minute: 59, Second: 15, TZ: 4},
				DT:   atpdu.Timestamp{Year: 2011, Month: 1, Day: 11, Hour: 17, Minute: 59, Second: 17, TZ: 4},
				ST:   atpdu.StatusDelivered,
			},
		},
		{
			name:   "status report with PI, PID, DCS and user data",
			source: "constructed from TS 23.040 §9.2.2.3 and §9.2.3.27",
			pdu:    "00 06 2A 0B 91 33 16 32 54 76 F8 62 11 82 41 53 00 40 62 11 82 41 63 00 40 46 07 00 04 02 CA FE",
			want: atpdu.StatusReport{
				MMS: true, MR: 0x2A,
				RA:   atpdu.Address{TON: atpdu.TONInternational, NPI: atpdu.NPIISDN, Number: "33612345678"},
				SCTS: atpdu.Timestamp{Year: 2026, Month: 11, Day: 28, Hour: 14, Minute: 35, Second: 0, TZ: 4},
				DT:   atpdu.Timestamp{Year: 2026, Month: 11, Day: 28, Hour: 14, Minute: 36, Second: 0, TZ: 4},
				ST:   atpdu.StatusValidityExpired,
				PI:   []byte{0x07}, DCS: 0x04, UD: []byte{0xCA, 0xFE},
			},
		},
	}
}

func TestVectors(t *testing.T) {
	for _, v := range vectors(t) {
		t.Run(v.name, func(t *testing.T) {
			pdu := unhex(t, v.pdu)
			smsc, tpdu, err := atpdu.SplitSMSC(pdu)
			if err != nil {
				t.Fatalf("SplitSMSC: %v", err)
			}
			if got := smsc.String(); got != v.smsc {
				t.Errorf("SMSC = %q, want %q", got, v.smsc)
			}
			if n, err := atpdu.CMGSLength(pdu); err != nil || n != len(tpdu) {
				t.Errorf("CMGSLength = %d, %v; want %d", n, err, len(tpdu))
			}
			got, err := decodeAny(tpdu)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if v.want != nil && !reflect.DeepEqual(got, v.want) {
				t.Errorf("decoded\n got %+v\nwant %+v", got, v.want)
			}
			// encode(decode(x)) == x, TPDU and SMSC prefix.
			out, err := got.Append(nil)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if !bytes.Equal(out, tpdu) {
				t.Errorf("re-encoded TPDU\n got %X\nwant %X", out, tpdu)
			}
			full, err := atpdu.AppendSMSC(nil, smsc)
			if err != nil {
				t.Fatalf("AppendSMSC: %v", err)
			}
			if full = append(full, out...); !bytes.Equal(full, pdu) {
				t.Errorf("re-encoded PDU\n got %X\nwant %X", full, pdu)
			}
			// Append appends: a prefix in dst is kept.
			out2, _ := got.Append([]byte{0xEE})
			if out2[0] != 0xEE || !bytes.Equal(out2[1:], tpdu) {
				t.Errorf("Append does not append to dst: %X", out2)
			}
		})
	}
}

// TestVectorStrictPrefixes: every strict prefix of a TPDU fails to decode,
// except that an SMS-STATUS-REPORT may legitimately end after TP-ST
// (TS 23.040 §9.2.2.3: TP-PI and what follows are optional) — such a prefix
// must then re-encode to itself.
func TestVectorStrictPrefixes(t *testing.T) {
	for _, v := range vectors(t) {
		t.Run(v.name, func(t *testing.T) {
			_, tpdu, err := atpdu.SplitSMSC(unhex(t, v.pdu))
			if err != nil {
				t.Fatal(err)
			}
			for n := range len(tpdu) {
				p, err := decodeAny(tpdu[:n])
				if err == nil {
					sr, ok := p.(atpdu.StatusReport)
					out, _ := sr.Append(nil)
					if !ok || sr.PI != nil || !bytes.Equal(out, tpdu[:n]) {
						t.Errorf("prefix of %d/%d octets decoded: %+v", n, len(tpdu), p)
					}
					continue
				}
				var de *atpdu.DecodeError
				if !errors.As(err, &de) {
					t.Errorf("prefix %d: error %v is not a *DecodeError", n, err)
				}
				if !errors.Is(err, atpdu.ErrTruncated) {
					t.Errorf("prefix %d: error %v is not ErrTruncated", n, err)
				}
			}
			for _, pdu := range [][]byte{unhex(t, v.pdu)} {
				for n := range len(pdu) - len(tpdu) {
					if _, _, err := atpdu.SplitSMSC(pdu[:n]); err == nil {
						t.Errorf("SMSC prefix of %d octets split", n)
					}
				}
			}
		})
	}
}

// TestVectorTrailingByte: octets after the TPDU are refused.
func TestVectorTrailingByte(t *testing.T) {
	for _, v := range vectors(t) {
		_, tpdu, _ := atpdu.SplitSMSC(unhex(t, v.pdu))
		// Two octets: after a status report without TP-PI one octet is a
		// valid TP-PI of 0x00 (§9.2.3.27), the second one is trailing.
		_, err := decodeAny(append(tpdu, 0x00, 0x00))
		if !errors.Is(err, atpdu.ErrTrailingBytes) {
			t.Errorf("%s: with trailing octets: err = %v, want ErrTrailingBytes", v.name, err)
		}
	}
}

// TestDecodeDoesNotAlias: changing the input after decoding changes nothing.
func TestDecodeDoesNotAlias(t *testing.T) {
	for _, v := range vectors(t) {
		_, tpdu, _ := atpdu.SplitSMSC(unhex(t, v.pdu))
		got, err := decodeAny(tpdu)
		if err != nil {
			t.Fatal(err)
		}
		before, _ := got.Append(nil)
		for i := range tpdu {
			tpdu[i] ^= 0xFF
		}
		after, _ := got.Append(nil)
		if !bytes.Equal(before, after) {
			t.Errorf("%s: decoded value aliases its input", v.name)
		}
	}
}
