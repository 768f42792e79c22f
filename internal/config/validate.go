package config

import (
	"bytes"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits checked by validation, with where each comes from.
const (
	// minPSKLen and maxPSKLen bound a UDP DTLS PSK: LwM2M-TS 1.0 App. E.1
	// requires support for PSKs up to 64 bytes; anything under 128 bits
	// is refused as too weak (RFC 7925 §4.2 recommends high-entropy PSKs).
	minPSKLen = 16
	maxPSKLen = 64
	// maxPSKIdentityLen: LwM2M-TS 1.0 App. E.1 resource 3 (128 bytes).
	maxPSKIdentityLen = 128
	// minAIDLen and maxAIDLen: ISO/IEC 7816-4 §8.2.1.2 (AID of 5–16 bytes).
	minAIDLen = 5
	maxAIDLen = 16
	// maxShortServerID: LwM2M-TS 1.0 App. E.1 resource 10 (0 and 65535
	// are forbidden).
	maxShortServerID = 65534
	// minHandshakeTimeout is the DTLS-over-SMS initial RTO (LwM2M-TS 1.0
	// §7.2.2.1.5, 10 s): a shorter budget never retransmits a flight.
	minHandshakeTimeout = 10 * time.Second
	// minRehandshakeInterval: PROJECT DEFAULT floor; more often would let
	// forged records cost a handshake's SMS every few seconds.
	minRehandshakeInterval = time.Minute
	// minRateInterval: a limit's interval below one second is a typo.
	minRateInterval = time.Second
)

// sms8Lengths are the lengths Security resource 8 may have
// (LwM2M-TS 1.0 App. E.1, lwm2m.md §2.4).
var sms8Lengths = []int{16, 32, 48}

var (
	msisdnRe      = regexp.MustCompile(`^\+?[0-9]{3,15}$`)
	countryCodeRe = regexp.MustCompile(`^[1-9][0-9]{0,2}$`)
	placeholderRe = regexp.MustCompile(`\{[^}]*\}`)
)

// endpointPlaceholders are the values the daemon can fill into endpoint.
var endpointPlaceholders = []string{"{imei}", "{iccid}"}

type validator struct {
	cfg        *Config
	file       string
	pos        map[string]Pos
	decodeErrs Errors
	errs       Errors
}

// at finds the position of path, or of its nearest present parent.
func (v *validator) at(path string) Pos {
	for p := path; p != ""; {
		if pos, ok := v.pos[p]; ok {
			return pos
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return Pos{}
}

func (v *validator) errorf(path, format string, args ...any) {
	for _, e := range v.decodeErrs {
		if e.Path == "" || e.Path == path || strings.HasPrefix(path, e.Path+".") || strings.HasPrefix(path, e.Path+"[") {
			return // already reported while decoding
		}
	}
	v.errs = append(v.errs, &FieldError{File: v.file, Pos: v.at(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) present(path string) bool {
	_, ok := v.pos[path]
	return ok
}

func (v *validator) validate() {
	c := v.cfg
	v.endpoint()
	if !v.present("modem") {
		v.errorf("modem", "required: a mapping with the AT port, or none for a UDP-only gateway")
	} else if c.Modem != nil {
		v.modem(c.Modem)
	}
	v.uicc()
	if len(c.Servers) == 0 && c.Bootstrap == nil {
		v.errorf("servers", "required: at least one server (or a bootstrap server)")
	}
	ids := map[int]string{}
	numbers := map[string]string{}
	for i := range c.Servers {
		path := fmt.Sprintf("servers[%d]", i)
		s := &c.Servers[i]
		v.server(s, path)
		if prev, dup := ids[s.ShortServerID]; dup && s.ShortServerID != 0 {
			v.errorf(path+".short_server_id", "%d is already used by %s", s.ShortServerID, prev)
		}
		ids[s.ShortServerID] = path
		if s.SMS != nil && s.SMS.Number != "" {
			n := strings.TrimPrefix(s.SMS.Number, "+")
			if prev, dup := numbers[n]; dup {
				v.errorf(path+".sms.number", "%s is already the number of %s; the sender filter could not tell them apart", s.SMS.Number, prev)
			}
			numbers[n] = path
		}
	}
	if b := c.Bootstrap; b != nil {
		v.uri(b.URI, &b.Security, "bootstrap")
	}
	v.smsBinding()
}

func (v *validator) smsBinding() {
	s := &v.cfg.SMS
	for _, l := range []struct {
		path string
		r    RateLimit
	}{{"sms.rate_limit.per_sender", s.RateLimit.PerSender}, {"sms.rate_limit.global", s.RateLimit.Global}} {
		if l.r.Count < 1 {
			v.errorf(l.path+".count", "%d is not a positive number of SMS", l.r.Count)
		}
		if l.r.Interval.D() < minRateInterval {
			v.errorf(l.path+".interval", "%s is shorter than %s", l.r.Interval.D(), minRateInterval)
		}
	}
	if d := s.DTLS.HandshakeTimeout.D(); d < minHandshakeTimeout {
		v.errorf("sms.dtls.handshake_timeout", "%s is shorter than the initial retransmission timeout %s", d, minHandshakeTimeout)
	}
	if d := s.DTLS.RehandshakeInterval.D(); d < minRehandshakeInterval {
		v.errorf("sms.dtls.rehandshake_interval", "%s is shorter than %s", d, minRehandshakeInterval)
	}
	if s.AcceptAnySenderNoSec {
		n := 0
		for _, srv := range v.cfg.Servers {
			if srv.SMS != nil && srv.SMS.SecurityMode == "nosec" {
				n++
			}
		}
		if n != 1 {
			v.errorf("sms.accept_any_sender_nosec", "needs exactly one server with sms.security_mode nosec to give unknown senders to, there are %d", n)
		}
	}
}

func (v *validator) endpoint() {
	ep := v.cfg.Endpoint
	if ep == "" {
		v.errorf("endpoint", "required: the LwM2M client endpoint name, e.g. gw-{imei}")
		return
	}
	for _, ph := range placeholderRe.FindAllString(ep, -1) {
		if !slices.Contains(endpointPlaceholders, ph) {
			v.errorf("endpoint", "unknown placeholder %s; known: %s", ph, strings.Join(endpointPlaceholders, ", "))
		} else if v.present("modem") && v.cfg.Modem == nil {
			v.errorf("endpoint", "placeholder %s needs a modem to read it from, but modem is none", ph)
		}
	}
}

func (v *validator) modem(m *Modem) {
	if m.Port == "" {
		v.errorf("modem.port", "required: the modem's AT serial port, e.g. /dev/ttyUSB2")
	}
	if m.Baud <= 0 {
		v.errorf("modem.baud", "%d is not a serial speed", m.Baud)
	}
	if !slices.Contains([]string{"SM", "ME", "MT"}, m.Storage) {
		v.errorf("modem.storage", "%q is not one of SM, ME, MT", m.Storage)
	}
	if m.OwnNumber != "" && !msisdnRe.MatchString(m.OwnNumber) {
		v.errorf("modem.own_number", "%q is not an MSISDN (up to 15 digits, optional leading +)", m.OwnNumber)
	}
	if m.CountryCode != "" && !countryCodeRe.MatchString(m.CountryCode) {
		v.errorf("modem.country_code", "%q is not a country calling code (1–3 digits, no +)", m.CountryCode)
	}
}

func (v *validator) uicc() {
	u := v.cfg.UICC
	if n := len(u.AID); n < minAIDLen || n > maxAIDLen {
		v.errorf("uicc.aid", "an AID is %d–%d bytes, got %d", minAIDLen, maxAIDLen, n)
	}
	if u.PollInterval.D() < time.Second {
		v.errorf("uicc.poll_interval", "%s is shorter than 1s", u.PollInterval.D())
	}
	if t := *u.CoAPTag; t < 0 || t > 0xFF {
		v.errorf("uicc.coap_tag", "%d does not fit one octet", t)
	}
}

func (v *validator) server(s *Server, path string) {
	if s.ShortServerID < 1 || s.ShortServerID > maxShortServerID {
		if !v.present(path + ".short_server_id") {
			v.errorf(path+".short_server_id", "required: 1–%d", maxShortServerID)
		} else {
			v.errorf(path+".short_server_id", "%d is outside 1–%d", s.ShortServerID, maxShortServerID)
		}
	}
	v.uri(s.URI, &s.Security, path)
	if d := s.Lifetime.D(); d < time.Second || d%time.Second != 0 {
		v.errorf(path+".lifetime", "%s is not a whole number of seconds ≥ 1s", d)
	}
	if s.DefaultPmax != 0 && s.DefaultPmax < s.DefaultPmin {
		v.errorf(path+".default_pmax", "%s is shorter than default_pmin %s", s.DefaultPmax.D(), s.DefaultPmin.D())
	}
	noModem := v.present("modem") && v.cfg.Modem == nil
	if s.Binding.HasSMS() && s.SMS == nil {
		v.errorf(path+".sms.number", "required: binding %s includes S, so the server's SMS number is needed", s.Binding)
	}
	if s.SMS != nil {
		if noModem {
			v.errorf(path+".sms", "SMS needs a modem, but modem is none")
		}
		v.sms(s, path+".sms")
	}
}

func (v *validator) uri(raw string, sec *Security, path string) {
	if raw == "" {
		v.errorf(path+".uri", "required: coap://host[:port] or coaps://host[:port]")
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "coap" && u.Scheme != "coaps") || u.Host == "" {
		v.errorf(path+".uri", "%q is not a coap:// or coaps:// URI with a host", raw)
		return
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			v.errorf(path+".uri", "port %q is not 1–65535", p)
		}
	}
	if _, _, err := net.SplitHostPort(hostPort(u)); err != nil {
		v.errorf(path+".uri", "%q: %v", raw, err)
	}
	spath := path + ".security"
	switch {
	case u.Scheme == "coaps" && sec.Mode != "psk":
		v.errorf(spath+".mode", "coaps:// needs mode psk (certificates are not supported)")
	case u.Scheme == "coap" && sec.Mode == "psk":
		v.errorf(spath+".mode", "psk needs a coaps:// URI")
	}
	switch sec.Mode {
	case "psk":
		v.pskIdentity(sec.PSKIdentity, spath+".psk_identity")
		if n := len(sec.PSKKey); n < minPSKLen || n > maxPSKLen {
			v.errorf(spath+".psk_key", "a PSK of %d–%d bytes is required, got %d", minPSKLen, maxPSKLen, n)
		}
	case "nosec":
		if sec.PSKIdentity != "" || sec.PSKKey != nil {
			v.errorf(spath, "psk_identity and psk_key are only for mode psk")
		}
	}
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "0")
}

func (v *validator) pskIdentity(id, path string) {
	switch {
	case id == "":
		v.errorf(path, "required for a PSK")
	case len(id) > maxPSKIdentityLen:
		v.errorf(path, "%d bytes is longer than %d", len(id), maxPSKIdentityLen)
	}
}

func (v *validator) sms(s *Server, path string) {
	m := s.SMS
	switch {
	case m.Number == "":
		v.errorf(path+".number", "required: the server's MSISDN, e.g. +33600000001")
	case !msisdnRe.MatchString(m.Number):
		v.errorf(path+".number", "%q is not an MSISDN (up to 15 digits, optional leading +)", m.Number)
	}
	hasPSK := m.PSKIdentity != "" || m.PSKKey != nil
	hasSP := m.KIc != nil || m.KID != nil || m.SPI != nil || m.KIcKey != nil || m.KIDKey != nil ||
		(m.TAR != nil && m.SecurityMode != "secure-packet")
	switch m.SecurityMode {
	case "":
		v.errorf(path+".security_mode", "required: one of %s", strings.Join(m.SecurityMode.allowed(), ", "))
	case "nosec":
		if hasPSK || hasSP || m.PSKSource != "" {
			v.errorf(path, "security_mode nosec takes no keys")
		}
	case "dtls":
		if hasSP {
			v.errorf(path, "kic, kid, spi, tar, kic_key and kid_key are only for security_mode secure-packet")
		}
		v.smsPSK(s, path)
	case "secure-packet":
		if hasPSK || m.PSKSource != "" {
			v.errorf(path, "psk_source, psk_identity and psk_key are only for security_mode dtls")
		}
		v.securePacket(m, path)
	}
}

func (v *validator) smsPSK(s *Server, path string) {
	m := s.SMS
	switch m.PSKSource {
	case "sms":
		v.pskIdentity(m.PSKIdentity, path+".psk_identity")
		if !slices.Contains(sms8Lengths, len(m.PSKKey)) {
			v.errorf(path+".psk_key", "a PSK stored in Security resource 8 is 16, 32 or 48 bytes, got %d", len(m.PSKKey))
		}
	case "udp":
		if m.PSKIdentity != "" || m.PSKKey != nil {
			v.errorf(path, "psk_source udp uses the server's security.psk_identity and psk_key; remove these")
		}
		if s.Security.Mode != "psk" {
			v.errorf(path+".psk_source", "udp needs the server's security.mode to be psk")
		}
	}
}

// LwM2M algorithm nibbles of KIc/KID (TS 102 225 §5.1.2–5.1.3; seed
// §7.2.2.2.3 allows only AES and 3-key 3DES).
const (
	algoAES    = 0x2
	algo3DES3K = 0x9
)

func (v *validator) securePacket(m *SMS, path string) {
	lengths := []struct {
		name string
		b    []byte
		n    int
	}{{"kic", m.KIc, 1}, {"kid", m.KID, 1}, {"spi", m.SPI, 2}, {"tar", m.TAR, 3}}
	ok := true
	for _, l := range lengths {
		if len(l.b) != l.n {
			ok = false
			if l.b == nil {
				v.errorf(path+"."+l.name, "required for security_mode secure-packet: %d octet(s) in hex", l.n)
			} else {
				v.errorf(path+"."+l.name, "is %d octet(s), %d expected", len(l.b), l.n)
			}
		}
	}
	if m.KIcKey == nil {
		v.errorf(path+".kic_key", "required for security_mode secure-packet")
		ok = false
	}
	if m.KIDKey == nil {
		v.errorf(path+".kid_key", "required for security_mode secure-packet")
		ok = false
	}
	if !ok {
		return
	}
	// SPI first octet (TS 102 225 §5.1.1): LwM2M needs a cryptographic
	// checksum (b2b1=10), ciphering (b3=1) and "counter higher than the
	// receiving entity's" (b5b4=10), i.e. low five bits 0x16.
	if m.SPI[0]&0x1F != 0x16 {
		v.errorf(path+".spi", "first octet %02X does not require checksum, ciphering and a higher counter (LwM2M needs xxx10110, e.g. 16)", m.SPI[0])
	}
	v.smsKey("kic", m.KIc[0], m.KIcKey, path)
	v.smsKey("kid", m.KID[0], m.KIDKey, path)
	if len(m.KIcKey) != len(m.KIDKey) {
		v.errorf(path+".kid_key", "is %d bytes but kic_key is %d; Security resource 8 holds both keys in halves of equal size", len(m.KIDKey), len(m.KIcKey))
	} else if !slices.Contains(sms8Lengths, 2*len(m.KIcKey)) {
		v.errorf(path+".kic_key", "two %d-byte keys do not fit Security resource 8 (16, 32 or 48 bytes)", len(m.KIcKey))
	}
}

func (v *validator) smsKey(name string, param byte, key Secret, path string) {
	switch param & 0x0F {
	case algoAES:
		if n := len(key); n != 16 && n != 24 && n != 32 {
			v.errorf(path+"."+name+"_key", "an AES key is 16, 24 or 32 bytes, got %d", n)
		}
	case algo3DES3K:
		if len(key) != 24 {
			v.errorf(path+"."+name+"_key", "a 3-key 3DES key is 24 bytes, got %d", len(key))
		} else if k := key.Bytes(); bytes.Equal(k[:8], k[8:16]) || bytes.Equal(k[8:16], k[16:]) || bytes.Equal(k[:8], k[16:]) {
			v.errorf(path+"."+name+"_key", "3-key 3DES needs three different keys (LwM2M forbids the 1- and 2-key forms)")
		}
	default:
		v.errorf(path+"."+name, "algorithm %X (low nibble of %02X) is not allowed by LwM2M: use 2 (AES) or 9 (3-key 3DES)", param&0x0F, param)
	}
}
