package sim

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/securedpacket"
)

// Profile is a SIM profile file (configs/emulator-sim.yaml). Every binary
// value is hex; YAML or JSON (JSON is YAML).
//
//	iccid: "8933010000000000017"   # AT+CCID
//	imsi: "208019900000017"        # AT+CIMI
//	aid: F04C574D324D              # the LwM2M UICC application
//	tar: B20203                    # its TAR
//	kic: "12"                      # key set 1, AES-CBC
//	kid: "12"                      # key set 1, AES-CMAC
//	spi: "1600"                    # CC, ciphering, counter higher; no PoR
//	kic_key: 000102...0f
//	kid_key: 101112...1f
//	counter: 0                     # initial counters (both directions)
type Profile struct {
	ICCID   string `yaml:"iccid"`
	IMSI    string `yaml:"imsi"`
	AID     Hex    `yaml:"aid"`
	TAR     Hex    `yaml:"tar"`
	KIc     Hex    `yaml:"kic"`
	KID     Hex    `yaml:"kid"`
	SPI     Hex    `yaml:"spi"`
	KIcKey  Hex    `yaml:"kic_key"`
	KIDKey  Hex    `yaml:"kid_key"`
	Counter uint64 `yaml:"counter"`
}

// Hex is a binary value written in hex ("B20203", "b2 02 03").
type Hex []byte

// UnmarshalYAML takes the scalar's text, so that 12 stays the octet 0x12
// rather than the number twelve.
func (h *Hex) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a hex string", n.Line)
	}
	b, err := hex.DecodeString(strings.ReplaceAll(n.Value, " ", ""))
	if err != nil {
		return fmt.Errorf("line %d: %q is not hex", n.Line, n.Value)
	}
	*h = b
	return nil
}

// String hides the value: profiles hold keys.
func (h Hex) String() string { return "[hex]" }

// LoadProfile reads and checks a profile file.
func LoadProfile(path string) (Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Profile{}, fmt.Errorf("sim: read profile: %w", err)
	}
	var p Profile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return Profile{}, fmt.Errorf("sim: profile %s: %w", path, err)
	}
	if err := p.Validate(); err != nil {
		return Profile{}, fmt.Errorf("sim: profile %s: %w", path, err)
	}
	return p, nil
}

// Validate checks lengths and that the keys fit the algorithms.
func (p Profile) Validate() error {
	var errs []error
	check := func(name string, v []byte, n int) {
		if len(v) != n {
			errs = append(errs, fmt.Errorf("%s: want %d octets, have %d", name, n, len(v)))
		}
	}
	check("tar", p.TAR, 3)
	check("kic", p.KIc, 1)
	check("kid", p.KID, 1)
	check("spi", p.SPI, 2)
	if len(p.AID) < 5 || len(p.AID) > 16 {
		errs = append(errs, fmt.Errorf("aid: want 5 to 16 octets, have %d", len(p.AID)))
	}
	if !digits(p.ICCID, 18, 20) {
		errs = append(errs, fmt.Errorf("iccid: want 18 to 20 digits"))
	}
	if !digits(p.IMSI, 6, 15) {
		errs = append(errs, fmt.Errorf("imsi: want 6 to 15 digits"))
	}
	if p.Counter > securedpacket.MaxCounter {
		errs = append(errs, fmt.Errorf("counter: above 40 bits"))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if _, err := securedpacket.DecodeSPI(p.SPI); err != nil {
		return fmt.Errorf("spi: %w", err)
	}
	// A round trip through the codec proves the keys fit the algorithms.
	h := p.header()
	if _, err := securedpacket.SealCommand(nil, securedpacket.Command{Header: h, Data: []byte{0}}, p.keys()); err != nil {
		return fmt.Errorf("kic/kid keys: %w", err)
	}
	return nil
}

func (p Profile) header() securedpacket.Header {
	spi, _ := securedpacket.DecodeSPI(p.SPI)
	var tar securedpacket.TAR
	copy(tar[:], p.TAR)
	return securedpacket.Header{SPI: spi, KIc: securedpacket.KeyRef(p.KIc[0]), KID: securedpacket.KeyRef(p.KID[0]), TAR: tar}
}

func (p Profile) keys() securedpacket.Keys {
	return securedpacket.Keys{KIc: p.KIcKey, KID: p.KIDKey}
}

func digits(s string, lo, hi int) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
