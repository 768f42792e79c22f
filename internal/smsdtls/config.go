package smsdtls

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pion/dtls/v3"
)

// Sizes of one SMS and of the DTLS framing inside it.
const (
	// MaxDatagram is the largest DTLS datagram one SMS carries: 140 octets of
	// 8-bit user data, no UDH (TS 23.040 §9.2.3.24; LwM2M-TS 1.0 §7.2.2.1
	// "PMTU of 140 Bytes"; no concatenation, §7.2.2.1.2).
	MaxDatagram = 140
	// RecordHeaderLen is the DTLS record header (RFC 6347 §4.1).
	RecordHeaderLen = 13
	// HandshakeHeaderLen is the DTLS handshake message header (RFC 6347 §4.2.2).
	HandshakeHeaderLen = 12
	// HandshakeMTU is what pion calls MTU: the largest handshake fragment
	// body. pion adds the two headers after splitting, so 115 + 12 + 13 = 140.
	HandshakeMTU = MaxDatagram - RecordHeaderLen - HandshakeHeaderLen
	// RecordOverhead is what AES-128-CCM-8 adds to a plaintext: header 13,
	// explicit nonce 8, tag 8 (RFC 6655 §3, RFC 7925 App. B).
	RecordOverhead = RecordHeaderLen + 8 + 8
	// MaxPlaintext is the largest application record that fits one SMS: 111.
	MaxPlaintext = MaxDatagram - RecordOverhead
)

// Timers (LwM2M-TS 1.0 §7.2.2.1.5, spec digest dtls-over-sms.md §8).
const (
	// DefaultInitialRTO is the first retransmission timeout of the handshake
	// (LwM2M-TS 1.0 §7.2.2.1.5 "initial RTO at 10 seconds"; RFC 6347
	// §4.2.4.1 would say 1 s).
	DefaultInitialRTO = 10 * time.Second
	// MaxRTO is where the RTO stops doubling. pion/dtls v3 clamps at exactly
	// 60 s (handshaker.go backoffRetransmit) and offers no option to change
	// it, so this is not configurable; RFC 6347 §4.2.4.1 asks for "no less
	// than 60 seconds".
	MaxRTO = 60 * time.Second
	// DefaultHandshakeTimeout is the whole handshake budget. PROJECT DEFAULT
	// (dtls-over-sms.md §8, reading B of the CR's "10, 20, 40, 80 s ... 150
	// seconds"): with pion's clamp the client retransmits at 10, 30, 70 and
	// 130 s and gives up at 150 s.
	DefaultHandshakeTimeout = 150 * time.Second
	// DefaultRehandshakeInterval bounds how often records that the current
	// session cannot authenticate may start a new handshake (issue 8).
	DefaultRehandshakeInterval = 10 * time.Minute
	// DefaultRecordValidity is the TP-VP of SMS that carry application data.
	// PROJECT DEFAULT: 5 minutes, the shortest relative validity period
	// TS 23.040 §9.2.3.12.1 can express (value 0), and longer than any RTO.
	DefaultRecordValidity = 5 * time.Minute
	// DefaultSequenceReservation is how many record sequence numbers one
	// persisted snapshot reserves. PROJECT DEFAULT: one store write per 1000
	// records sent; a restart skips at most 1000 of 2^48 numbers.
	DefaultSequenceReservation = 1000
)

// SecurityMode is the LwM2M Security object resource 2 (LwM2M-TS 1.0 §E.1).
type SecurityMode int

// Security modes of LwM2M-TS 1.0 §E.1 resource 2.
const (
	ModePSK            SecurityMode = 0
	ModeRawPublicKey   SecurityMode = 1
	ModeCertificate    SecurityMode = 2
	ModeNoSec          SecurityMode = 3
	ModeCertificateEST SecurityMode = 4
)

func (m SecurityMode) String() string {
	switch m {
	case ModePSK:
		return "psk"
	case ModeRawPublicKey:
		return "raw public key"
	case ModeCertificate:
		return "certificate"
	case ModeNoSec:
		return "nosec"
	case ModeCertificateEST:
		return "certificate with EST"
	default:
		return fmt.Sprintf("mode %d", int(m))
	}
}

// ErrNotPSK is returned for a configuration whose security mode is not PSK:
// LwM2M-TS 1.0 §7.2.2.1.4 allows only PSK on the SMS channel (certificates
// make flights too long for SMS).
var ErrNotPSK = errors.New("only PSK is allowed for DTLS over SMS (LwM2M-TS 1.0 §7.2.2.1.4)")

// Secret is key material. It never prints or logs its value.
type Secret []byte

// String hides the value.
func (Secret) String() string { return "[redacted]" }

// GoString hides the value from %#v.
func (Secret) GoString() string { return "[redacted]" }

// LogValue hides the value from log/slog.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Config is one server's DTLS-over-SMS configuration. Zero durations and
// counts take the documented defaults.
type Config struct {
	// Number is the server's MSISDN ("+33600000002"): TP-DA of every SMS
	// sent and the key of the persisted session. Required.
	Number string
	// Mode is the Security instance's resource 2. Only ModePSK is accepted.
	Mode SecurityMode
	// PSKIdentity is sent in the ClientKeyExchange (RFC 4279 §2); by default
	// Security resource 7 (the daemon chooses). Required, at most 128 octets
	// (RFC 7925 §4.2).
	PSKIdentity []byte
	// PSK is the pre-shared key (Security resource 8 by default). Required,
	// at most 64 octets (RFC 7925 §4.2).
	PSK Secret
	// InitialRTO is the first handshake retransmission timeout; it doubles on
	// every retransmission up to MaxRTO. Default DefaultInitialRTO.
	InitialRTO time.Duration
	// HandshakeTimeout bounds one handshake. Default DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// RecordValidity is the TP-VP of SMS carrying application data. Default
	// DefaultRecordValidity.
	RecordValidity time.Duration
	// RehandshakeInterval: server records that ask for a handshake (an
	// epoch-1 record the session cannot authenticate, a HelloRequest) start
	// at most one new handshake per interval, counted from the start of the
	// last full handshake of any origin (the client's first one included;
	// restores do not count). Default DefaultRehandshakeInterval.
	RehandshakeInterval time.Duration
	// SequenceReservation is how many record sequence numbers each persisted
	// snapshot reserves. Default DefaultSequenceReservation.
	SequenceReservation uint64
}

// withDefaults validates c and returns a copy with defaults filled in and
// slices copied (the caller may reuse its buffers).
func (c Config) withDefaults() (Config, error) {
	if c.Mode != ModePSK {
		return Config{}, fmt.Errorf("smsdtls: server %s: security mode %v: %w", c.Number, c.Mode, ErrNotPSK)
	}
	switch {
	case c.Number == "":
		return Config{}, errors.New("smsdtls: no server number")
	case len(c.PSKIdentity) == 0 || len(c.PSKIdentity) > 128:
		return Config{}, fmt.Errorf("smsdtls: server %s: PSK identity of %d octets, want 1 to 128 (RFC 7925 §4.2)", c.Number, len(c.PSKIdentity))
	case len(c.PSK) == 0 || len(c.PSK) > 64:
		return Config{}, fmt.Errorf("smsdtls: server %s: PSK of %d octets, want 1 to 64 (RFC 7925 §4.2)", c.Number, len(c.PSK))
	case c.InitialRTO < 0, c.HandshakeTimeout < 0, c.RecordValidity < 0, c.RehandshakeInterval < 0:
		return Config{}, fmt.Errorf("smsdtls: server %s: negative duration", c.Number)
	}
	c.PSKIdentity = append([]byte(nil), c.PSKIdentity...)
	c.PSK = append(Secret(nil), c.PSK...)
	if c.InitialRTO == 0 {
		c.InitialRTO = DefaultInitialRTO
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.RecordValidity == 0 {
		c.RecordValidity = DefaultRecordValidity
	}
	if c.RehandshakeInterval == 0 {
		c.RehandshakeInterval = DefaultRehandshakeInterval
	}
	if c.SequenceReservation == 0 {
		c.SequenceReservation = DefaultSequenceReservation
	}
	return c, nil
}

// CipherSuite is the only suite offered: TLS_PSK_WITH_AES_128_CCM_8
// (0xC0,0xA8; RFC 6655 §4, RFC 7252 §9.1.3.1, RFC 7925 §4.2).
const CipherSuite = dtls.TLS_PSK_WITH_AES_128_CCM_8

// signatureScheme is the one entry of the signature_algorithms extension.
// Plain PSK signs nothing; pion always sends the extension and fills it with
// its whole default list (10 entries, 26 octets) when given none, which with
// a 32-byte cookie leaves a 138-octet ClientHello datagram, 2 octets from a
// second SMS. One entry (8 octets) keeps the extension well-formed for
// servers that expect it (RFC 5246 §7.4.1.4.1) and the datagram at 120.
const signatureScheme = tls.ECDSAWithP256AndSHA256

// pionOptions is the pion/dtls client configuration for DTLS over SMS. Only
// shared options are used so the same list serves dtls.ClientWithOptions and
// dtls.ResumeWithOptions. No ConnectionIDGenerator: over SMS the MSISDN
// identifies the peer and a CID only costs octets (dtls-over-sms.md §3). No
// SessionStore: a session ID would cost 33 octets in every ClientHello;
// sessions survive restarts by snapshot instead.
func (c Config) pionOptions(log *slog.Logger) []dtls.Option {
	psk := append([]byte(nil), c.PSK...)
	return []dtls.Option{
		dtls.WithPSK(func([]byte) ([]byte, error) { return psk, nil }),
		dtls.WithPSKIdentityHint(c.PSKIdentity), // client side: the identity sent
		dtls.WithCipherSuites(CipherSuite),
		dtls.WithSignatureSchemes(signatureScheme),
		dtls.WithMTU(HandshakeMTU),
		dtls.WithFlightInterval(c.InitialRTO),
		dtls.WithExtendedMasterSecret(dtls.RequestExtendedMasterSecret),
		dtls.WithLoggerFactory(pionLoggerFactory{log: log}),
	}
}
