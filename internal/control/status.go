package control

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Status is the daemon's state as `lwm2m-clientd status` shows it. The JSON
// keys are an interface: never rename one; add new ones only.
type Status struct {
	// Version is the daemon's version string (as `lwm2m-clientd version`).
	Version string `json:"version"`
	// Uptime is how long the daemon has been running (JSON: whole seconds).
	Uptime Duration `json:"uptime"`
	// Servers has one entry per LwM2M server account, by Short Server ID.
	Servers []ServerStatus `json:"servers"`
	// Modem is nil (JSON null) on a UDP-only gateway (`modem: none`).
	Modem *ModemStatus `json:"modem"`
	// SIM is the LwM2M UICC application that SMS security mode 2 (secure
	// packet) goes through; nil (JSON null) when no server uses it.
	SIM *SIMStatus `json:"sim"`
	// Counters count SMS since the daemon started.
	Counters Counters `json:"counters"`
}

// ServerStatus is one LwM2M server account.
type ServerStatus struct {
	ShortServerID uint16 `json:"short_server_id"`
	// URI is the server's UDP URI (coap:// or coaps://).
	URI string `json:"uri"`
	// Registration is the state of the registration state machine, by the
	// engine's state names: connecting, registering, registered, updating,
	// sleeping, backoff, disabled, deregistering, stopped.
	Registration string `json:"registration"`
	// Registered is true while the server holds a valid registration
	// (registered, updating or sleeping with a location).
	Registered bool `json:"registered"`
	// Location is the registration's location path ("/rd/5a3f"), empty
	// when not registered.
	Location string `json:"location"`
	// LastUpdate is when the last Register or Update succeeded; NextUpdate
	// when the next Update is due. Zero (JSON null) when unknown.
	LastUpdate Time `json:"last_update"`
	NextUpdate Time `json:"next_update"`
	// Binding is the binding mode in use (U, UQ, S, SQ, US, UQS).
	Binding string `json:"binding"`
	// SMSMode is the SMS security mode: "dtls", "secure-packet", "nosec",
	// or empty for a server without SMS.
	SMSMode string `json:"sms_mode"`
	// DTLSSMSSession is the state of the DTLS-over-SMS session (one of the
	// DTLSSession* values); empty unless SMSMode is "dtls".
	DTLSSMSSession string `json:"dtls_sms_session"`
	// LastError is the last failure of this registration (empty: none).
	LastError string `json:"last_error"`
}

// States of a DTLS-over-SMS session (ServerStatus.DTLSSMSSession).
const (
	DTLSSessionNone        = "none"        // no session yet: the first SMS will start a handshake
	DTLSSessionHandshaking = "handshaking" // handshake flights under way
	DTLSSessionEstablished = "established" // keys in use (a handshake completed or a stored session restored)
	DTLSSessionFailed      = "failed"      // the last handshake did not complete
)

// ModemStatus is the cellular modem's state.
type ModemStatus struct {
	// Port is the AT port, e.g. /dev/ttyUSB2.
	Port string `json:"port"`
	// State is ModemUp or ModemDown, since Since.
	State string `json:"state"`
	Since Time   `json:"since"`
	// LastError is why the modem last went down (empty: never).
	LastError string `json:"last_error"`
	// SignalDBm is the received signal strength (+CSQ), nil when unknown.
	SignalDBm *int `json:"signal_dbm"`
	// Operator is the network operator's name as the modem reports it.
	Operator string `json:"operator"`
	// LastSMSIn and LastSMSOut are when the last SMS arrived and when the
	// last one was submitted; zero (JSON null) when none yet.
	LastSMSIn  Time `json:"last_sms_in"`
	LastSMSOut Time `json:"last_sms_out"`
}

// Modem states (ModemStatus.State).
const (
	ModemUp   = "up"
	ModemDown = "down"
)

// SIMStatus is the health of the LwM2M UICC application, as the daemon's
// own APDUs (AT+CSIM: the GET DATA poll, STORE DATA, ENVELOPE) found it.
// Asking for the status never talks to the card.
type SIMStatus struct {
	// State is one of the SIM* values, since Since.
	State string `json:"state"`
	Since Time   `json:"since"`
	// LastOK is when the card last answered an APDU (null: never).
	LastOK Time `json:"last_ok"`
	// LastError is the last failure the card or the modem's path to it
	// caused (empty: none); it stays after the card recovers.
	LastError string `json:"last_error"`
	// AID is the application's AID in hex (not a secret).
	AID string `json:"aid"`
}

// States of the LwM2M UICC application (SIMStatus.State).
const (
	// SIMUnknown: the daemon has not exchanged an APDU with it yet.
	SIMUnknown = "unknown"
	// SIMOK: the last operation on the application succeeded.
	SIMOK = "ok"
	// SIMNotAnswering: the last operation got no answer from the card:
	// the modem reported an error for AT+CSIM (e.g. +CME ERROR: 13, SIM
	// failure), it timed out, or the modem is down.
	SIMNotAnswering = "not answering"
	// SIMError: the card answered, but wrongly: an unexpected status word
	// (e.g. 6A82, the application is missing) or a malformed response.
	SIMError = "error"
)

// Counters count SMS since the daemon started. Every field only grows.
type Counters struct {
	// SMSReceived counts SMS-DELIVERs handed to the SMS binding.
	SMSReceived uint64 `json:"sms_received"`
	// SMSDroppedSender counts SMS dropped because no server's number
	// (Security resource 9) matched the sender.
	SMSDroppedSender uint64 `json:"sms_dropped_sender"`
	// SMSDroppedProtection counts SMS dropped as badly protected: a DTLS
	// record that did not authenticate, a secured packet the SIM refused.
	SMSDroppedProtection uint64 `json:"sms_dropped_protection"`
	// SMSDroppedRateLimit counts SMS dropped over the per-sender or global
	// rate limit.
	SMSDroppedRateLimit uint64 `json:"sms_dropped_rate_limit"`
	// SMSDroppedOther counts SMS dropped for any other reason: wrong form
	// for the mode, not CoAP, duplicate, queue full.
	SMSDroppedOther uint64 `json:"sms_dropped_other"`
	// SMSSent counts SMS submitted (or messages given to the SIM in
	// secure-packet mode); SMSSendFailures those that failed.
	SMSSent         uint64 `json:"sms_sent"`
	SMSSendFailures uint64 `json:"sms_send_failures"`
	// SMSDelivered, SMSDeliveryFailed and SMSDeliveryPending are what the
	// network's status reports said about the SMS sent (sms.status_reports;
	// 0 when it is off): delivered, failed for good, still waiting for a
	// final report.
	SMSDelivered       uint64 `json:"sms_delivered"`
	SMSDeliveryFailed  uint64 `json:"sms_delivery_failed"`
	SMSDeliveryPending uint64 `json:"sms_delivery_pending"`
}

// Time is a point in time that is JSON null when zero and otherwise RFC 3339
// in UTC, to the second.
type Time time.Time

// At converts t (the zero time stays zero).
func At(t time.Time) Time { return Time(t) }

// Time returns t as a time.Time.
func (t Time) Time() time.Time { return time.Time(t) }

// IsZero reports whether t is the zero time (unknown, never).
func (t Time) IsZero() bool { return time.Time(t).IsZero() }

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(time.Time(t).UTC().Truncate(time.Second).Format(time.RFC3339))
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*t = Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("control: time: %w", err)
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("control: time: %w", err)
	}
	*t = Time(v)
	return nil
}

// Duration is a length of time that is a whole number of seconds in JSON.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(int64(time.Duration(d) / time.Second))
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s int64
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("control: duration: %w", err)
	}
	if s < 0 || s > int64(math.MaxInt64/time.Second) {
		return fmt.Errorf("control: duration: %d seconds is out of range", s)
	}
	*d = Duration(time.Duration(s) * time.Second)
	return nil
}

// Summary is the status in one line, for systemd's STATUS= (what `systemctl
// status` shows): "2/2 servers registered; modem up, -71 dBm, Orange F".
// The first unregistered server with an error adds it.
func (s Status) Summary() string {
	var b strings.Builder
	reg := 0
	var failing *ServerStatus
	for i := range s.Servers {
		if s.Servers[i].Registered {
			reg++
		} else if failing == nil && s.Servers[i].LastError != "" {
			failing = &s.Servers[i]
		}
	}
	fmt.Fprintf(&b, "%d/%d servers registered", reg, len(s.Servers))
	switch m := s.Modem; {
	case m == nil:
		b.WriteString("; no modem")
	case m.State == ModemUp:
		b.WriteString("; modem up")
		if m.SignalDBm != nil {
			b.WriteString(", " + strconv.Itoa(*m.SignalDBm) + " dBm")
		}
		if m.Operator != "" {
			b.WriteString(", " + m.Operator)
		}
	default:
		b.WriteString("; modem " + m.State)
		if !m.Since.IsZero() {
			b.WriteString(" since " + m.Since.Time().UTC().Format("15:04:05Z"))
		}
		if m.LastError != "" {
			b.WriteString(": " + m.LastError)
		}
	}
	if c := s.SIM; c != nil && c.State != SIMOK && c.State != SIMUnknown {
		b.WriteString("; SIM " + c.State)
		if !c.Since.IsZero() {
			b.WriteString(" since " + c.Since.Time().UTC().Format("15:04:05Z"))
		}
	}
	if failing != nil {
		fmt.Fprintf(&b, "; server %d %s: %s", failing.ShortServerID, failing.Registration, failing.LastError)
	}
	return b.String()
}
