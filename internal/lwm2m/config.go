package lwm2m

import (
	"context"
	"net"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/plgd-dev/go-coap/v3/udp"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
)

// Transmission defaults: RFC 7252 §4.8 (UDP-sized; an SMS transport passes
// its own through Config).
const (
	DefaultAckTimeout      = 2 * time.Second
	DefaultAckRandomFactor = 1.5
	DefaultMaxRetransmit   = 4
	// DefaultMaxTransmitWait is MAX_TRANSMIT_WAIT (RFC 7252 §4.8.2): the
	// queue-mode awake time (LwM2M-TS 1.0 §8.3) and the request bound.
	DefaultMaxTransmitWait = 93 * time.Second
	// DefaultBlockSize is the block-wise size for UDP (RFC 7959 §2.2, SZX 6).
	DefaultBlockSize = 1024
	// DefaultMaxMessageSize bounds one CoAP datagram (IP MTU 1500 minus
	// IP/UDP headers, go-coap's DefaultMTU).
	DefaultMaxMessageSize = 1472
)

// PROJECT DEFAULT values (the LwM2M 1.0 text leaves them open).
const (
	// DefaultHandshakeTimeout bounds one DTLS handshake over UDP (pion
	// would otherwise retransmit until the context ends).
	DefaultHandshakeTimeout = 30 * time.Second
	// DefaultRetryInitial and DefaultRetryMax bound the capped
	// exponential backoff of failed registrations.
	DefaultRetryInitial = 5 * time.Second
	DefaultRetryMax     = 10 * time.Minute
	// DefaultBootstrapAfter is how many failed registration attempts in a
	// row make the client fall back to the bootstrap server.
	DefaultBootstrapAfter = 4
	// DefaultDeregisterTimeout bounds the De-register on shutdown.
	DefaultDeregisterTimeout = 5 * time.Second
	// DefaultBootstrapTimeout bounds a bootstrap session: from Bootstrap-
	// Request to Bootstrap-Finish.
	DefaultBootstrapTimeout = 2 * time.Minute
	// DefaultDisableTimeout is Server resource 5's default (LwM2M-TS 1.0
	// App. E.2: 86400 s).
	DefaultDisableTimeout = 24 * time.Hour
	// MinUpdateMargin is the least time before the lifetime ends at which
	// the Update is sent: one MAX_TRANSMIT_WAIT so retransmissions fit.
	MinUpdateMargin = DefaultMaxTransmitWait
	// ConfirmableNotifyInterval: over SMS notifications go NON, with a CON
	// at least this often so that a server that lost interest can say so
	// (RFC 7641 §4.5: "at least every 24 hours").
	ConfirmableNotifyInterval = 24 * time.Hour
	// MaxStoredNotifications bounds the notifications stored per server
	// while offline; the oldest are dropped first (and logged).
	MaxStoredNotifications = 256
)

// DefaultCipherSuites are the DTLS 1.2 PSK suites offered, CCM_8 first
// (RFC 7925 §4.1 mandatory-to-implement for CoAP/LwM2M PSK).
var DefaultCipherSuites = []dtls.CipherSuiteID{
	dtls.TLS_PSK_WITH_AES_128_CCM_8,
	dtls.TLS_PSK_WITH_AES_128_CCM,
	dtls.TLS_PSK_WITH_AES_128_GCM_SHA256,
	dtls.TLS_PSK_WITH_AES_128_CBC_SHA256,
}

// Config configures the engine. The zero value of every field but Endpoint
// means "the documented default".
type Config struct {
	// Endpoint is the Endpoint Client Name (ep=). Required.
	Endpoint string
	// MSISDN is the client's own number for sms= when a binding includes S
	// (digits, no "+").
	MSISDN string

	// AckTimeout, AckRandomFactor and MaxRetransmit are the CoAP
	// transmission parameters (RFC 7252 §4.8) for UDP.
	AckTimeout      time.Duration
	AckRandomFactor float64
	MaxRetransmit   uint32
	// RequestTimeout bounds one client request exchange (Register, Update,
	// Bootstrap-Request, a notification). Default MaxTransmitWait of the
	// transmission parameters.
	RequestTimeout time.Duration
	// BlockSize is the block-wise size in bytes (16–1024, power of two);
	// DisableBlockwise turns RFC 7959 off.
	BlockSize        int
	DisableBlockwise bool
	// MaxMessageSize bounds one CoAP message.
	MaxMessageSize uint32

	// CipherSuites are offered in this order (default DefaultCipherSuites).
	CipherSuites []dtls.CipherSuiteID
	// HandshakeTimeout bounds a DTLS handshake.
	HandshakeTimeout time.Duration

	// RetryInitial and RetryMax shape the registration backoff.
	RetryInitial, RetryMax time.Duration
	// BootstrapAfter failed attempts in a row trigger bootstrap (when a
	// bootstrap account exists).
	BootstrapAfter int
	// DeregisterTimeout bounds the De-register on shutdown.
	DeregisterTimeout time.Duration
	// BootstrapTimeout bounds a bootstrap session.
	BootstrapTimeout time.Duration
	// QueueAwake is how long a queue-mode client stays reachable after its
	// last exchange (default MaxTransmitWait of the transmission
	// parameters: 93 s for UDP, LwM2M-TS 1.0 §8.3).
	QueueAwake time.Duration

	// Dial connects to an account; nil means UDP/DTLS from the URI.
	Dial Dialer
	// DialSMS opens the CoAP-over-SMS connection of an account that
	// registers over SMS (binding S or SQ: no U). Nil: such accounts use
	// Dial or UDP like the others.
	DialSMS SMSDialer

	// Set by withTransport for one connection (never by callers): the
	// client's token length (0: go-coap's 8) and the largest CoAP message
	// one datagram of the transport carries (0: no limit but
	// MaxMessageSize).
	tokenLength int
	maxDatagram int
}

// SMSDialer opens the CoAP-over-SMS connection to acc: a datagram-preserving
// net.Conn (each Write one CoAP message, each Read one) and the transmission
// settings of that connection (Transport; its MaxDatagram is what one SMS
// carries in the account's SMS security mode). The engine closes the
// connection when the registration sleeps (queue mode), reconnects or stops,
// and dials again: closing it must not end the SMS binding underneath, and
// at most one connection per account may be open (the engine never holds
// two).
type SMSDialer func(ctx context.Context, acc Account) (net.Conn, Transport, error)

// Dialer opens a CoAP connection to acc. opts carry the engine's handler and
// transmission settings and must be applied to the connection.
type Dialer func(ctx context.Context, acc Account, opts ...udp.Option) (*udpclient.Conn, error)

func (c Config) withDefaults() Config {
	if c.AckTimeout <= 0 {
		c.AckTimeout = DefaultAckTimeout
	}
	if c.AckRandomFactor < 1 {
		c.AckRandomFactor = DefaultAckRandomFactor
	}
	if c.MaxRetransmit == 0 {
		c.MaxRetransmit = DefaultMaxRetransmit
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = MaxTransmitWait(c.AckTimeout, c.AckRandomFactor, c.MaxRetransmit)
	}
	if c.BlockSize == 0 {
		c.BlockSize = DefaultBlockSize
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if len(c.CipherSuites) == 0 {
		c.CipherSuites = DefaultCipherSuites
	}
	c.CipherSuites = append([]dtls.CipherSuiteID(nil), c.CipherSuites...)
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.RetryInitial <= 0 {
		c.RetryInitial = DefaultRetryInitial
	}
	if c.RetryMax <= 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.BootstrapAfter <= 0 {
		c.BootstrapAfter = DefaultBootstrapAfter
	}
	if c.DeregisterTimeout <= 0 {
		c.DeregisterTimeout = DefaultDeregisterTimeout
	}
	if c.BootstrapTimeout <= 0 {
		c.BootstrapTimeout = DefaultBootstrapTimeout
	}
	if c.QueueAwake <= 0 {
		c.QueueAwake = MaxTransmitWait(c.AckTimeout, c.AckRandomFactor, c.MaxRetransmit)
	}
	return c
}

// MaxTransmitWait is RFC 7252 §4.8.2's MAX_TRANSMIT_WAIT for the given
// parameters: ACK_TIMEOUT × (2^(MAX_RETRANSMIT+1) − 1) × ACK_RANDOM_FACTOR
// (93 s with the defaults). go-coap does not end a request when the
// retransmissions are exhausted, only when its context does, so this is
// the request bound.
func MaxTransmitWait(ackTimeout time.Duration, randomFactor float64, maxRetransmit uint32) time.Duration {
	n := min(maxRetransmit, 20)
	return time.Duration(float64(ackTimeout) * float64(uint64(1)<<(n+1)-1) * randomFactor)
}
