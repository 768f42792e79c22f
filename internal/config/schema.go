package config

import (
	"time"
)

// Project defaults. Values the standards leave open are named here once;
// ../shared/spec/ says where each comes from.
const (
	// DefaultStateDir is where durable state lives when state_dir is unset.
	DefaultStateDir = "/var/lib/lwm2m-clientd"
	// DefaultBaud is the serial speed used when modem.baud is unset.
	DefaultBaud = 115200
	// DefaultStorage is the SMS storage given to AT+CPMS when modem.storage
	// is unset: the SIM store exists on every modem (TS 27.005 §3.2.2).
	DefaultStorage = "SM"
	// DefaultUICCAID is the LWM2M UICC application AID. No AID is
	// registered anywhere; this is the PROJECT DEFAULT placeholder of
	// secured-packet.md §10 ("F" proprietary RID + "LWM2M" in ASCII).
	DefaultUICCAID = "F04C574D324D"
	// DefaultCoAPTag is the data_rcv CoAP tag, "TBD e.g. 0x05" in the seed
	// (PROJECT DEFAULT, secured-packet.md §10).
	DefaultCoAPTag = 0x05
	// DefaultUICCPollInterval is how often GET DATA is polled when the
	// modem downloads class-2 SMS to the SIM without telling the host
	// (PROJECT DEFAULT: real modems usually give no indication).
	DefaultUICCPollInterval = 30 * time.Second
	// DefaultTAR is the Toolkit Application Reference of the LWM2M UICC
	// application when sms.tar is unset: the 2017 LwM2M 1.1 draft's
	// B2 02 03 (secured-packet.md §9; the seed's BF FF xx range conflicts).
	DefaultTAR = "B20203"
	// DefaultLifetime is the registration lifetime when servers[].lifetime
	// is unset (LwM2M Server resource 1 has no default; 1 day is common).
	DefaultLifetime = 24 * time.Hour
	// DefaultBinding is the LwM2M 1.0 binding when servers[].binding is
	// unset ("U" is what a server assumes when b= is absent, lwm2m.md §3.1).
	DefaultBinding = "U"
	// DefaultSMSPerSenderCount and DefaultSMSPerSenderInterval limit the SMS
	// one server number may send that make the daemon answer: 10 at once,
	// then 10 a minute (the same PROJECT DEFAULT as smsbind's).
	DefaultSMSPerSenderCount    = 10
	DefaultSMSPerSenderInterval = time.Minute
	// DefaultSMSGlobalCount and DefaultSMSGlobalInterval limit them over
	// all servers together: 30 at once, then 30 a minute.
	DefaultSMSGlobalCount    = 30
	DefaultSMSGlobalInterval = time.Minute
	// DefaultSMSHandshakeTimeout is the DTLS-over-SMS handshake budget
	// (smsdtls.DefaultHandshakeTimeout; the CR's 150 s, LwM2M-TS 1.0
	// §7.2.2.1.5).
	DefaultSMSHandshakeTimeout = 150 * time.Second
	// DefaultSMSRehandshakeInterval bounds how often records the DTLS
	// session cannot authenticate start a new handshake
	// (smsdtls.DefaultRehandshakeInterval).
	DefaultSMSRehandshakeInterval = 10 * time.Minute
)

// Config is the whole daemon configuration. The zero value is not valid;
// use Load or Parse, which apply defaults and validate.
type Config struct {
	// Endpoint is the LwM2M client endpoint name. It may contain the
	// placeholders {imei} and {iccid}, filled from the modem at start-up.
	Endpoint string `yaml:"endpoint"`
	// StateDir holds durable state (default DefaultStateDir).
	StateDir string `yaml:"state_dir"`
	// Log sets the log level and format.
	Log Log `yaml:"log"`
	// Modem is the AT port. Nil means "modem: none": a UDP-only gateway.
	Modem *Modem `yaml:"modem,none"`
	// UICC configures access to the LWM2M UICC application (SMS mode 2).
	UICC UICC `yaml:"uicc"`
	// Servers are the LwM2M servers of the factory bootstrap.
	Servers []Server `yaml:"servers"`
	// Bootstrap is the optional bootstrap server.
	Bootstrap *Bootstrap `yaml:"bootstrap"`
	// Device is what the Device object (3) reports beside live modem data.
	Device Device `yaml:"device"`
	// SMS configures the SMS binding as a whole; each server's SMS side is
	// under servers[].sms.
	SMS SMSBinding `yaml:"sms"`

	// File is the path the configuration was read from ("" for Parse
	// without a name). Relative *_file paths are resolved against its
	// directory.
	File string `yaml:"-"`
}

// Log configures log/slog output.
type Log struct {
	// Level is debug, info, warn or error (default info).
	Level LogLevel `yaml:"level"`
	// Format is text or json (default text).
	Format LogFormat `yaml:"format"`
}

// Modem configures the cellular modem's AT port.
type Modem struct {
	// Port is the serial device, e.g. /dev/ttyUSB2. Required.
	Port string `yaml:"port"`
	// Baud is the serial speed (default DefaultBaud).
	Baud int `yaml:"baud"`
	// SMSDelivery chooses how new SMS reach the daemon (default auto).
	SMSDelivery SMSDelivery `yaml:"sms_delivery"`
	// Storage is the preferred message storage for AT+CPMS (default SM).
	Storage string `yaml:"storage"`
	// OwnNumber is the gateway's MSISDN; empty means read it from the SIM
	// (AT+CNUM).
	OwnNumber string `yaml:"own_number"`
	// CountryCode (digits, no "+") lets national-format sender numbers be
	// compared with international server numbers. Empty: national numbers
	// never match an international one.
	CountryCode string `yaml:"country_code"`
	// Trace logs the whole AT dialogue at debug level.
	Trace bool `yaml:"trace"`
}

// UICC configures the LWM2M UICC application (SMS security mode 2).
type UICC struct {
	// AID is the application identifier, hex (default DefaultUICCAID).
	AID HexBytes `yaml:"aid"`
	// PollInterval is how often GET DATA is polled
	// (default DefaultUICCPollInterval).
	PollInterval Duration `yaml:"poll_interval"`
	// CoAPTag is the tag of a CoAP message in data_rcv (default
	// DefaultCoAPTag).
	CoAPTag *int `yaml:"coap_tag"`
}

// Server is one LwM2M server account: a Security (0) and a Server (1)
// object instance after the factory bootstrap.
type Server struct {
	// ShortServerID links the Security and Server instances (1–65534).
	ShortServerID int `yaml:"short_server_id"`
	// URI is coap://host[:port] or coaps://host[:port].
	URI string `yaml:"uri"`
	// Security is the UDP security (Security resources 2, 3, 5).
	Security Security `yaml:"security"`
	// Lifetime is the registration lifetime (default DefaultLifetime).
	Lifetime Duration `yaml:"lifetime"`
	// Binding is the LwM2M 1.0 binding: U, UQ, S, SQ, US or UQS
	// (default DefaultBinding). U, UQ, US and UQS register over UDP (the
	// uri); with S the server's requests arriving by SMS are answered by
	// SMS, and US registers over SMS instead while UDP keeps failing (two
	// attempts in a row), trying UDP again at each Update time. S and SQ
	// register, update, de-register and notify over SMS in
	// sms.security_mode; the uri is still required (Security resource 0)
	// but not dialled.
	Binding Binding `yaml:"binding"`
	// NotificationStoring is Server resource 6 (default true).
	NotificationStoring *bool `yaml:"notification_storing"`
	// DefaultPmin and DefaultPmax are Server resources 2 and 3.
	DefaultPmin Duration `yaml:"default_pmin"`
	DefaultPmax Duration `yaml:"default_pmax"`
	// SMS is the server's SMS side; required when the binding contains S,
	// optional for U/UQ (an SMS trigger still needs it).
	SMS *SMS `yaml:"sms"`
}

// Security is UDP transport security.
type Security struct {
	// Mode is nosec or psk (default: psk for coaps://, nosec for coap://).
	Mode SecurityMode `yaml:"mode"`
	// PSKIdentity is the DTLS PSK identity (Security resource 3).
	PSKIdentity string `yaml:"psk_identity"`
	// PSKKey is the DTLS PSK (Security resource 5); psk_key or psk_key_file.
	PSKKey Secret `yaml:"psk_key"`
}

// SMS is a server's SMS binding (Security resources 6–9).
type SMS struct {
	// Number is the server's MSISDN (Security resource 9).
	Number string `yaml:"number"`
	// SecurityMode is Security resource 6: dtls (1), secure-packet (2) or
	// nosec (3).
	SecurityMode SMSSecurityMode `yaml:"security_mode"`

	// PSKSource says where the DTLS-over-SMS PSK comes from: "sms" (the
	// psk_identity/psk_key below, stored as Security resources 7 and 8,
	// as the only shipping implementation does) or "udp" (the server's UDP
	// PSK, Security resources 3 and 5). Default sms. Mode dtls only.
	PSKSource PSKSource `yaml:"psk_source"`
	// PSKIdentity and PSKKey are the mode-1 PSK (psk_source: sms).
	PSKIdentity string `yaml:"psk_identity"`
	PSKKey      Secret `yaml:"psk_key"`

	// KIc, KID (1 octet each), SPI (2 octets) and TAR (3 octets) are the
	// mode-2 key parameters (Security resource 7, TS 102 225 §5.1).
	KIc HexBytes `yaml:"kic"`
	KID HexBytes `yaml:"kid"`
	SPI HexBytes `yaml:"spi"`
	TAR HexBytes `yaml:"tar"`
	// KIcKey and KIDKey are the mode-2 keys (Security resource 8).
	KIcKey Secret `yaml:"kic_key"`
	KIDKey Secret `yaml:"kid_key"`
}

// SMSBinding is the SMS binding's own settings (flood limits, a debug
// switch, DTLS-over-SMS timers).
type SMSBinding struct {
	// AcceptAnySenderNoSec is a DEBUG switch (default false): SMS from any
	// number go to the one nosec server instead of being silently ignored,
	// which LwM2M-TS 1.0 §7.2 allows only for debugging. The daemon logs a
	// warning at start-up when it is on.
	AcceptAnySenderNoSec bool `yaml:"accept_any_sender_nosec"`
	// StatusReports asks for an SMS-STATUS-REPORT (TP-SRR) on every SMS
	// sent in modes dtls and nosec, so that status shows whether the
	// network delivered them (default false: each report is one more SMS
	// the operator may bill).
	StatusReports bool `yaml:"status_reports"`
	// RateLimit bounds the SMS that make the daemon send SMS.
	RateLimit SMSRateLimit `yaml:"rate_limit"`
	// DTLS configures DTLS over SMS (security_mode dtls).
	DTLS SMSDTLS `yaml:"dtls"`
}

// SMSRateLimit is the flood protection: token buckets per sender and over
// all senders.
type SMSRateLimit struct {
	PerSender RateLimit `yaml:"per_sender"`
	Global    RateLimit `yaml:"global"`
}

// RateLimit allows Count SMS at once and Count per Interval after that.
type RateLimit struct {
	Count    int      `yaml:"count"`
	Interval Duration `yaml:"interval"`
}

// SMSDTLS holds the DTLS-over-SMS timers.
type SMSDTLS struct {
	// HandshakeTimeout bounds one handshake (default
	// DefaultSMSHandshakeTimeout).
	HandshakeTimeout Duration `yaml:"handshake_timeout"`
	// RehandshakeInterval: unauthenticated records start at most one new
	// handshake per interval (default DefaultSMSRehandshakeInterval).
	RehandshakeInterval Duration `yaml:"rehandshake_interval"`
}

// Bootstrap is the optional bootstrap server account.
type Bootstrap struct {
	// URI is coap:// or coaps:// of the bootstrap server.
	URI string `yaml:"uri"`
	// Security is the UDP security towards it.
	Security Security `yaml:"security"`
	// HoldOff is the Client Hold Off Time (Security resource 11).
	HoldOff Duration `yaml:"hold_off"`
}

// Device is static Device object (3) information.
type Device struct {
	Manufacturer string `yaml:"manufacturer"`
	Model        string `yaml:"model"`
	Serial       string `yaml:"serial"`
	Firmware     string `yaml:"firmware"`
}
