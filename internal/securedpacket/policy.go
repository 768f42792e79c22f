package securedpacket

import (
	"bytes"
	"errors"
	"fmt"
)

// LwM2M policy (LwM2M-TS 1.0 §7.2.2.2.3, the seed's "SMS Secured Packet
// Binding for CoAP messages"), one error per rule. The codec builds and
// opens any packet it has the algorithms for; the LwM2M UICC application
// and the server additionally run Policy.Check on every packet.
var (
	// ErrPolicyCiphering: "SPI MUST be set ... use of ciphering".
	ErrPolicyCiphering = errors.New("lwm2m policy: ciphering is required")
	// ErrPolicyChecksum: "use of cryptographic checksum" (not RC, DS or none).
	ErrPolicyChecksum = errors.New("lwm2m policy: a cryptographic checksum is required")
	// ErrPolicyCounter: "process if and only if counter value is higher
	// than the value in the RE".
	ErrPolicyCounter = errors.New("lwm2m policy: counter mode must be \"higher than\"")
	// ErrPolicySingleDES: "Single DES MUST NOT be used".
	ErrPolicySingleDES = errors.New("lwm2m policy: single DES is forbidden")
	// ErrPolicy3DESTwoKeys: 3DES "MUST be used in outer CBC mode and 3
	// different keys" — a 2-key KIc/KID.
	ErrPolicy3DESTwoKeys = errors.New("lwm2m policy: 3DES must use three keys")
	// ErrPolicy3DESSameKeys: the 3 keys of a 3-key 3DES key are not all
	// different.
	ErrPolicy3DESSameKeys = errors.New("lwm2m policy: the three 3DES keys must be different")
	// ErrPolicyAESMode: AES "MUST be used with CBC mode for ciphering ...
	// and in CMAC mode for integrity": KIc and KID must both be AES.
	ErrPolicyAESMode = errors.New("lwm2m policy: AES must be CBC for ciphering and CMAC for the checksum")
	// ErrPolicyAlgorithm: "The ciphering and cryptographic checksum MUST
	// use either AES or Triple DES" — implicit, proprietary and reserved
	// algorithm codings are refused.
	ErrPolicyAlgorithm = errors.New("lwm2m policy: algorithm must be AES or 3DES")
	// ErrPolicyTAR: the TAR is outside the configured range.
	ErrPolicyTAR = errors.New("lwm2m policy: TAR outside the configured range")
)

// TARRange is an inclusive range of TARs.
type TARRange struct{ First, Last TAR }

// Contains reports whether t lies in the range.
func (r TARRange) Contains(t TAR) bool {
	return bytes.Compare(t[:], r.First[:]) >= 0 && bytes.Compare(t[:], r.Last[:]) <= 0
}

func (r TARRange) String() string {
	if r.First == r.Last {
		return r.First.String()
	}
	return r.First.String() + "-" + r.Last.String()
}

// TAR values for the LwM2M UICC application. The two sources disagree
// (secured-packet.md §9): the seed reserves BF FF 00–BF FF FF, the 2017
// LwM2M 1.1 draft registers B2 02 03.
var (
	// SeedTARRange is LwM2M-TS 1.0 §7.2.2.2.3's range.
	SeedTARRange = TARRange{First: TAR{0xBF, 0xFF, 0x00}, Last: TAR{0xBF, 0xFF, 0xFF}}
	// DraftTAR is the LwM2M 1.1 draft's TAR (PROJECT DEFAULT, as
	// config.DefaultTAR).
	DraftTAR = TARRange{First: TAR{0xB2, 0x02, 0x03}, Last: TAR{0xB2, 0x02, 0x03}}
)

// Policy is the LwM2M secured-packet policy. The zero value accepts the
// TARs of SeedTARRange and DraftTAR.
type Policy struct {
	// TARs lists the accepted TAR ranges; empty means SeedTARRange and
	// DraftTAR.
	TARs []TARRange
}

// Check applies every rule to a packet header and, when keys is not nil,
// to the key material (the 3-key distinctness rule). It returns nil or the
// errors.Join of one sentinel per broken rule.
func (p Policy) Check(h Header, keys *Keys) error {
	var errs []error
	if !h.SPI.Ciphered {
		errs = append(errs, ErrPolicyCiphering)
	}
	if h.SPI.Integrity != IntegrityCC {
		errs = append(errs, ErrPolicyChecksum)
	}
	if h.SPI.Counter != CounterHigher {
		errs = append(errs, ErrPolicyCounter)
	}
	errs = append(errs, checkAlgorithms(h.KIc, h.KID)...)
	if keys != nil {
		for _, k := range []struct {
			ref KeyRef
			key []byte
		}{{h.KIc, keys.KIc}, {h.KID, keys.KID}} {
			if k.ref.Algorithm() == AlgTripleDES3 && len(k.key) == 24 &&
				(bytes.Equal(k.key[0:8], k.key[8:16]) || bytes.Equal(k.key[8:16], k.key[16:24]) || bytes.Equal(k.key[0:8], k.key[16:24])) {
				errs = append(errs, ErrPolicy3DESSameKeys)
				break
			}
		}
	}
	if !p.tarAllowed(h.TAR) {
		errs = append(errs, fmt.Errorf("%w: %s not in %v", ErrPolicyTAR, h.TAR, p.ranges()))
	}
	return errors.Join(errs...)
}

// checkAlgorithms applies the algorithm rules to KIc and KID.
func checkAlgorithms(kic, kid KeyRef) []error {
	var errs []error
	seen := map[error]bool{}
	add := func(err error) {
		if !seen[err] {
			seen[err] = true
			errs = append(errs, err)
		}
	}
	for _, k := range []KeyRef{kic, kid} {
		switch k.Algorithm() {
		case AlgAES, AlgTripleDES3:
		case AlgDES, AlgDESECB:
			add(ErrPolicySingleDES)
		case AlgTripleDES2:
			add(ErrPolicy3DESTwoKeys)
		default:
			add(ErrPolicyAlgorithm)
		}
	}
	if (kic.Algorithm() == AlgAES) != (kid.Algorithm() == AlgAES) {
		add(ErrPolicyAESMode)
	}
	return errs
}

func (p Policy) ranges() []TARRange {
	if len(p.TARs) == 0 {
		return []TARRange{SeedTARRange, DraftTAR}
	}
	return p.TARs
}

func (p Policy) tarAllowed(t TAR) bool {
	for _, r := range p.ranges() {
		if r.Contains(t) {
			return true
		}
	}
	return false
}
