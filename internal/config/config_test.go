package config_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/config"
)

// base is a valid configuration that each case below changes in one place.
const base = `endpoint: gw-{imei}
modem:
  port: /dev/ttyUSB2
servers:
  - short_server_id: 1
    uri: coaps://lwm2m.example.com:5684
    security:
      psk_identity: gw
      psk_key: 000102030405060708090a0b0c0d0e0f
    binding: UQS
    sms:
      number: "+33600000002"
      security_mode: dtls
      psk_identity: gw-sms
      psk_key: 000102030405060708090a0b0c0d0e0f
`

// securePacket is a valid mode-2 server block.
const securePacket = `endpoint: gw
modem:
  port: /dev/ttyUSB2
servers:
  - short_server_id: 3
    uri: coap://127.0.0.1:5683
    binding: UQS
    sms:
      number: "+33600000003"
      security_mode: secure-packet
      kic: "12"
      kid: "12"
      spi: "1621"
      kic_key: 000102030405060708090a0b0c0d0e0f
      kid_key: 101112131415161718191a1b1c1d1e1f
`

func TestParseValid(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
	}{
		{name: "base", yaml: base},
		{name: "secure packet", yaml: securePacket},
		{name: "udp only", yaml: "endpoint: gw\nmodem: none\nservers:\n  - short_server_id: 1\n    uri: coap://127.0.0.1:5683\n"},
		{name: "bootstrap only", yaml: "endpoint: gw\nmodem: none\nbootstrap:\n  uri: coap://127.0.0.1:5693\n"},
		{name: "3des 3-key", yaml: strings.NewReplacer(`kic: "12"`, `kic: "19"`,
			"kic_key: 000102030405060708090a0b0c0d0e0f", "kic_key: 000102030405060708090a0b0c0d0e0f1011121314151617",
			`kid: "12"`, `kid: "19"`,
			"kid_key: 101112131415161718191a1b1c1d1e1f", "kid_key: 202122232425262728292a2b2c2d2e2f3031323334353637").Replace(securePacket)},
		{name: "psk from udp", yaml: strings.Replace(base, "      psk_identity: gw-sms\n      psk_key: 000102030405060708090a0b0c0d0e0f\n", "      psk_source: udp\n", 1)},
		{name: "durations in seconds", yaml: base + "    lifetime: 300\n    default_pmin: 10\n    default_pmax: 1m\n"},
		{name: "sms binding settings", yaml: base + "sms:\n  rate_limit:\n    per_sender: {count: 5, interval: 30s}\n    global: {count: 20, interval: 2m}\n  dtls:\n    handshake_timeout: 3m\n    rehandshake_interval: 1h\n"},
		{name: "nosec debug switch", yaml: "endpoint: gw\nmodem:\n  port: /dev/x\nservers:\n  - short_server_id: 1\n    uri: coap://a\n    sms: {number: \"+33600000001\", security_mode: nosec}\nsms:\n  accept_any_sender_nosec: true\n"},
		{name: "anchors", yaml: "endpoint: gw\nmodem: none\nservers:\n  - &s\n    short_server_id: 1\n    uri: coap://a:5683\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := config.Parse("c.yaml", []byte(tc.yaml)); err != nil {
				t.Fatalf("Parse: %v", err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := config.Parse("c.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Servers[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"state_dir", c.StateDir, config.DefaultStateDir},
		{"log.level", c.Log.Level, config.LogLevel("info")},
		{"log.format", c.Log.Format, config.LogFormat("text")},
		{"modem.baud", c.Modem.Baud, config.DefaultBaud},
		{"modem.sms_delivery", c.Modem.SMSDelivery, config.SMSDelivery("auto")},
		{"modem.storage", c.Modem.Storage, config.DefaultStorage},
		{"uicc.aid", c.UICC.AID.String(), config.DefaultUICCAID},
		{"uicc.poll_interval", c.UICC.PollInterval.D(), config.DefaultUICCPollInterval},
		{"uicc.coap_tag", *c.UICC.CoAPTag, config.DefaultCoAPTag},
		{"security.mode from coaps", s.Security.Mode, config.SecurityMode("psk")},
		{"lifetime", s.Lifetime.D(), config.DefaultLifetime},
		{"notification_storing", *s.NotificationStoring, true},
		{"sms.psk_source", s.SMS.PSKSource, config.PSKSource("sms")},
		{"resource 6", s.SMS.SecurityMode.Resource6(), 1},
		{"sms.accept_any_sender_nosec", c.SMS.AcceptAnySenderNoSec, false},
		{"sms.rate_limit.per_sender.count", c.SMS.RateLimit.PerSender.Count, config.DefaultSMSPerSenderCount},
		{"sms.rate_limit.per_sender.interval", c.SMS.RateLimit.PerSender.Interval.D(), config.DefaultSMSPerSenderInterval},
		{"sms.rate_limit.global.count", c.SMS.RateLimit.Global.Count, config.DefaultSMSGlobalCount},
		{"sms.rate_limit.global.interval", c.SMS.RateLimit.Global.Interval.D(), config.DefaultSMSGlobalInterval},
		{"sms.dtls.handshake_timeout", c.SMS.DTLS.HandshakeTimeout.D(), config.DefaultSMSHandshakeTimeout},
		{"sms.dtls.rehandshake_interval", c.SMS.DTLS.RehandshakeInterval.D(), config.DefaultSMSRehandshakeInterval},
	}
	for _, ch := range checks {
		if fmt.Sprint(ch.got) != fmt.Sprint(ch.want) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	sp, err := config.Parse("c.yaml", []byte(securePacket))
	if err != nil {
		t.Fatal(err)
	}
	if got := sp.Servers[0].SMS.TAR.String(); got != config.DefaultTAR {
		t.Errorf("default tar = %s, want %s", got, config.DefaultTAR)
	}
	if got := sp.Servers[0].Binding; got != "UQS" || !got.HasSMS() || !got.HasUDP() || !got.Queued() {
		t.Errorf("binding %q helpers wrong", got)
	}
}

// TestValidationRules covers every rule: each case names the error lines it
// must produce (as "line:col: path: message" fragments), and nothing else.
func TestValidationRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want []string
	}{
		{name: "empty file", yaml: "", want: []string{"c.yaml: the file is empty"}},
		{name: "syntax", yaml: "endpoint: [", want: []string{"c.yaml: yaml:"}},
		{name: "two documents", yaml: base + "---\nendpoint: x\n", want: []string{"only one YAML document"}},
		{name: "not a mapping", yaml: "- a\n", want: []string{"1:1: expected a mapping, found a list"}},
		{name: "unknown top key", yaml: base + "colour: red\n", want: []string{"16:1: colour: unknown key; known keys here: endpoint, state_dir,"}},
		{name: "duplicate key", yaml: base + "endpoint: x\n", want: []string{"16:1: endpoint: key given twice"}},
		{name: "endpoint missing", yaml: strings.Replace(base, "endpoint: gw-{imei}\n", "", 1), want: []string{"endpoint: required"}},
		{name: "endpoint placeholder", yaml: strings.Replace(base, "gw-{imei}", "gw-{imsi}", 1), want: []string{"1:11: endpoint: unknown placeholder {imsi}"}},
		{name: "placeholder without modem", yaml: "endpoint: gw-{iccid}\nmodem: none\nservers:\n  - short_server_id: 1\n    uri: coap://a\n", want: []string{"endpoint: placeholder {iccid} needs a modem"}},
		{name: "modem missing", yaml: "endpoint: gw\nservers:\n  - short_server_id: 1\n    uri: coap://a\n", want: []string{"c.yaml: modem: required: a mapping with the AT port, or none"}},
		{name: "modem scalar", yaml: strings.Replace(base, "modem:\n  port: /dev/ttyUSB2\n", "modem: off\n", 1), want: []string{"2:8: modem: expected a mapping, found \"off\""}},
		{name: "modem port missing", yaml: strings.Replace(base, "  port: /dev/ttyUSB2\n", "  baud: 9600\n", 1), want: []string{"3:3: modem.port: required"}},
		{name: "baud", yaml: strings.Replace(base, "  port: /dev/ttyUSB2\n", "  port: /dev/ttyUSB2\n  baud: -1\n", 1), want: []string{"4:9: modem.baud: -1 is not a serial speed"}},
		{name: "baud not a number", yaml: strings.Replace(base, "  port: /dev/ttyUSB2\n", "  port: /dev/ttyUSB2\n  baud: fast\n", 1), want: []string{"4:9: modem.baud: \"fast\" is not a whole number"}},
		{name: "sms delivery", yaml: strings.Replace(base, "  port: /dev/ttyUSB2\n", "  port: /dev/ttyUSB2\n  sms_delivery: push\n", 1), want: []string{"modem.sms_delivery: \"push\" is not one of auto, direct, stored"}},
		{name: "storage", yaml: strings.Replace(base, "  port: /dev/ttyUSB2\n", "  port: /dev/ttyUSB2\n  storage: XX\n", 1), want: []string{"modem.storage: \"XX\" is not one of SM, ME, MT"}},
		{name: "own number", yaml: strings.Replace(base, "  port: /dev/ttyUSB2\n", "  port: /dev/ttyUSB2\n  own_number: abc\n", 1), want: []string{"modem.own_number: \"abc\" is not an MSISDN"}},
		{name: "country code", yaml: strings.Replace(base, "  port: /dev/ttyUSB2\n", "  port: /dev/ttyUSB2\n  country_code: \"+33\"\n", 1), want: []string{"modem.country_code: \"+33\" is not a country calling code"}},
		{name: "trace not bool", yaml: strings.Replace(base, "  port: /dev/ttyUSB2\n", "  port: /dev/ttyUSB2\n  trace: sometimes\n", 1), want: []string{"modem.trace: \"sometimes\" is not true or false"}},
		{name: "log level", yaml: base + "log:\n  level: loud\n", want: []string{"17:10: log.level: \"loud\" is not one of debug, info, warn, error"}},
		{name: "log format", yaml: base + "log:\n  format: xml\n", want: []string{"log.format: \"xml\" is not one of text, json"}},
		{name: "aid short", yaml: base + "uicc:\n  aid: A000\n", want: []string{"17:8: uicc.aid: an AID is 5–16 bytes, got 2"}},
		{name: "aid not hex", yaml: base + "uicc:\n  aid: XYZ\n", want: []string{"uicc.aid: is not hex"}},
		{name: "poll interval", yaml: base + "uicc:\n  poll_interval: 10ms\n", want: []string{"uicc.poll_interval: 10ms is shorter than 1s"}},
		{name: "poll interval garbage", yaml: base + "uicc:\n  poll_interval: soon\n", want: []string{"uicc.poll_interval: \"soon\" is not a duration"}},
		{name: "negative duration", yaml: base + "uicc:\n  poll_interval: -5\n", want: []string{"uicc.poll_interval: \"-5\" is negative"}},
		{name: "coap tag", yaml: base + "uicc:\n  coap_tag: 0x1FF\n", want: []string{"uicc.coap_tag: 511 does not fit one octet"}},
		{name: "no servers", yaml: "endpoint: gw\nmodem: none\n", want: []string{"servers: required: at least one server"}},
		{name: "servers not a list", yaml: "endpoint: gw\nmodem: none\nservers: x\n", want: []string{"3:10: servers: expected a list"}},
		{name: "ssid missing", yaml: strings.Replace(base, "short_server_id: 1", "binding: U", 1), want: []string{"servers[0].short_server_id: required: 1–65534", "servers[0].binding: key given twice"}},
		{name: "ssid range", yaml: strings.Replace(base, "short_server_id: 1", "short_server_id: 65535", 1), want: []string{"5:22: servers[0].short_server_id: 65535 is outside 1–65534"}},
		{name: "ssid duplicate", yaml: "endpoint: gw\nmodem: none\nservers:\n  - short_server_id: 7\n    uri: coap://a\n  - short_server_id: 7\n    uri: coap://b\n", want: []string{"6:22: servers[1].short_server_id: 7 is already used by servers[0]"}},
		{name: "uri missing", yaml: strings.Replace(base, "    uri: coaps://lwm2m.example.com:5684\n", "", 1), want: []string{"5:5: servers[0].uri: required"}},
		{name: "uri scheme", yaml: strings.Replace(base, "coaps://lwm2m.example.com:5684", "http://x", 1), want: []string{"6:10: servers[0].uri: \"http://x\" is not a coap:// or coaps:// URI"}},
		{name: "uri port", yaml: strings.Replace(base, ":5684", ":99999", 1), want: []string{"servers[0].uri: port \"99999\" is not 1–65535"}},
		{name: "coaps needs psk", yaml: strings.Replace(base, "    security:\n", "    security:\n      mode: nosec\n", 1), want: []string{"servers[0].security.mode: coaps:// needs mode psk", "servers[0].security: psk_identity and psk_key are only for mode psk"}},
		{name: "psk identity missing", yaml: strings.Replace(base, "      psk_identity: gw\n", "", 1), want: []string{"servers[0].security.psk_identity: required for a PSK"}},
		{name: "psk identity long", yaml: strings.Replace(base, "psk_identity: gw\n", "psk_identity: "+strings.Repeat("x", 129)+"\n", 1), want: []string{"servers[0].security.psk_identity: 129 bytes is longer than 128"}},
		{name: "psk short", yaml: strings.Replace(base, "      psk_key: 000102030405060708090a0b0c0d0e0f\n    binding", "      psk_key: 0001\n    binding", 1), want: []string{"9:16: servers[0].security.psk_key: a PSK of 16–64 bytes is required, got 2"}},
		{name: "security mode enum", yaml: strings.Replace(base, "    security:\n", "    security:\n      mode: rpk\n", 1), want: []string{"servers[0].security.mode: \"rpk\" is not one of nosec, psk"}},
		{name: "lifetime", yaml: base + "    lifetime: 1500ms\n", want: []string{"servers[0].lifetime: 1.5s is not a whole number of seconds"}},
		{name: "pmax below pmin", yaml: base + "    default_pmin: 60\n    default_pmax: 30\n", want: []string{"servers[0].default_pmax: 30s is shorter than default_pmin 1m0s"}},
		{name: "binding", yaml: strings.Replace(base, "binding: UQS", "binding: UQSQ", 1), want: []string{"servers[0].binding: \"UQSQ\" is not one of U, UQ, S, SQ, US, UQS"}},
		{name: "binding S needs sms", yaml: "endpoint: gw\nmodem:\n  port: /dev/x\nservers:\n  - short_server_id: 1\n    uri: coap://a\n    binding: US\n", want: []string{"servers[0].sms.number: required: binding US includes S"}},
		{name: "sms without modem", yaml: strings.Replace(base, "modem:\n  port: /dev/ttyUSB2\n", "modem: none\n", 1), want: []string{"servers[0].sms: SMS needs a modem, but modem is none", "endpoint: placeholder {imei} needs a modem"}},
		{name: "sms number missing", yaml: strings.Replace(base, "      number: \"+33600000002\"\n", "", 1), want: []string{"servers[0].sms.number: required"}},
		{name: "sms number bad", yaml: strings.Replace(base, "\"+33600000002\"", "\"+33-600\"", 1), want: []string{"12:15: servers[0].sms.number: \"+33-600\" is not an MSISDN"}},
		{name: "sms number unquoted keeps +", yaml: strings.Replace(base, "\"+33600000002\"", "+3360000000299999", 1), want: []string{"servers[0].sms.number: \"+3360000000299999\" is not an MSISDN"}},
		{name: "sms number duplicate", yaml: "endpoint: gw\nmodem:\n  port: /dev/x\nservers:\n  - short_server_id: 1\n    uri: coap://a\n    sms: {number: \"+336\", security_mode: nosec}\n  - short_server_id: 2\n    uri: coap://b\n    sms: {number: \"336\", security_mode: nosec}\n", want: []string{"servers[1].sms.number: 336 is already the number of servers[0]"}},
		{name: "sms mode missing", yaml: strings.Replace(base, "      security_mode: dtls\n", "", 1), want: []string{"servers[0].sms.security_mode: required: one of dtls, secure-packet, nosec"}},
		{name: "sms mode enum", yaml: strings.Replace(base, "security_mode: dtls", "security_mode: dtsl", 1), want: []string{"13:22: servers[0].sms.security_mode: \"dtsl\" is not one of dtls, secure-packet, nosec"}},
		{name: "nosec takes no keys", yaml: strings.Replace(base, "security_mode: dtls", "security_mode: nosec", 1), want: []string{"servers[0].sms: security_mode nosec takes no keys"}},
		{name: "dtls psk length", yaml: strings.Replace(base, "      psk_key: 000102030405060708090a0b0c0d0e0f\n", "      psk_key: 000102030405060708090a0b0c0d0e0f00\n", 2), want: []string{"servers[0].sms.psk_key: a PSK stored in Security resource 8 is 16, 32 or 48 bytes, got 17"}},
		{name: "dtls sms identity missing", yaml: strings.Replace(base, "      psk_identity: gw-sms\n", "", 1), want: []string{"servers[0].sms.psk_identity: required for a PSK"}},
		{name: "dtls psk source enum", yaml: strings.Replace(base, "security_mode: dtls\n", "security_mode: dtls\n      psk_source: both\n", 1), want: []string{"servers[0].sms.psk_source: \"both\" is not one of sms, udp"}},
		{name: "dtls udp source with keys", yaml: strings.Replace(base, "security_mode: dtls\n", "security_mode: dtls\n      psk_source: udp\n", 1), want: []string{"servers[0].sms: psk_source udp uses the server's security.psk_identity"}},
		{name: "dtls udp source needs udp psk", yaml: "endpoint: gw\nmodem:\n  port: /dev/x\nservers:\n  - short_server_id: 1\n    uri: coap://a\n    sms: {number: \"+336\", security_mode: dtls, psk_source: udp}\n", want: []string{"servers[0].sms.psk_source: udp needs the server's security.mode to be psk"}},
		{name: "dtls with mode-2 keys", yaml: strings.Replace(base, "security_mode: dtls\n", "security_mode: dtls\n      kic: \"12\"\n", 1), want: []string{"servers[0].sms: kic, kid, spi, tar, kic_key and kid_key are only for security_mode secure-packet"}},
		{name: "sp with psk", yaml: strings.Replace(securePacket, "      kic: \"12\"\n", "      kic: \"12\"\n      psk_identity: x\n", 1), want: []string{"servers[0].sms: psk_source, psk_identity and psk_key are only for security_mode dtls"}},
		{name: "sp fields missing", yaml: strings.Replace(securePacket, "      kic: \"12\"\n      kid: \"12\"\n      spi: \"1621\"\n      kic_key: 000102030405060708090a0b0c0d0e0f\n      kid_key: 101112131415161718191a1b1c1d1e1f\n", "", 1),
			want: []string{"servers[0].sms.kic: required for security_mode secure-packet", "servers[0].sms.kid: required", "servers[0].sms.spi: required", "servers[0].sms.kic_key: required", "servers[0].sms.kid_key: required"}},
		{name: "sp tar length", yaml: strings.Replace(securePacket, "spi: \"1621\"\n", "spi: \"1621\"\n      tar: B202\n", 1), want: []string{"servers[0].sms.tar: is 2 octet(s), 3 expected"}},
		{name: "sp spi policy", yaml: strings.Replace(securePacket, "spi: \"1621\"", "spi: \"0621\"", 1), want: []string{"servers[0].sms.spi: first octet 06 does not require checksum, ciphering and a higher counter"}},
		{name: "sp single des", yaml: strings.Replace(securePacket, "kic: \"12\"", "kic: \"11\"", 1), want: []string{"servers[0].sms.kic: algorithm 1 (low nibble of 11) is not allowed by LwM2M"}},
		{name: "sp aes key length", yaml: strings.Replace(securePacket, "kid_key: 101112131415161718191a1b1c1d1e1f", "kid_key: 1011", 1), want: []string{"servers[0].sms.kid_key: an AES key is 16, 24 or 32 bytes, got 2", "servers[0].sms.kid_key: is 2 bytes but kic_key is 16"}},
		{name: "sp aes-256 does not fit resource 8", yaml: strings.NewReplacer("kic_key: 000102030405060708090a0b0c0d0e0f", "kic_key: "+strings.Repeat("01", 32), "kid_key: 101112131415161718191a1b1c1d1e1f", "kid_key: "+strings.Repeat("02", 32)).Replace(securePacket), want: []string{"servers[0].sms.kic_key: two 32-byte keys do not fit Security resource 8"}},
		{name: "sp 3des repeated key", yaml: strings.NewReplacer(`kic: "12"`, `kic: "19"`, "kic_key: 000102030405060708090a0b0c0d0e0f", "kic_key: 0001020304050607000102030405060710111213141516170", `kid: "12"`, `kid: "19"`, "kid_key: 101112131415161718191a1b1c1d1e1f", "kid_key: 202122232425262728292a2b2c2d2e2f3031323334353637").Replace(securePacket), want: []string{"servers[0].sms.kic_key: secret is not hex"}},
		{name: "sp 3des two-key form", yaml: strings.NewReplacer(`kic: "12"`, `kic: "19"`, "kic_key: 000102030405060708090a0b0c0d0e0f", "kic_key: 000102030405060710111213141516170001020304050607", `kid: "12"`, `kid: "19"`, "kid_key: 101112131415161718191a1b1c1d1e1f", "kid_key: 202122232425262728292a2b2c2d2e2f3031323334353637").Replace(securePacket), want: []string{"servers[0].sms.kic_key: 3-key 3DES needs three different keys"}},
		{name: "sms unknown key", yaml: base + "sms:\n  rate: 5\n", want: []string{"17:3: sms.rate: unknown key; known keys here: accept_any_sender_nosec, status_reports, rate_limit, dtls"}},
		{name: "sms debug switch not bool", yaml: base + "sms:\n  accept_any_sender_nosec: maybe\n", want: []string{"sms.accept_any_sender_nosec: \"maybe\" is not true or false"}},
		{name: "sms debug switch without nosec server", yaml: base + "sms:\n  accept_any_sender_nosec: true\n", want: []string{"17:28: sms.accept_any_sender_nosec: needs exactly one server with sms.security_mode nosec"}},
		{name: "sms rate count", yaml: base + "sms:\n  rate_limit:\n    per_sender:\n      count: -1\n", want: []string{"19:14: sms.rate_limit.per_sender.count: -1 is not a positive number of SMS"}},
		{name: "sms rate interval", yaml: base + "sms:\n  rate_limit:\n    global: {count: 3, interval: 10ms}\n", want: []string{"sms.rate_limit.global.interval: 10ms is shorter than 1s"}},
		{name: "sms rate not a mapping", yaml: base + "sms:\n  rate_limit:\n    global: 30/min\n", want: []string{"18:13: sms.rate_limit.global: expected a mapping, found \"30/min\""}},
		{name: "sms handshake timeout", yaml: base + "sms:\n  dtls:\n    handshake_timeout: 5s\n", want: []string{"18:24: sms.dtls.handshake_timeout: 5s is shorter than the initial retransmission timeout 10s"}},
		{name: "sms rehandshake interval", yaml: base + "sms:\n  dtls:\n    rehandshake_interval: 30s\n", want: []string{"sms.dtls.rehandshake_interval: 30s is shorter than 1m0s"}},
		{name: "bootstrap uri", yaml: base + "bootstrap:\n  uri: udp://x\n", want: []string{"bootstrap.uri: \"udp://x\" is not a coap:// or coaps:// URI"}},
		{name: "bootstrap unknown key", yaml: base + "bootstrap:\n  uri: coap://x\n  holdoff: 5\n", want: []string{"18:3: bootstrap.holdoff: unknown key"}},
		{name: "device not mapping", yaml: base + "device: acme\n", want: []string{"16:9: device: expected a mapping, found \"acme\""}},
		{name: "device field list", yaml: base + "device:\n  model: [a, b]\n", want: []string{"17:10: device.model: expected a value, found a list"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("c.yaml", []byte(tc.yaml))
			var errs config.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse error = %v, want config.Errors", err)
			}
			lines := strings.Split(errs.Error(), "\n")
			for _, w := range tc.want {
				found := false
				for _, l := range lines {
					if strings.Contains(l, w) {
						found = true
					}
				}
				if !found {
					t.Errorf("no error line contains %q; got:\n%s", w, errs.Error())
				}
			}
			if len(lines) != len(tc.want) {
				t.Errorf("got %d error lines, want %d:\n%s", len(lines), len(tc.want), errs.Error())
			}
		})
	}
}

// TestThreeErrors is the acceptance case: an unknown key, a wrong
// enum and a missing server number, all reported with file:line:col.
func TestThreeErrors(t *testing.T) {
	_, err := config.Load(filepath.Join("testdata", "three-errors.yaml"))
	want := strings.Join([]string{
		"testdata/three-errors.yaml:8:5: servers[0].lifetiem: unknown key; known keys here: short_server_id, uri, security, lifetime, binding, notification_storing, default_pmin, default_pmax, sms",
		"testdata/three-errors.yaml:10:7: servers[0].sms.number: required: the server's MSISDN, e.g. +33600000001",
		`testdata/three-errors.yaml:10:22: servers[0].sms.security_mode: "dtsl" is not one of dtls, secure-packet, nosec`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Fatalf("Load error:\n%v\nwant:\n%s", err, want)
	}
}

func TestExampleConfigs(t *testing.T) {
	files, err := filepath.Glob("../../configs/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no configs found: %v", err)
	}
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "emulator-") {
			continue // emulator profiles have their own schema
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := config.Load(f); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSecretFile(t *testing.T) {
	const key = "000102030405060708090a0b0c0d0e0f"
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.psk", key+"\n", 0o600)
	open := write("open.psk", key, 0o644)
	bad := write("bad.psk", "zz"+key, 0o600)
	withFile := func(path string) string {
		return strings.Replace(base, "      psk_key: 000102030405060708090a0b0c0d0e0f\n    binding", "      psk_key_file: "+path+"\n    binding", 1)
	}

	c, err := config.Parse(filepath.Join(dir, "c.yaml"), []byte(withFile("good.psk")))
	if err != nil {
		t.Fatalf("relative secret file: %v", err)
	}
	if got := fmt.Sprintf("%x", c.Servers[0].Security.PSKKey.Bytes()); got != key {
		t.Errorf("key from file = %s", got)
	}
	if _, err := config.Parse("c.yaml", []byte(withFile(good))); err != nil {
		t.Errorf("absolute secret file: %v", err)
	}

	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"group readable", withFile(open), "is readable by group or others (mode 0644); run: chmod 600 " + open},
		{"not hex", withFile(bad), "servers[0].security.psk_key_file: content of " + bad + " is not hex"},
		{"missing", withFile(filepath.Join(dir, "nope")), "servers[0].security.psk_key_file: cannot read secret file"},
		{"both", strings.Replace(withFile(good), "      psk_key_file:", "      psk_key: "+key+"\n      psk_key_file:", 1), "servers[0].security.psk_key_file: give psk_key or psk_key_file, not both"},
		{"directory", withFile(dir), "is not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("c.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), key) {
				t.Errorf("error reveals the key: %v", err)
			}
		})
	}
}

// TestSecretsNeverPrinted checks every way a secret could reach a log line
// or an error message.
func TestSecretsNeverPrinted(t *testing.T) {
	s := config.Secret{0xde, 0xad, 0xbe, 0xef}
	for _, got := range []string{
		fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %x %X %q", s, s, s, s, s, s, s),
		s.String(), s.GoString(), s.LogValue().String(),
	} {
		if strings.Contains(strings.ToLower(got), "dead") || strings.Contains(got, "\xde") {
			t.Errorf("secret printed: %q", got)
		}
	}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "key", s)
	if strings.Contains(b.String(), "dead") {
		t.Errorf("secret logged: %s", b.String())
	}
	// A bad inline secret's error does not quote it.
	_, err := config.Parse("c.yaml", []byte(strings.Replace(base, "psk_key: 000102030405060708090a0b0c0d0e0f\n    binding", "psk_key: s3cr3t-passw0rd\n    binding", 1)))
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error = %v, want one that does not quote the secret", err)
	}
}

func TestLogLevel(t *testing.T) {
	for in, want := range map[config.LogLevel]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError} {
		if got := in.Level(); got != want {
			t.Errorf("%s.Level() = %v, want %v", in, got, want)
		}
	}
}

func TestDurationForms(t *testing.T) {
	c, err := config.Parse("c.yaml", []byte(base+"    lifetime: 90\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Servers[0].Lifetime.D(); got != 90*time.Second {
		t.Errorf("lifetime 90 = %v, want 90s", got)
	}
}
