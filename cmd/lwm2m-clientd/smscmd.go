package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
)

// rfc3339Offset always prints the numeric offset ("+00:00", never "Z").
const rfc3339Offset = "2006-01-02T15:04:05-07:00"

func newSMSCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sms",
		Short: "Decode and encode SMS PDUs (TS 23.040) as modems show them in PDU mode",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return &usageError{errors.New("sms: a subcommand is required (decode, encode)")}
		},
	}
	cmd.AddCommand(newSMSDecodeCmd(), newSMSEncodeCmd())
	return cmd
}

func newSMSDecodeCmd() *cobra.Command {
	var asJSON, noSMSC bool
	cmd := &cobra.Command{
		Use:   "decode [--json] [--no-smsc] HEX",
		Short: "Decode an SMS-DELIVER, SMS-SUBMIT or SMS-STATUS-REPORT PDU (with the SMSC prefix unless --no-smsc)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := decodeSMS(args[0], noSMSC)
			if err != nil {
				return err
			}
			if asJSON {
				b, err := json.Marshal(v)
				if err != nil {
					return fmt.Errorf("sms decode: %w", err)
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
				return err
			}
			return v.writeText(cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().BoolVar(&noSMSC, "no-smsc", false, "HEX is a bare TPDU without the SMSC prefix")
	return cmd
}

// smsJSON is the JSON form of a decoded PDU; the keys are an interface
// (issue #3). Pointers are null where a field does not apply.
type smsJSON struct {
	Type          string    `json:"type"`
	SMSC          *string   `json:"smsc"`
	Originator    *string   `json:"originator,omitempty"`
	Destination   *string   `json:"destination,omitempty"`
	Recipient     *string   `json:"recipient,omitempty"`
	AddressType   string    `json:"address_type"`
	MR            *int      `json:"mr"`
	PID           int       `json:"pid"`
	DCS           int       `json:"dcs"`
	Class         *int      `json:"class"`
	Coding        string    `json:"coding"`
	UDH           []udhJSON `json:"udh"`
	UD            string    `json:"ud"`
	Text          *string   `json:"text"`
	SCTS          *string   `json:"scts"`
	VP            *vpJSON   `json:"vp"`
	SRR           bool      `json:"srr"`
	RP            bool      `json:"rp"`
	MMS           bool      `json:"mms"`
	UDHI          bool      `json:"udhi"`
	RD            bool      `json:"rd"`
	LP            bool      `json:"lp"`
	Status        *int      `json:"status,omitempty"`
	StatusText    string    `json:"status_text,omitempty"`
	DischargeTime *string   `json:"discharge_time,omitempty"`
	TPDULength    int       `json:"tpdu_length"`
}

type udhJSON struct {
	IEI  int    `json:"iei"`
	Data string `json:"data"`
}

type vpJSON struct {
	Format  string  `json:"format"`
	Seconds *int64  `json:"seconds,omitempty"`
	Time    *string `json:"time,omitempty"`
	Octets  string  `json:"octets,omitempty"` // enhanced: the 7 octets as sent
}

func ptr[T any](v T) *T { return &v }

// decodeSMS turns the HEX argument into its JSON/text view.
func decodeSMS(arg string, noSMSC bool) (*smsJSON, error) {
	raw, err := hex.DecodeString(strings.Join(strings.Fields(arg), ""))
	if err != nil {
		return nil, fmt.Errorf("sms decode: not hex: %w", err)
	}
	v := &smsJSON{}
	tpdu := raw
	if !noSMSC {
		smsc, rest, err := atpdu.SplitSMSC(raw)
		if err != nil {
			return nil, fmt.Errorf("sms decode: %w (is the SMSC prefix missing? try --no-smsc)", err)
		}
		tpdu = rest
		if !smsc.IsZero() {
			v.SMSC = ptr(smsc.String())
		}
	}
	v.TPDULength = len(tpdu)
	typ, err := atpdu.TypeOf(tpdu)
	if err != nil {
		return nil, fmt.Errorf("sms decode: %w", err)
	}
	v.Type = typ.String()
	var (
		dcs  atpdu.DCS
		udh  atpdu.UDH
		ud   []byte
		text func() (string, error)
	)
	switch typ {
	case atpdu.TypeSubmit:
		s, err := atpdu.DecodeSubmit(tpdu)
		if err != nil {
			return nil, fmt.Errorf("sms decode: %w", err)
		}
		v.Destination, v.AddressType = ptr(s.DA.String()), s.DA.TON.String()
		v.MR, v.PID = ptr(int(s.MR)), int(s.PID)
		v.SRR, v.RP, v.RD, v.UDHI = s.SRR, s.RP, s.RD, s.UDHI
		v.VP = vpView(s.VP)
		dcs, udh, ud, text = s.DCS, s.UDH, s.UD, s.Text
	case atpdu.TypeStatusReport:
		r, err := atpdu.DecodeStatusReport(tpdu)
		if err != nil {
			return nil, fmt.Errorf("sms decode: %w", err)
		}
		v.Recipient, v.AddressType = ptr(r.RA.String()), r.RA.TON.String()
		v.MR, v.PID = ptr(int(r.MR)), int(r.PID)
		v.SRR, v.MMS, v.LP, v.UDHI = r.SRQ, r.MMS, r.LP, r.UDHI
		v.SCTS = ptr(r.SCTS.Time().Format(rfc3339Offset))
		v.Status, v.StatusText = ptr(int(r.ST)), r.ST.String()
		v.DischargeTime = ptr(r.DT.Time().Format(rfc3339Offset))
		dcs, udh, ud, text = r.DCS, r.UDH, r.UD, r.Text
	default:
		d, err := atpdu.DecodeDeliver(tpdu)
		if err != nil {
			return nil, fmt.Errorf("sms decode: %w", err)
		}
		v.Originator, v.AddressType = ptr(d.OA.String()), d.OA.TON.String()
		v.PID = int(d.PID)
		v.SRR, v.RP, v.MMS, v.LP, v.UDHI = d.SRI, d.RP, d.MMS, d.LP, d.UDHI
		v.SCTS = ptr(d.SCTS.Time().Format(rfc3339Offset))
		dcs, udh, ud, text = d.DCS, d.UDH, d.UD, d.Text
	}
	v.DCS, v.Coding = int(dcs), dcs.Coding().String()
	if c := dcs.Class(); c != atpdu.ClassNone {
		v.Class = ptr(int(c))
	}
	v.UDH = []udhJSON{}
	for _, ie := range udh {
		v.UDH = append(v.UDH, udhJSON{IEI: int(ie.IEI), Data: hex.EncodeToString(ie.Data)})
	}
	v.UD = hex.EncodeToString(ud)
	if t, err := text(); err == nil {
		v.Text = &t
	}
	return v, nil
}

func vpView(vp atpdu.ValidityPeriod) *vpJSON {
	out := &vpJSON{Format: vp.Format.String()}
	switch vp.Format {
	case atpdu.VPFAbsolute:
		out.Time = ptr(vp.Absolute.Time().Format(rfc3339Offset))
	case atpdu.VPFEnhanced:
		out.Octets = hex.EncodeToString(vp.Enhanced[:])
	}
	if d, ok := vp.Duration(); ok {
		out.Seconds = ptr(int64(d / time.Second))
	}
	return out
}

// writeText prints the human-readable form, one "key: value" per line.
func (v *smsJSON) writeText(w io.Writer) error {
	var b strings.Builder
	line := func(k, format string, a ...any) {
		fmt.Fprintf(&b, "%-15s "+format+"\n", append([]any{k + ":"}, a...)...)
	}
	str := func(p *string) string {
		if p == nil {
			return "(none)"
		}
		return *p
	}
	line("type", "%s (%d octets)", v.Type, v.TPDULength)
	line("smsc", "%s", str(v.SMSC))
	switch {
	case v.Originator != nil:
		line("originator", "%s (%s)", *v.Originator, v.AddressType)
	case v.Destination != nil:
		line("destination", "%s (%s)", *v.Destination, v.AddressType)
	case v.Recipient != nil:
		line("recipient", "%s (%s)", *v.Recipient, v.AddressType)
	}
	if v.MR != nil {
		line("mr", "%d", *v.MR)
	}
	var flags []string
	for _, f := range []struct {
		name string
		on   bool
	}{{"rp", v.RP}, {"udhi", v.UDHI}, {"srr", v.SRR}, {"rd", v.RD}, {"lp", v.LP}, {"mms", v.MMS}} {
		if f.on {
			flags = append(flags, f.name)
		}
	}
	line("flags", "%s", strings.Join(flags, " "))
	line("pid", "0x%02X", v.PID)
	class := "no class"
	if v.Class != nil {
		class = fmt.Sprintf("class %d", *v.Class)
	}
	line("dcs", "0x%02X (%s, %s)", v.DCS, v.Coding, class)
	if v.SCTS != nil {
		line("scts", "%s", *v.SCTS)
	}
	if v.VP != nil {
		switch {
		case v.VP.Time != nil:
			line("vp", "%s until %s", v.VP.Format, *v.VP.Time)
		case v.VP.Seconds != nil:
			line("vp", "%s %s", v.VP.Format, time.Duration(*v.VP.Seconds)*time.Second)
		default:
			line("vp", "%s %s", v.VP.Format, v.VP.Octets)
		}
	}
	if v.Status != nil {
		line("status", "0x%02X %s", *v.Status, v.StatusText)
		line("discharge_time", "%s", str(v.DischargeTime))
	}
	for _, ie := range v.UDH {
		line("udh", "iei 0x%02X data %q", ie.IEI, ie.Data)
	}
	line("ud", "%s", v.UD)
	if v.Text != nil {
		line("text", "%q", *v.Text)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// smsEncodeFlags are the flags of both encode subcommands.
type smsEncodeFlags struct {
	addr, smsc           string
	pid, dcs, mr         uint8
	class, coding        string
	udh, ud, text        string
	vp, vpFormat, scts   string
	srr, rp, rd, mms, lp bool
	noSMSC               bool
}

func newSMSEncodeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "encode submit|deliver",
		Short: "Encode an SMS-SUBMIT or SMS-DELIVER and print the PDU hex",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return &usageError{errors.New("sms encode: a subcommand is required (submit, deliver)")}
		},
	}
	cmd.AddCommand(newSMSEncodeSubCmd("submit"), newSMSEncodeSubCmd("deliver"))
	return cmd
}

func newSMSEncodeSubCmd(kind string) *cobra.Command {
	var f smsEncodeFlags
	cmd := &cobra.Command{
		Use:   kind,
		Short: "Encode an SMS-" + strings.ToUpper(kind) + " (see lwm2m-clientd sms encode " + kind + " --help)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pdu, err := encodeSMS(kind, &f, cmd)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), strings.ToUpper(hex.EncodeToString(pdu)))
			return err
		},
	}
	fl := cmd.Flags()
	if kind == "submit" {
		fl.StringVar(&f.addr, "to", "", "destination TP-DA: +international, digits, or an alphanumeric name (required)")
		fl.Uint8Var(&f.mr, "mr", 0, "TP-MR message reference (the modem's AT+CMGS replaces it)")
		fl.StringVar(&f.vp, "vp", "", "validity period: a duration (relative, rounded up; e.g. 90s, 24h) or an RFC 3339 time (absolute)")
		fl.StringVar(&f.vpFormat, "vp-format", "", "relative (default for a duration) or enhanced (seconds precision)")
		fl.BoolVar(&f.srr, "srr", false, "TP-SRR: request a status report")
		fl.BoolVar(&f.rd, "rd", false, "TP-RD: SMSC rejects duplicates")
	} else {
		fl.StringVar(&f.addr, "from", "", "originator TP-OA: +international, digits, or an alphanumeric name (required)")
		fl.StringVar(&f.scts, "scts", "", "TP-SCTS as RFC 3339 with a quarter-hour offset (default: now, UTC)")
		fl.BoolVar(&f.srr, "srr", false, "TP-SRI: a status report will be returned")
		fl.BoolVar(&f.mms, "mms", true, "TP-MMS bit: true = no more messages waiting")
		fl.BoolVar(&f.lp, "lp", false, "TP-LP: loop prevention")
	}
	fl.Uint8Var(&f.pid, "pid", 0, "TP-PID (e.g. 0x7F for (U)SIM data download)")
	fl.Uint8Var(&f.dcs, "dcs", 0, "TP-DCS octet (instead of --class/--coding)")
	fl.StringVar(&f.class, "class", "none", "message class 0-3 or none")
	fl.StringVar(&f.coding, "coding", "", "gsm7, 8bit or ucs2 (default: from --text, else 8bit)")
	fl.StringVar(&f.udh, "udh", "", "user data header information elements as hex, without the UDHL octet (e.g. 7000)")
	fl.StringVar(&f.ud, "ud", "", "user data after the header as hex (for gsm7: one septet per octet)")
	fl.StringVar(&f.text, "text", "", "user data as text (GSM 7-bit when possible, else UCS2)")
	fl.BoolVar(&f.rp, "rp", false, "TP-RP: reply path")
	fl.StringVar(&f.smsc, "smsc", "", "SMSC address for the prefix (default: 00, the SIM's SMSC)")
	fl.BoolVar(&f.noSMSC, "no-smsc", false, "print the bare TPDU without the SMSC prefix")
	return cmd
}

// encodeSMS builds the PDU. Flag combinations that make no sense are
// usage errors (exit 2); values the codec refuses are failures (exit 1).
func encodeSMS(kind string, f *smsEncodeFlags, cmd *cobra.Command) ([]byte, error) {
	changed := cmd.Flags().Changed
	addrFlag := map[string]string{"submit": "to", "deliver": "from"}[kind]
	if f.addr == "" {
		return nil, &usageError{fmt.Errorf("sms encode %s: --%s is required", kind, addrFlag)}
	}
	if changed("ud") && changed("text") {
		return nil, &usageError{fmt.Errorf("sms encode %s: --ud and --text are exclusive", kind)}
	}
	if changed("dcs") && (changed("class") || changed("coding")) {
		return nil, &usageError{fmt.Errorf("sms encode %s: --dcs excludes --class and --coding", kind)}
	}
	if f.noSMSC && changed("smsc") {
		return nil, &usageError{fmt.Errorf("sms encode %s: --smsc and --no-smsc are exclusive", kind)}
	}
	addr, err := atpdu.ParseAddress(f.addr)
	if err != nil {
		return nil, &usageError{fmt.Errorf("sms encode %s: --%s: %w", kind, addrFlag, err)}
	}
	dcs, err := encodeDCS(f, changed("dcs"), changed("text"))
	if err != nil {
		return nil, &usageError{fmt.Errorf("sms encode %s: %w", kind, err)}
	}
	var udh atpdu.UDH
	if f.udh != "" {
		if udh, err = parseIEs(f.udh); err != nil {
			return nil, &usageError{fmt.Errorf("sms encode %s: --udh: %w", kind, err)}
		}
	}
	ud, err := encodeUD(f, dcs.Coding(), changed("text"))
	if err != nil {
		return nil, fmt.Errorf("sms encode %s: %w", kind, err)
	}
	var tpdu []byte
	if kind == "submit" {
		vp, err := encodeVP(f)
		if err != nil {
			return nil, &usageError{fmt.Errorf("sms encode submit: --vp: %w", err)}
		}
		s := atpdu.Submit{RP: f.rp, SRR: f.srr, RD: f.rd, MR: f.mr, DA: addr, PID: atpdu.PID(f.pid), DCS: dcs, VP: vp, UDH: udh, UD: ud}
		tpdu, err = s.Append(nil)
		if err != nil {
			return nil, fmt.Errorf("sms encode submit: %w", err)
		}
	} else {
		at := time.Now().UTC().Truncate(time.Second)
		if f.scts != "" {
			if at, err = time.Parse(time.RFC3339, f.scts); err != nil {
				return nil, &usageError{fmt.Errorf("sms encode deliver: --scts: %w", err)}
			}
		}
		scts, err := atpdu.TimestampOf(at)
		if err != nil {
			return nil, &usageError{fmt.Errorf("sms encode deliver: --scts: %w", err)}
		}
		d := atpdu.Deliver{RP: f.rp, SRI: f.srr, MMS: f.mms, LP: f.lp, OA: addr, PID: atpdu.PID(f.pid), DCS: dcs, SCTS: scts, UDH: udh, UD: ud}
		tpdu, err = d.Append(nil)
		if err != nil {
			return nil, fmt.Errorf("sms encode deliver: %w", err)
		}
	}
	if f.noSMSC {
		return tpdu, nil
	}
	var smsc atpdu.Address
	if f.smsc != "" {
		if smsc, err = atpdu.ParseAddress(f.smsc); err != nil {
			return nil, &usageError{fmt.Errorf("sms encode %s: --smsc: %w", kind, err)}
		}
	}
	pdu, err := atpdu.AppendSMSC(nil, smsc)
	if err != nil {
		return nil, &usageError{fmt.Errorf("sms encode %s: --smsc: %w", kind, err)}
	}
	return append(pdu, tpdu...), nil
}

func encodeDCS(f *smsEncodeFlags, dcsSet, textSet bool) (atpdu.DCS, error) {
	if dcsSet {
		return atpdu.DCS(f.dcs), nil
	}
	class := atpdu.ClassNone
	if f.class != "none" {
		n, err := strconv.Atoi(f.class)
		if err != nil || n < 0 || n > 3 {
			return 0, fmt.Errorf("--class %q: want 0, 1, 2, 3 or none", f.class)
		}
		class = atpdu.MessageClass(n)
	}
	coding := atpdu.Coding8Bit
	switch f.coding {
	case "":
		if textSet {
			coding, _ = atpdu.EncodeText(f.text)
		}
	case "gsm7":
		coding = atpdu.CodingGSM7
	case "8bit":
	case "ucs2":
		coding = atpdu.CodingUCS2
	default:
		return 0, fmt.Errorf("--coding %q: want gsm7, 8bit or ucs2", f.coding)
	}
	return atpdu.NewDCS(coding, class)
}

// encodeUD returns the user data in the units of coding.
func encodeUD(f *smsEncodeFlags, coding atpdu.Coding, textSet bool) ([]byte, error) {
	if !textSet {
		ud, err := hex.DecodeString(strings.Join(strings.Fields(f.ud), ""))
		if err != nil {
			return nil, fmt.Errorf("--ud: not hex: %w", err)
		}
		return ud, nil
	}
	switch coding {
	case atpdu.CodingGSM7:
		ud, err := atpdu.EncodeGSM7(f.text)
		if err != nil {
			return nil, fmt.Errorf("--text: %w", err)
		}
		return ud, nil
	case atpdu.CodingUCS2:
		return atpdu.EncodeUCS2(f.text), nil
	default:
		return []byte(f.text), nil
	}
}

func encodeVP(f *smsEncodeFlags) (atpdu.ValidityPeriod, error) {
	if f.vp == "" {
		if f.vpFormat != "" {
			return atpdu.ValidityPeriod{}, errors.New("--vp-format needs --vp")
		}
		return atpdu.ValidityPeriod{}, nil
	}
	if t, err := time.Parse(time.RFC3339, f.vp); err == nil {
		if f.vpFormat != "" && f.vpFormat != "absolute" {
			return atpdu.ValidityPeriod{}, fmt.Errorf("an RFC 3339 time is absolute, not %s", f.vpFormat)
		}
		return atpdu.AbsoluteVP(t)
	}
	d, err := time.ParseDuration(f.vp)
	if err != nil {
		return atpdu.ValidityPeriod{}, fmt.Errorf("%q is neither a duration nor an RFC 3339 time", f.vp)
	}
	switch f.vpFormat {
	case "", "relative":
		return atpdu.RelativeVP(d)
	case "enhanced":
		return atpdu.EnhancedVP(d)
	default:
		return atpdu.ValidityPeriod{}, fmt.Errorf("--vp-format %q: want relative or enhanced for a duration", f.vpFormat)
	}
}

// parseIEs reads information elements (IEI, IEDL, IED …) from hex.
func parseIEs(s string) (atpdu.UDH, error) {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		return nil, fmt.Errorf("not hex: %w", err)
	}
	var h atpdu.UDH
	for i := 0; i < len(b); {
		if len(b)-i < 2 || len(b)-i-2 < int(b[i+1]) {
			return nil, fmt.Errorf("information element at octet %d is cut short (give IEI, IEDL, data; no UDHL)", i)
		}
		n := int(b[i+1])
		h = append(h, atpdu.IE{IEI: b[i], Data: append([]byte(nil), b[i+2:i+2+n]...)})
		i += 2 + n
	}
	return h, nil
}
