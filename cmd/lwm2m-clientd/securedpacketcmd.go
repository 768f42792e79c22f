package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	sp "github.com/lwm2m-clientd/lwm2m-clientd/internal/securedpacket"
)

func newSecuredPacketCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "securedpacket",
		Short: "Build and read TS 31.115 secured packets (SMS security mode 2)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return &usageError{errors.New("securedpacket: a subcommand is required (encode, decode)")}
		},
	}
	cmd.AddCommand(newSecuredPacketEncodeCmd(), newSecuredPacketDecodeCmd())
	return cmd
}

// hexFlag parses a hex flag value of a given length (0: any).
func hexFlag(name, v string, n int) ([]byte, error) {
	b, err := hex.DecodeString(strings.ReplaceAll(v, " ", ""))
	if err != nil {
		return nil, &usageError{fmt.Errorf("--%s: %q is not hex", name, v)}
	}
	if n > 0 && len(b) != n {
		return nil, &usageError{fmt.Errorf("--%s: want %d octets, have %d", name, n, len(b))}
	}
	return b, nil
}

// header reads --spi, --kic, --kid and (when tar is true) --tar.
func headerFlags(spiHex, kicHex, kidHex, tarHex string, withTAR bool) (sp.Header, error) {
	var h sp.Header
	b, err := hexFlag("spi", spiHex, 2)
	if err != nil {
		return h, err
	}
	if h.SPI, err = sp.DecodeSPI(b); err != nil {
		return h, &usageError{fmt.Errorf("--spi: %w", err)}
	}
	kic, err := hexFlag("kic", kicHex, 1)
	if err != nil {
		return h, err
	}
	kid, err := hexFlag("kid", kidHex, 1)
	if err != nil {
		return h, err
	}
	h.KIc, h.KID = sp.KeyRef(kic[0]), sp.KeyRef(kid[0])
	if withTAR {
		tar, err := hexFlag("tar", tarHex, 3)
		if err != nil {
			return h, err
		}
		copy(h.TAR[:], tar)
	}
	return h, nil
}

func newSecuredPacketEncodeCmd() *cobra.Command {
	var spiHex, kicHex, kidHex, tarHex, kicKey, kidKey, dataHex, from string
	var cntr uint64
	cmd := &cobra.Command{
		Use:   "encode --spi HEX --kic HEX --kid HEX --tar HEX --cntr N --kic-key HEX --kid-key HEX --data HEX [--deliver-from MSISDN]",
		Short: "Build a command packet; print it, its SMS user data and optionally a class-2 PID-0x7F SMS-DELIVER",
		Long: `Build a TS 31.115 command packet from the secured data (for LwM2M: 05 ‖ length ‖ CoAP)
and print the packet (CPL onwards), the SMS user data with its UDH (one line per SMS when
concatenated) and, with --deliver-from, each SMS-DELIVER PDU in AT PDU mode (SMSC octet 00,
class 2, PID 7F) as a server would send it. A header the LwM2M policy refuses is still
encoded, with a warning on stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var missing []string
			for _, name := range []string{"spi", "kic", "kid", "tar", "cntr", "data"} {
				if !cmd.Flags().Changed(name) {
					missing = append(missing, "--"+name)
				}
			}
			if len(missing) > 0 {
				return &usageError{fmt.Errorf("securedpacket encode: missing %s", strings.Join(missing, ", "))}
			}
			var oa atpdu.Address
			if from != "" {
				a, err := atpdu.ParseAddress(from)
				if err != nil {
					return &usageError{fmt.Errorf("--deliver-from: %w", err)}
				}
				oa = a
			}
			h, err := headerFlags(spiHex, kicHex, kidHex, tarHex, true)
			if err != nil {
				return err
			}
			keys, err := keyFlags(kicKey, kidKey)
			if err != nil {
				return err
			}
			data, err := hexFlag("data", dataHex, 0)
			if err != nil {
				return err
			}
			if cntr > sp.MaxCounter {
				return &usageError{fmt.Errorf("--cntr: %d exceeds 40 bits", cntr)}
			}
			if err := (sp.Policy{}).Check(h, &keys); err != nil {
				for _, line := range strings.Split(err.Error(), "\n") {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", line)
				}
			}
			pkt, err := sp.SealCommand(nil, sp.Command{Header: h, Counter: cntr, Data: data}, keys)
			if err != nil {
				return fmt.Errorf("securedpacket encode: %w", err)
			}
			parts, err := sp.SplitCommand(pkt, byte(cntr))
			if err != nil {
				return fmt.Errorf("securedpacket encode: %w", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "packet: %X\n", pkt)
			for _, ud := range parts {
				fmt.Fprintf(out, "user_data: %X\n", ud)
			}
			if from == "" {
				return nil
			}
			scts, err := atpdu.TimestampOf(time.Now().UTC().Truncate(time.Second))
			if err != nil {
				return err
			}
			for _, ud := range parts {
				u, err := sp.DecodeUserData(ud)
				if err != nil {
					return err
				}
				udh := make(atpdu.UDH, 0, len(u.IEs))
				for _, ie := range u.IEs {
					udh = append(udh, atpdu.IE{IEI: ie.ID, Data: ie.Data})
				}
				// secured-packet.md §9: 8-bit class 2 (DCS F6), PID 7F, UDHI.
				d := atpdu.Deliver{OA: oa, PID: atpdu.PIDUSIMDataDownload, DCS: 0xF6, SCTS: scts, UDH: udh, UD: u.Payload}
				tpdu, err := d.Append(nil)
				if err != nil {
					return fmt.Errorf("securedpacket encode: SMS-DELIVER: %w", err)
				}
				fmt.Fprintf(out, "sms_deliver: 00%X (length %d)\n", tpdu, len(tpdu))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&spiHex, "spi", "", "SPI, 2 octets hex (LwM2M: 16xx)")
	f.StringVar(&kicHex, "kic", "", "KIc, 1 octet hex (12 = key set 1, AES-CBC)")
	f.StringVar(&kidHex, "kid", "", "KID, 1 octet hex (12 = key set 1, AES-CMAC)")
	f.StringVar(&tarHex, "tar", "", "TAR, 3 octets hex (e.g. B20203)")
	f.Uint64Var(&cntr, "cntr", 0, "counter CNTR (40 bits)")
	f.StringVar(&kicKey, "kic-key", "", "ciphering key, hex")
	f.StringVar(&kidKey, "kid-key", "", "checksum key, hex")
	f.StringVar(&dataHex, "data", "", "secured data, hex")
	f.StringVar(&from, "deliver-from", "", "also print SMS-DELIVER PDUs from this MSISDN")
	return cmd
}

func keyFlags(kicKey, kidKey string) (sp.Keys, error) {
	kic, err := hexFlag("kic-key", kicKey, 0)
	if err != nil {
		return sp.Keys{}, err
	}
	kid, err := hexFlag("kid-key", kidKey, 0)
	if err != nil {
		return sp.Keys{}, err
	}
	return sp.Keys{KIc: kic, KID: kid}, nil
}

// decodedPacket is the decode output; the JSON keys are an interface.
type decodedPacket struct {
	SPI     string  `json:"spi"`
	KIc     string  `json:"kic"`
	KID     string  `json:"kid"`
	TAR     string  `json:"tar"`
	CNTR    uint64  `json:"cntr"`
	PCNTR   int     `json:"pcntr"`
	CC      string  `json:"cc"`
	CCValid bool    `json:"cc_valid"`
	Data    string  `json:"data"`
	Status  *string `json:"status,omitempty"`

	h        sp.Header // for the text form
	response bool
	status   sp.Status
	ccErr    error
}

func newSecuredPacketDecodeCmd() *cobra.Command {
	var spiHex, kicHex, kidHex, kicKey, kidKey string
	var response, asJSON bool
	cmd := &cobra.Command{
		Use:   "decode [--response --spi HEX --kic HEX --kid HEX] --kic-key HEX --kid-key HEX [--json] HEX",
		Short: "Decipher and check a command or response packet; print every field",
		Long: `Decode a secured packet given as the SMS user data with its UDH (02 70 00 ..., 02 71 00 ...)
or as the bare packet (CPL/RPL onwards). A response packet carries no SPI, KIc or KID: give
those of the command it answers. Prints every field, whether the cryptographic checksum
verified, and the secured data. Exit status 1 when the checksum does not verify.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := hexFlag("HEX argument", args[0], 0)
			if err != nil {
				return err
			}
			keys, err := keyFlags(kicKey, kidKey)
			if err != nil {
				return err
			}
			var d decodedPacket
			if response {
				h, err := headerFlags(spiHex, kicHex, kidHex, "", false)
				if err != nil {
					return err
				}
				d, err = decodeResponse(unwrapUserData(b, sp.KindResponse), h, keys)
				if err != nil {
					return err
				}
			} else {
				if spiHex != "" || kicHex != "" || kidHex != "" {
					return &usageError{errors.New("--spi, --kic and --kid are read from a command packet; use them with --response")}
				}
				if d, err = decodeCommand(unwrapUserData(b, sp.KindCommand), keys); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				if err := enc.Encode(d); err != nil {
					return err
				}
			} else if err := d.writeText(out); err != nil {
				return err
			}
			if d.ccErr != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "lwm2m-clientd: %v\n", d.ccErr)
				return &silentError{code: exitFail}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&response, "response", false, "the packet is a response packet (PoR)")
	f.StringVar(&spiHex, "spi", "", "SPI of the command answered (--response)")
	f.StringVar(&kicHex, "kic", "", "KIc of the command answered (--response)")
	f.StringVar(&kidHex, "kid", "", "KID of the command answered (--response)")
	f.StringVar(&kicKey, "kic-key", "", "ciphering key, hex")
	f.StringVar(&kidKey, "kid-key", "", "checksum key, hex")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// unwrapUserData strips a UDH carrying the wanted packet identifier; other
// input is taken as the bare packet.
func unwrapUserData(b []byte, want sp.Kind) []byte {
	if u, err := sp.DecodeUserData(b); err == nil && u.Kind() == want {
		if _, concat := u.Concat(); !concat {
			return u.Payload
		}
	}
	return b
}

func decodeCommand(b []byte, keys sp.Keys) (decodedPacket, error) {
	p, err := sp.DecodeCommandPacket(b)
	if err != nil {
		return decodedPacket{}, fmt.Errorf("securedpacket decode: %w", err)
	}
	pl, err := p.Decipher(keys)
	if err != nil {
		return decodedPacket{}, fmt.Errorf("securedpacket decode: %w", err)
	}
	data, err := pl.Data()
	if err != nil {
		return decodedPacket{}, fmt.Errorf("securedpacket decode: %w", err)
	}
	d := decodedPacket{h: p.Header, CNTR: pl.Counter, PCNTR: pl.PCNTR, CC: hex.EncodeToString(pl.Checksum), Data: hex.EncodeToString(data)}
	if p.SPI.Integrity == sp.IntegrityCC {
		d.ccErr = p.VerifyChecksum(pl, keys)
		d.CCValid = d.ccErr == nil
	}
	d.fill()
	return d, nil
}

func decodeResponse(b []byte, h sp.Header, keys sp.Keys) (decodedPacket, error) {
	p, err := sp.DecodeResponsePacket(b)
	if err != nil {
		return decodedPacket{}, fmt.Errorf("securedpacket decode: %w", err)
	}
	pl, err := p.Decipher(h, keys)
	if err != nil {
		return decodedPacket{}, fmt.Errorf("securedpacket decode: %w", err)
	}
	data, err := pl.Data()
	if err != nil {
		return decodedPacket{}, fmt.Errorf("securedpacket decode: %w", err)
	}
	h.TAR = p.TAR
	d := decodedPacket{h: h, response: true, status: pl.Status, CNTR: pl.Counter, PCNTR: pl.PCNTR,
		CC: hex.EncodeToString(pl.Checksum), Data: hex.EncodeToString(data)}
	if h.SPI.PoRIntegrity == sp.IntegrityCC {
		d.ccErr = p.VerifyChecksum(pl, h, keys)
		d.CCValid = d.ccErr == nil
	}
	st := fmt.Sprintf("%02x", byte(pl.Status))
	d.Status = &st
	d.fill()
	return d, nil
}

func (d *decodedPacket) fill() {
	d.SPI = d.h.SPI.String()
	d.KIc = fmt.Sprintf("%02x", byte(d.h.KIc))
	d.KID = fmt.Sprintf("%02x", byte(d.h.KID))
	d.TAR = d.h.TAR.String()
}

func (d decodedPacket) writeText(w io.Writer) error {
	s := d.h.SPI
	cc := "none"
	switch {
	case d.CC != "" && d.CCValid:
		cc = d.CC + " (valid)"
	case d.CC != "":
		cc = d.CC + " (INVALID)"
	}
	kind := "command packet"
	if d.response {
		kind = "response packet"
	}
	_, err := fmt.Fprintf(w, "type:   %s\nspi:    %s (%s, ciphered %v, counter %s; PoR %s, PoR %s, PoR ciphered %v, PoR via SMS-SUBMIT %v)\n"+
		"kic:    %s\nkid:    %s\ntar:    %s\ncntr:   %d\npcntr:  %d\n",
		kind, d.SPI, s.Integrity, s.Ciphered, s.Counter, s.PoR, s.PoRIntegrity, s.PoRCiphered, s.PoRSubmit,
		d.h.KIc.Describe(false, s.Integrity), d.h.KID.Describe(true, s.Integrity), d.TAR, d.CNTR, d.PCNTR)
	if err != nil {
		return err
	}
	if d.response {
		if _, err := fmt.Fprintf(w, "status: %02x (%s)\n", byte(d.status), d.status); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(w, "cc:     %s\ndata:   %s\n", cc, d.Data)
	return err
}
