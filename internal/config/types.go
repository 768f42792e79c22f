package config

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as a Go duration ("90s", "24h") or
// as a whole number of seconds (LwM2M resources count seconds).
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d *Duration) parseScalar(s string) error {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return fmt.Errorf("%q is negative", s)
		}
		*d = Duration(time.Duration(n) * time.Second)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (like 90s, 10m, 24h) or a number of seconds", s)
	}
	if v < 0 {
		return fmt.Errorf("%q is negative", s)
	}
	*d = Duration(v)
	return nil
}

// HexBytes is a byte string written in hex ("B20203"); spaces and colons
// between octets are allowed.
type HexBytes []byte

func (h *HexBytes) parseScalar(s string) error {
	b, err := decodeHex(s)
	if err != nil {
		return err
	}
	*h = b
	return nil
}

// String returns the bytes as upper-case hex.
func (h HexBytes) String() string { return strings.ToUpper(hex.EncodeToString(h)) }

func decodeHex(s string) ([]byte, error) {
	clean := strings.NewReplacer(" ", "", ":", "", "\t", "", "\n", "", "\r", "").Replace(s)
	clean = strings.TrimPrefix(strings.TrimPrefix(clean, "0x"), "0X")
	b, err := hex.DecodeString(clean)
	if err != nil {
		return nil, fmt.Errorf("is not hex (%d characters; an even number of 0-9a-f expected)", len(clean))
	}
	return b, nil
}

// Secret is key material. It is given inline in hex or, with the key's name
// plus "_file", as a path to a file holding the hex. It never prints: String,
// GoString, Format and LogValue all give "[redacted]".
type Secret []byte

const redacted = "[redacted]"

// Bytes returns the secret's bytes. Callers must not log them.
func (s Secret) Bytes() []byte { return []byte(s) }

// String implements fmt.Stringer without revealing the secret.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer without revealing the secret.
func (s Secret) GoString() string { return redacted }

// Format makes every fmt verb print "[redacted]", %x and %v included.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue implements slog.LogValuer without revealing the secret.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// enum is implemented by the string enumerations of the schema.
type enum interface {
	allowed() []string
}

func oneOf(v string, allowed []string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", "))
}

// LogLevel is debug, info, warn or error.
type LogLevel string

func (LogLevel) allowed() []string { return []string{"debug", "info", "warn", "error"} }

// Level returns the slog level.
func (l LogLevel) Level() slog.Level {
	switch l {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// LogFormat is text or json.
type LogFormat string

func (LogFormat) allowed() []string { return []string{"text", "json"} }

// SMSDelivery is how new SMS reach the daemon (TS 27.005 §3.4.1 +CNMI):
// direct (+CMT, acknowledged with +CNMA), stored (+CMTI, read and deleted)
// or auto (direct where the modem accepts it, else stored).
type SMSDelivery string

func (SMSDelivery) allowed() []string { return []string{"auto", "direct", "stored"} }

// SecurityMode is the UDP security of a server: nosec or psk.
type SecurityMode string

func (SecurityMode) allowed() []string { return []string{"nosec", "psk"} }

// SMSSecurityMode is Security resource 6 by name.
type SMSSecurityMode string

func (SMSSecurityMode) allowed() []string { return []string{"dtls", "secure-packet", "nosec"} }

// Resource6 returns the Security resource 6 value (lwm2m.md §2.2):
// 1 DTLS, 2 secure packet, 3 NoSec.
func (m SMSSecurityMode) Resource6() int {
	switch m {
	case "dtls":
		return 1
	case "secure-packet":
		return 2
	case "nosec":
		return 3
	}
	return 0
}

// PSKSource is where the DTLS-over-SMS PSK comes from: sms or udp.
type PSKSource string

func (PSKSource) allowed() []string { return []string{"sms", "udp"} }

// Binding is an LwM2M 1.0 binding (LwM2M-TS 1.0 §5.3.1.1 Table 8).
type Binding string

func (Binding) allowed() []string { return []string{"U", "UQ", "S", "SQ", "US", "UQS"} }

// HasUDP reports whether the binding includes the UDP transport.
func (b Binding) HasUDP() bool { return strings.Contains(string(b), "U") }

// HasSMS reports whether the binding includes the SMS transport.
func (b Binding) HasSMS() bool { return strings.Contains(string(b), "S") }

// Queued reports whether the binding is in queue mode.
func (b Binding) Queued() bool { return strings.Contains(string(b), "Q") }
