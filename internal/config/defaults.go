package config

import (
	"encoding/hex"
	"net/url"
	"time"
)

// applyDefaults fills every unset value with its documented default. It
// only ever fills zero values, so it is safe on a partly decoded config.
func (c *Config) applyDefaults() {
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	if m := c.Modem; m != nil {
		if m.Baud == 0 {
			m.Baud = DefaultBaud
		}
		if m.SMSDelivery == "" {
			m.SMSDelivery = "auto"
		}
		if m.Storage == "" {
			m.Storage = DefaultStorage
		}
	}
	if c.UICC.AID == nil {
		c.UICC.AID = mustHex(DefaultUICCAID)
	}
	if c.UICC.PollInterval == 0 {
		c.UICC.PollInterval = Duration(DefaultUICCPollInterval)
	}
	if c.UICC.CoAPTag == nil {
		tag := DefaultCoAPTag
		c.UICC.CoAPTag = &tag
	}
	for i := range c.Servers {
		s := &c.Servers[i]
		s.Security.defaultMode(s.URI)
		if s.Lifetime == 0 {
			s.Lifetime = Duration(DefaultLifetime)
		}
		if s.Binding == "" {
			s.Binding = DefaultBinding
		}
		if s.NotificationStoring == nil {
			t := true
			s.NotificationStoring = &t
		}
		if sms := s.SMS; sms != nil {
			if sms.SecurityMode == "dtls" && sms.PSKSource == "" {
				sms.PSKSource = "sms"
			}
			if sms.SecurityMode == "secure-packet" && sms.TAR == nil {
				sms.TAR = mustHex(DefaultTAR)
			}
		}
	}
	if b := c.Bootstrap; b != nil {
		b.Security.defaultMode(b.URI)
	}
	rl := &c.SMS.RateLimit
	rl.PerSender.defaults(DefaultSMSPerSenderCount, DefaultSMSPerSenderInterval)
	rl.Global.defaults(DefaultSMSGlobalCount, DefaultSMSGlobalInterval)
	if c.SMS.DTLS.HandshakeTimeout == 0 {
		c.SMS.DTLS.HandshakeTimeout = Duration(DefaultSMSHandshakeTimeout)
	}
	if c.SMS.DTLS.RehandshakeInterval == 0 {
		c.SMS.DTLS.RehandshakeInterval = Duration(DefaultSMSRehandshakeInterval)
	}
}

func (r *RateLimit) defaults(count int, interval time.Duration) {
	if r.Count == 0 {
		r.Count = count
	}
	if r.Interval == 0 {
		r.Interval = Duration(interval)
	}
}

// defaultMode picks psk for coaps:// and nosec for coap:// when unset.
func (s *Security) defaultMode(uri string) {
	if s.Mode != "" {
		return
	}
	if u, err := url.Parse(uri); err == nil && u.Scheme == "coaps" {
		s.Mode = "psk"
		return
	}
	s.Mode = "nosec"
}

func mustHex(s string) HexBytes {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic("config: bad built-in hex constant " + s)
	}
	return b
}
