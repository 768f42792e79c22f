package lwm2m

import (
	"context"
	"log/slog"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"
)

// Content formats (CoAP Content-Format / Accept numbers), LwM2M-TS 1.0 §6.4
// and lwm2m.md §7.1. The pre-IANA numbers are accepted on input only.
const (
	FormatText      Format = 0
	FormatLinkFmt   Format = 40
	FormatOpaque    Format = 42
	FormatTLV       Format = 11542
	FormatJSON      Format = 11543
	FormatOldText   Format = 1541
	FormatOldTLV    Format = 1542
	FormatOldJSON   Format = 1543
	FormatOldOpaque Format = 1544
	// FormatNone means "no Content-Format / Accept option".
	FormatNone Format = -1
)

// Format is a CoAP Content-Format number, or FormatNone.
type Format int

// Op is an LwM2M operation of the device-management, information-reporting or
// bootstrap interface (LwM2M-TS 1.0 §8.2 Tables 2–4, lwm2m.md §8).
type Op int

// The operations the engine hands to Objects.
const (
	OpRead Op = iota + 1
	OpDiscover
	OpWrite        // PUT: replace
	OpWritePartial // POST on /O/I: partial update
	OpWriteAttributes
	OpExecute
	OpCreate
	OpDelete
	OpBootstrapFinish // POST /bs from the bootstrap server
)

var opNames = map[Op]string{
	OpRead: "read", OpDiscover: "discover", OpWrite: "write", OpWritePartial: "write_partial",
	OpWriteAttributes: "write_attributes", OpExecute: "execute", OpCreate: "create",
	OpDelete: "delete", OpBootstrapFinish: "bootstrap_finish",
}

// String returns the operation's snake_case name (used in logs).
func (o Op) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return "unknown"
}

// Request is one operation asked by a server.
type Request struct {
	// ServerID is the Short Server ID of the asking server; 0 for the
	// bootstrap server.
	ServerID uint16
	// Bootstrap is true for requests of the bootstrap interface (they may
	// write the Security object and ignore access control).
	Bootstrap bool
	Op        Op
	Path      Path
	// Format is the Content-Format of Payload (FormatNone when absent).
	Format Format
	// Accept is the requested response format (FormatNone when absent).
	Accept  Format
	Payload []byte
	// Attributes are the Write-Attributes parameters (OpWriteAttributes),
	// parsed and validated; Query holds them as received ("pmin=10").
	Attributes Attributes
	Query      []string
}

// Response is the outcome of a Request. Code is a CoAP response code
// (2.01, 2.02, 2.04, 2.05, 4.xx, 5.00).
type Response struct {
	Code    codes.Code
	Format  Format // of Payload; FormatNone when there is no payload
	Payload []byte
	// Location is the Location-Path of a Create (e.g. "/1024/3").
	Location Path

	observeSeq *uint32 // set by the engine on an Observe response
}

// Attributes are the notification attributes of LwM2M-TS 1.0 §5.1.2.
// A nil field is "not set at this level".
type Attributes struct {
	Pmin, Pmax *time.Duration
	Gt, Lt, St *float64
	ClearPmin  bool // "pmin" without a value clears it (§8.2 Table 3)
	ClearPmax  bool
	ClearGt    bool
	ClearLt    bool
	ClearSt    bool
}

// SecurityMode is the UDP security of an account (Security resource 2).
type SecurityMode int

// UDP security modes (LwM2M-TS 1.0 App. E.1 resource 2; 0 PSK, 3 NoSec).
const (
	SecurityPSK   SecurityMode = 0
	SecurityNoSec SecurityMode = 3
)

// Secret is key material that never prints or logs.
type Secret []byte

// LogValue keeps secrets out of logs.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// String keeps secrets out of fmt.
func (Secret) String() string { return "[redacted]" }

// Account is one server account as the object tree describes it: a Security
// instance and, for a DM server, its Server instance.
type Account struct {
	ShortID   uint16
	Bootstrap bool
	URI       string // coap://host[:port] or coaps://host[:port]
	Security  SecurityMode
	// PSKIdentity and PSKKey are Security resources 3 and 5.
	PSKIdentity []byte
	PSKKey      Secret
	// ServerInstance is the Server (1) instance ID of a DM server.
	ServerInstance uint16
	// Lifetime is Server resource 1.
	Lifetime time.Duration
	// Binding is Server resource 7 (U, UQ, S, SQ, US, UQS).
	Binding string
	// NotificationStoring is Server resource 6.
	NotificationStoring bool
	// DefaultPmin and DefaultPmax are Server resources 2 and 3 (0: unset).
	DefaultPmin, DefaultPmax time.Duration
	// DisableTimeout is Server resource 5 (0: DefaultDisableTimeout).
	DisableTimeout time.Duration
	// HoldOff is the Client Hold Off Time of a bootstrap account (Security
	// resource 11).
	HoldOff time.Duration
}

// Objects is what the engine needs from the object model. Implementations
// must be safe for concurrent use: requests from different servers arrive on
// different goroutines.
type Objects interface {
	// Accounts lists every server account, bootstrap included.
	Accounts() ([]Account, error)
	// Links is the CoRE link-format payload of Register and Update
	// (objects and instances, never the Security object), lwm2m.md §8.2.
	Links() ([]byte, error)
	// Serve executes one operation with the LwM2M semantics and returns its
	// response code and payload. It must not panic; the engine still turns a
	// panic into 5.00.
	Serve(ctx context.Context, req Request) Response
	// Attributes returns the notification attributes set by server ssid on
	// exactly path p (not inherited; the engine walks the levels).
	Attributes(ssid uint16, p Path) Attributes
	// BeginBootstrap starts staging a bootstrap; AbortBootstrap discards the
	// staged changes (a failed bootstrap leaves the old state untouched).
	// OpBootstrapFinish through Serve checks and commits them atomically.
	BeginBootstrap() error
	AbortBootstrap()
}
