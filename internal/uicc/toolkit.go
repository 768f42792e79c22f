package uicc

import "fmt"

// Card application toolkit objects (ETSI TS 102 223, 3GPP TS 31.111) used by
// the LwM2M path: ENVELOPE (SMS-PP DOWNLOAD), the proactive command SEND
// SHORT MESSAGE and the TERMINAL RESPONSE to any proactive command.

// BER-TLV tags (TS 102 223 §9.1; TS 31.111 §9.1).
const (
	TagProactiveCommand = 0xD0
	TagSMSPPDownload    = 0xD1
)

// COMPREHENSION-TLV tags without the CR bit (TS 102 223 §9.3).
const (
	TagCommandDetails   = 0x01
	TagDeviceIdentities = 0x02
	TagResult           = 0x03
	TagAlphaIdentifier  = 0x05
	TagAddress          = 0x06
	TagSMSTPDU          = 0x0B
	tagCR               = 0x80 // comprehension required
)

// Device identities (TS 102 223 §8.7).
const (
	DeviceUICC     = 0x81
	DeviceTerminal = 0x82
	DeviceNetwork  = 0x83
)

// Proactive command types (TS 102 223 §9.4).
const (
	TypeMoreTime         = 0x02
	TypeSendShortMessage = 0x13
	TypeDisplayText      = 0x21
)

// General results of a TERMINAL RESPONSE (TS 102 223 §8.12).
const (
	ResultOK                 = 0x00 // command performed successfully
	ResultUnableNow          = 0x20 // terminal currently unable to process command
	ResultNetworkUnable      = 0x21 // network currently unable to process command
	ResultBeyondCapabilities = 0x30 // command beyond terminal's capabilities
	ResultDataNotUnderstood  = 0x32 // command data not understood by terminal
	ResultSMSRPError         = 0x35 // SMS RP-ERROR
)

// SMSPPDownload is the ENVELOPE (SMS-PP DOWNLOAD) data object, TS 31.111
// §7.1.1.2 (sms-pdu.md §13):
//
//	D1 len | 82 02 83 81 (network → UICC) | [86 len TON/NPI BCD] | 8B len SMS-DELIVER TPDU
type SMSPPDownload struct {
	// SMSC is the RP-originating address of the service centre (TON/NPI
	// octet then BCD), or nil when absent.
	SMSC []byte
	// TPDU is the whole SMS-DELIVER TPDU.
	TPDU []byte
}

// Append encodes the data object (the ENVELOPE data field).
func (d SMSPPDownload) Append(dst []byte) ([]byte, error) {
	inner := []byte{tagCR | TagDeviceIdentities, 2, DeviceNetwork, DeviceUICC}
	var err error
	if d.SMSC != nil {
		if inner, err = appendTLV(inner, tagCR|TagAddress, d.SMSC); err != nil {
			return nil, err
		}
	}
	if inner, err = appendTLV(inner, tagCR|TagSMSTPDU, d.TPDU); err != nil {
		return nil, err
	}
	return appendTLV(dst, TagSMSPPDownload, inner)
}

// DecodeSMSPPDownload decodes an ENVELOPE (SMS-PP DOWNLOAD) data field.
func DecodeSMSPPDownload(b []byte) (SMSPPDownload, error) {
	v, err := decodeOuter(b, TagSMSPPDownload, "SMS-PP download tag")
	if err != nil {
		return SMSPPDownload{}, err
	}
	tlvs, err := decodeTLVs(v)
	if err != nil {
		return SMSPPDownload{}, err
	}
	var d SMSPPDownload
	gotIDs, gotTPDU := false, false
	for _, t := range tlvs {
		switch t.Tag &^ tagCR {
		case TagDeviceIdentities:
			if len(t.Value) != 2 || t.Value[0] != DeviceNetwork || t.Value[1] != DeviceUICC {
				return SMSPPDownload{}, decodeErr("device identities", 0, ErrTag)
			}
			gotIDs = true
		case TagAddress:
			d.SMSC = t.Value
		case TagSMSTPDU:
			d.TPDU = t.Value
			gotTPDU = true
		}
	}
	if !gotIDs || !gotTPDU {
		return SMSPPDownload{}, decodeErr("SMS-PP download", len(b), ErrTruncated)
	}
	return d, nil
}

// ProactiveCommand is a proactive command as returned by FETCH (TS 102 223
// §6.6):
//
//	D0 len | 81 03 number type qualifier | 82 02 source destination | other TLVs...
type ProactiveCommand struct {
	Number, Type, Qualifier byte
	Source, Destination     byte
	// Items are the TLVs after the device identities, in order.
	Items []TLV
}

// Item returns the value of the first item with the tag (CR bit ignored).
func (p ProactiveCommand) Item(tag byte) ([]byte, bool) {
	for _, t := range p.Items {
		if t.Tag&^tagCR == tag&^tagCR {
			return t.Value, true
		}
	}
	return nil, false
}

// Append encodes the proactive command.
func (p ProactiveCommand) Append(dst []byte) ([]byte, error) {
	inner := []byte{tagCR | TagCommandDetails, 3, p.Number, p.Type, p.Qualifier,
		tagCR | TagDeviceIdentities, 2, p.Source, p.Destination}
	var err error
	for _, t := range p.Items {
		if inner, err = appendTLV(inner, t.Tag, t.Value); err != nil {
			return nil, err
		}
	}
	return appendTLV(dst, TagProactiveCommand, inner)
}

// DecodeProactiveCommand decodes the data of a FETCH response.
func DecodeProactiveCommand(b []byte) (ProactiveCommand, error) {
	v, err := decodeOuter(b, TagProactiveCommand, "proactive command tag")
	if err != nil {
		return ProactiveCommand{}, err
	}
	tlvs, err := decodeTLVs(v)
	if err != nil {
		return ProactiveCommand{}, err
	}
	if len(tlvs) < 2 || tlvs[0].Tag&^tagCR != TagCommandDetails || len(tlvs[0].Value) != 3 {
		return ProactiveCommand{}, decodeErr("command details", 2, ErrTag)
	}
	if tlvs[1].Tag&^tagCR != TagDeviceIdentities || len(tlvs[1].Value) != 2 {
		return ProactiveCommand{}, decodeErr("device identities", 7, ErrTag)
	}
	cd, ids := tlvs[0].Value, tlvs[1].Value
	return ProactiveCommand{
		Number: cd[0], Type: cd[1], Qualifier: cd[2],
		Source: ids[0], Destination: ids[1],
		Items: tlvs[2:],
	}, nil
}

// NewSendShortMessage builds SEND SHORT MESSAGE (TS 102 223 §6.4.10) from the
// UICC to the network: optional SMSC address (TON/NPI ‖ BCD), and the
// SMS-SUBMIT TPDU, packing not required (qualifier 0).
func NewSendShortMessage(number byte, smsc, tpdu []byte) ProactiveCommand {
	p := ProactiveCommand{Number: number, Type: TypeSendShortMessage, Source: DeviceUICC, Destination: DeviceNetwork}
	if smsc != nil {
		p.Items = append(p.Items, TLV{Tag: tagCR | TagAddress, Value: smsc})
	}
	p.Items = append(p.Items, TLV{Tag: tagCR | TagSMSTPDU, Value: tpdu})
	return p
}

// TerminalResponse answers a proactive command (TS 102 223 §6.8):
//
//	81 03 number type qualifier | 82 02 82 81 | 83 len general-result [additional info]
type TerminalResponse struct {
	Number, Type, Qualifier byte   // copied from the command details
	Result                  byte   // general result
	Additional              []byte // additional information on the result
}

// ResponseTo starts the terminal response to p with a result.
func ResponseTo(p ProactiveCommand, result byte, additional ...byte) TerminalResponse {
	return TerminalResponse{Number: p.Number, Type: p.Type, Qualifier: p.Qualifier, Result: result, Additional: additional}
}

// Append encodes the TERMINAL RESPONSE data field.
func (r TerminalResponse) Append(dst []byte) ([]byte, error) {
	dst = append(dst, tagCR|TagCommandDetails, 3, r.Number, r.Type, r.Qualifier,
		tagCR|TagDeviceIdentities, 2, DeviceTerminal, DeviceUICC)
	res := append([]byte{r.Result}, r.Additional...)
	return appendTLV(dst, tagCR|TagResult, res)
}

// DecodeTerminalResponse decodes a TERMINAL RESPONSE data field.
func DecodeTerminalResponse(b []byte) (TerminalResponse, error) {
	tlvs, err := decodeTLVs(b)
	if err != nil {
		return TerminalResponse{}, err
	}
	var r TerminalResponse
	var gotCD, gotResult bool
	for _, t := range tlvs {
		switch t.Tag &^ tagCR {
		case TagCommandDetails:
			if len(t.Value) != 3 {
				return TerminalResponse{}, decodeErr("command details", 0, ErrLength)
			}
			r.Number, r.Type, r.Qualifier = t.Value[0], t.Value[1], t.Value[2]
			gotCD = true
		case TagResult:
			if len(t.Value) < 1 {
				return TerminalResponse{}, decodeErr("result", 0, ErrLength)
			}
			r.Result = t.Value[0]
			r.Additional = t.Value[1:]
			gotResult = true
		}
	}
	if !gotCD || !gotResult {
		return TerminalResponse{}, decodeErr("terminal response", len(b), ErrTruncated)
	}
	return r, nil
}

// typeName names a proactive command type for logs.
func typeName(t byte) string {
	switch t {
	case TypeSendShortMessage:
		return "SEND SHORT MESSAGE"
	case TypeMoreTime:
		return "MORE TIME"
	case TypeDisplayText:
		return "DISPLAY TEXT"
	}
	return fmt.Sprintf("type 0x%02x", t)
}
