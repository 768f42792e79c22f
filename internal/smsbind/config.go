package smsbind

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/smsdtls"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

// Mode is the SMS Security Mode, Security object resource 6 (LwM2M-TS 1.0
// App. E.1 as changed by the CR; lwm2m.md §2.2).
type Mode int

// SMS security modes. 0, 4–203 are reserved and 204–255 proprietary; none of
// those is accepted.
const (
	ModeDTLS         Mode = 1 // DTLS terminated on the device (LwM2M-TS 1.0 §7.2.2.1)
	ModeSecurePacket Mode = 2 // secured packets terminated on the UICC (§7.2.2.2)
	ModeNoSec        Mode = 3 // no security (§7.2.1): debugging or trigger-only use
)

// String returns "dtls", "secure-packet" or "nosec" (the configuration's
// names), or "mode(N)".
func (m Mode) String() string {
	switch m {
	case ModeDTLS:
		return "dtls"
	case ModeSecurePacket:
		return "secure-packet"
	case ModeNoSec:
		return "nosec"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

func (m Mode) valid() bool { return m >= ModeDTLS && m <= ModeNoSec }

// Server is one server account's SMS side, as the daemon reads it from the
// Security object instance.
type Server struct {
	// ID is the Short Server ID (Security resource 10), used for lookups
	// and in logs. Required, unique.
	ID int
	// Number is the server's MSISDN (Security resource 9): the only sender
	// accepted for this server and the TP-DA of every SMS sent to it.
	// Required, unique.
	Number string
	// Mode is Security resource 6.
	Mode Mode
	// PSKIdentity and PSK are the DTLS-over-SMS credentials (mode 1 only;
	// Security resources 7 and 8, or 3 and 5, as the daemon is configured).
	PSKIdentity []byte
	PSK         smsdtls.Secret
}

// Limit is a token bucket: at most Count SMS in a burst, refilled at Count
// per Interval. The zero Limit takes the default of its field.
type Limit struct {
	Count    int
	Interval time.Duration
}

// String gives "10/1m0s".
func (l Limit) String() string { return fmt.Sprintf("%d/%s", l.Count, l.Interval) }

// Project defaults (PROJECT DEFAULT: not from a standard).
const (
	// DefaultPerSenderCount and DefaultPerSenderInterval: a server may make
	// the daemon answer 10 SMS in a burst and 10 a minute after that. A DTLS
	// handshake takes at most 3 server SMS (dtls-over-sms.md §4), block-wise
	// reads one SMS per block.
	DefaultPerSenderCount    = 10
	DefaultPerSenderInterval = time.Minute
	// DefaultGlobalCount and DefaultGlobalInterval bound all servers
	// together: 30 SMS a minute is already a costly flood of replies.
	DefaultGlobalCount    = 30
	DefaultGlobalInterval = time.Minute
	// DefaultPollInterval is how often GET DATA is polled in mode 2 (the
	// same PROJECT DEFAULT as config.DefaultUICCPollInterval).
	DefaultPollInterval = 30 * time.Second
	// DefaultQueueLen is how many CoAP messages wait per Conn for the
	// engine to read them; more are dropped and counted.
	DefaultQueueLen = 16
	// DefaultNoSecValidity is the TP-VP of NoSec SMS: the same as DTLS
	// application data (smsdtls.DefaultRecordValidity, 5 minutes).
	DefaultNoSecValidity = smsdtls.DefaultRecordValidity
	// dedupWindow is how many recent TPDUs are remembered to drop exact
	// duplicates (the modem re-hands an SMS after a crash between hand-off
	// and deletion; the network may duplicate).
	dedupWindow = 64
)

// Config configures a Binding. Zero values take the documented defaults.
type Config struct {
	// Servers is the server table. Numbers and IDs must be unique.
	Servers []Server
	// CountryCode (digits, e.g. "33") lets a national-format TP-OA match an
	// international server number (atpdu.Address.SameMSISDN).
	CountryCode string
	// AcceptAnySenderNoSec is a DEBUG switch: an SMS that no server number
	// matches goes to the one NoSec server instead of being ignored
	// (LwM2M-TS 1.0 §7.2 allows this "for debugging purposes" only).
	// Replies still go to that server's configured number. New logs a
	// warning when it is on.
	AcceptAnySenderNoSec bool
	// PerSender and Global limit the SMS that may make the daemon send SMS
	// (defaults DefaultPerSender*, DefaultGlobal*).
	PerSender Limit
	Global    Limit
	// PollInterval is the GET DATA poll in mode 2 (default
	// DefaultPollInterval).
	PollInterval time.Duration
	// HandshakeTimeout, RehandshakeInterval and InitialRTO configure the
	// DTLS sessions (zero: the smsdtls defaults).
	HandshakeTimeout    time.Duration
	RehandshakeInterval time.Duration
	InitialRTO          time.Duration
	// NoSecValidity is the TP-VP of NoSec SMS (default
	// DefaultNoSecValidity).
	NoSecValidity time.Duration
	// QueueLen is the inbound queue per Conn (default DefaultQueueLen).
	QueueLen int
	// RequestStatusReports sets TP-SRR on the SMS of modes 1 and 3
	// (TS 23.040 §9.2.3.5) and tracks their delivery (Stats.Delivery; a
	// failed delivery is logged with the recipient and the status). It
	// needs an MRSubmitter. Off by default: every report is one more SMS
	// the modem receives.
	RequestStatusReports bool
	// DeliveryReportTimeout is how long a tracked SMS waits for its final
	// status report (default DefaultDeliveryReportTimeout).
	DeliveryReportTimeout time.Duration
}

func (c *Config) applyDefaults() {
	if c.PerSender.Count == 0 {
		c.PerSender.Count = DefaultPerSenderCount
	}
	if c.PerSender.Interval == 0 {
		c.PerSender.Interval = DefaultPerSenderInterval
	}
	if c.Global.Count == 0 {
		c.Global.Count = DefaultGlobalCount
	}
	if c.Global.Interval == 0 {
		c.Global.Interval = DefaultGlobalInterval
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.NoSecValidity == 0 {
		c.NoSecValidity = DefaultNoSecValidity
	}
	if c.QueueLen == 0 {
		c.QueueLen = DefaultQueueLen
	}
	if c.DeliveryReportTimeout == 0 {
		c.DeliveryReportTimeout = DefaultDeliveryReportTimeout
	}
}

// Submitter sends one SMS-SUBMIT TPDU (no SMSC prefix). The daemon adapts
// the modem driver's SendSMS.
type Submitter interface {
	SubmitSMS(ctx context.Context, tpdu []byte) error
}

// SubmitFunc adapts a function to Submitter.
type SubmitFunc func(ctx context.Context, tpdu []byte) error

// SubmitSMS calls f.
func (f SubmitFunc) SubmitSMS(ctx context.Context, tpdu []byte) error { return f(ctx, tpdu) }

// UICC is what mode 2 needs of the LwM2M UICC application; *uicc.App
// implements it.
type UICC interface {
	DownloadSMS(ctx context.Context, smsc, tpdu []byte) (uicc.Response, error)
	GetData(ctx context.Context) ([]uicc.Record, error)
	StoreData(ctx context.Context, da uicc.Address, coap []byte) error
}

var _ UICC = (*uicc.App)(nil)

// Clock is the time source of the rate limits and the GET DATA poll.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Option configures a Binding.
type Option func(*Binding)

// WithLogger sets the logger (default: discard); records get
// component=smsbind.
func WithLogger(l *slog.Logger) Option { return func(b *Binding) { b.log = l } }

// WithClock sets the clock of the rate limits and the poll.
func WithClock(c Clock) Option { return func(b *Binding) { b.clock = c } }

// WithUICC sets the UICC application client (required for mode-2 servers).
func WithUICC(u UICC) Option { return func(b *Binding) { b.uicc = u } }

// WithSessionStore sets where DTLS sessions persist (required for mode-1
// servers).
func WithSessionStore(s smsdtls.SessionStore) Option { return func(b *Binding) { b.store = s } }

// WithStatusReports sets a hook that sees every SMS-STATUS-REPORT after the
// binding's own delivery tracking (never DTLS, LwM2M-TS 1.0 §7.2.2.1.5). It
// is called from HandleSMS and must not block.
func WithStatusReports(f func(atpdu.StatusReport)) Option {
	return func(b *Binding) { b.onReport = f }
}

// Errors callers branch on.
var (
	// ErrClosed: the Conn or Binding is closed.
	ErrClosed = errors.New("smsbind: closed")
	// ErrTooLarge: an SMS would carry more than 140 octets of user data
	// (TS 23.040 §9.2.3.24); nothing was sent. Use block-wise transfer.
	ErrTooLarge = errors.New("smsbind: message does not fit one SMS")
	// ErrUnknownServer: no server with that ID or number.
	ErrUnknownServer = errors.New("smsbind: unknown server")
)

// SizeError reports a message refused for its size; errors.Is(err,
// ErrTooLarge) holds.
type SizeError struct {
	Mode Mode
	Size int // octets that would have been sent
	Max  int // octets allowed
}

// Error says which message did not fit.
func (e *SizeError) Error() string {
	return fmt.Sprintf("smsbind: %s message of %d octets does not fit one SMS (max %d)", e.Mode, e.Size, e.Max)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *SizeError) Is(target error) bool { return target == ErrTooLarge }
