package smsdtls

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestConfigRefusesNonPSK(t *testing.T) {
	c, err := New(&recSender{}, newMemStore())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []SecurityMode{ModeRawPublicKey, ModeCertificate, ModeNoSec, ModeCertificateEST, 9} {
		cfg := testConfig()
		cfg.Mode = m
		_, err := c.Session(cfg)
		if !errors.Is(err, ErrNotPSK) {
			t.Errorf("mode %v: %v, want ErrNotPSK", m, err)
			continue
		}
		if !strings.Contains(err.Error(), m.String()) || !strings.Contains(err.Error(), serverNumber) {
			t.Errorf("mode %v: error %q does not say which mode and server", m, err)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{name: "no_number", edit: func(c *Config) { c.Number = "" }},
		{name: "no_identity", edit: func(c *Config) { c.PSKIdentity = nil }},
		{name: "identity_129", edit: func(c *Config) { c.PSKIdentity = make([]byte, 129) }},
		{name: "no_key", edit: func(c *Config) { c.PSK = nil }},
		{name: "key_65", edit: func(c *Config) { c.PSK = make(Secret, 65) }},
		{name: "negative_rto", edit: func(c *Config) { c.InitialRTO = -time.Second }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.edit(&cfg)
			if _, err := cfg.withDefaults(); err == nil {
				t.Error("accepted")
			}
		})
	}
	got, err := testConfig().withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if got.InitialRTO != 10*time.Second || got.HandshakeTimeout != 150*time.Second ||
		got.RehandshakeInterval != 10*time.Minute || got.SequenceReservation != 1000 || got.RecordValidity != 5*time.Minute {
		t.Errorf("defaults %+v", got)
	}
	if HandshakeMTU != 115 || MaxPlaintext != 111 {
		t.Errorf("HandshakeMTU %d MaxPlaintext %d", HandshakeMTU, MaxPlaintext)
	}
}

func TestOneSessionPerNumber(t *testing.T) {
	c, _ := New(&recSender{}, newMemStore())
	s, err := c.Session(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Session(testConfig()); err == nil {
		t.Error("second live session for the same number accepted")
	}
	_ = s.Close()
	s2, err := c.Session(testConfig())
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	_ = s2.Close()
}

// TestSecretsNotLogged: the PSK, the master secret and the snapshot never
// appear in the logs, even at debug level.
func TestSecretsNotLogged(t *testing.T) {
	if s := fmt.Sprint(testKey, Config{PSK: testKey}); strings.Contains(s, "0a0b") || strings.Contains(s, "[0 1 2") {
		t.Errorf("Secret printed: %s", s)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "key", testKey)
	if !strings.Contains(buf.String(), "[redacted]") {
		t.Errorf("slog shows %s", buf.String())
	}
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, true, testConfig())
		defer w.close()
		if err := w.handshake(t.Context()); err != nil {
			t.Fatal(err)
		}
		w.restartClient(testConfig())
		w.pingPong(t.Context(), "x")
		snap, err := unmarshalSnapshot(mustLoad(t, w.store))
		if err != nil {
			t.Fatal(err)
		}
		logs := w.logBuf.String()
		for name, secret := range map[string][]byte{"psk": testKey, "master secret": snap.state.MasterSecret} {
			for _, form := range []string{fmt.Sprintf("%x", secret), fmt.Sprintf("%v", secret), string(secret)} {
				if strings.Contains(logs, form) {
					t.Errorf("%s in the logs", name)
				}
			}
		}
		if !strings.Contains(logs, "restored without handshake") {
			t.Error("restore not logged")
		}
	})
}
