package daemon_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/config"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/daemon"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/server"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/objects"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/smsbind"
)

func parse(t *testing.T, y string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestFactoryFromConfig(t *testing.T) {
	cfg := parse(t, `endpoint: gw
modem:
  port: /dev/ttyUSB2
servers:
  - short_server_id: 3
    uri: coaps://lwm2m.example.com
    security: {mode: psk, psk_identity: id-1, psk_key: 000102030405060708090a0b0c0d0e0f}
    lifetime: 1h
    binding: UQS
    notification_storing: false
    default_pmin: 10s
    sms:
      number: "+33600000002"
      security_mode: dtls
      psk_identity: sms-id
      psk_key: 0f0e0d0c0b0a09080706050403020100
bootstrap:
  uri: coap://bs.example.com
  hold_off: 30s
`)
	f, err := daemon.Factory(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if f.Bootstrap == nil || f.Bootstrap.URI != "coap://bs.example.com" || f.Bootstrap.HoldOff != 30*time.Second || f.Bootstrap.Security.Mode != objects.SecurityModeNoSec {
		t.Errorf("bootstrap %+v", f.Bootstrap)
	}
	if len(f.Servers) != 1 {
		t.Fatalf("servers %+v", f.Servers)
	}
	s := f.Servers[0]
	if s.ShortServerID != 3 || s.Lifetime != time.Hour || s.Binding != "UQS" || s.NotificationStoring || s.DefaultPmin != 10*time.Second {
		t.Errorf("server %+v", s)
	}
	if s.Security.Mode != objects.SecurityModePSK || s.Security.PSKIdentity != "id-1" || s.Security.PSK.Len() != 16 {
		t.Errorf("security %+v", s.Security)
	}
	if s.SMS == nil || s.SMS.SecurityMode != objects.SMSModeDTLS || string(s.SMS.KeyParameters) != "sms-id" || s.SMS.SecretKey.Len() != 16 {
		t.Errorf("sms %+v", s.SMS)
	}
	d, err := daemon.New(cfg, daemon.Options{Logger: slog.New(slog.DiscardHandler), StateDir: t.TempDir()})
	if err != nil {
		t.Fatalf("New with a modem: %v", err)
	}
	if _, ok := d.SMSStats(); !ok || d.Modem() == nil {
		t.Errorf("no SMS binding for a server with sms:")
	}
}

// The daemon registers with the configured server and de-registers when
// its context ends; the stored state makes the second start keep a
// lifetime the server wrote.
func TestDaemonRunAndStoredState(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := server.Start(server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	events := srv.Subscribe()
	cfg := parse(t, "endpoint: gw-test\nmodem: none\nservers:\n  - short_server_id: 1\n    uri: "+srv.URI()+"\n    lifetime: 300s\n")
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	next := func(k server.EventKind) server.Event {
		t.Helper()
		return nextEvent(t, ctx, events, k)
	}
	for round, wantLT := range []string{"300", "77"} {
		d, err := daemon.New(cfg, daemon.Options{StateDir: dir, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		rctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- d.Run(rctx) }()
		if reg := next(server.Registered); reg.Query["lt"] != wantLT {
			t.Errorf("round %d: lt=%s, want %s", round, reg.Query["lt"], wantLT)
		}
		if round == 0 {
			if resp, err := srv.Client("gw-test").Write(ctx, "/1/0/1", 0, []byte("77"), false); err != nil || resp.Code.String() != "Changed" {
				t.Fatalf("write lifetime: %v %v", resp.Code, err)
			}
			next(server.Updated)
		}
		stop()
		next(server.Deregistered)
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
}

// The SMS server table comes from the Security instances: mode 1 takes its
// PSK from resources 7/8 (psk_source sms) or 3/5 (psk_source udp); servers
// without an SMS number and mode are left out.
func TestSMSServersFromSecurityObjects(t *testing.T) {
	cfg := parse(t, `endpoint: gw
modem:
  port: /dev/ttyUSB2
servers:
  - short_server_id: 1
    uri: coaps://a.example.com
    security: {mode: psk, psk_identity: udp-id, psk_key: 000102030405060708090a0b0c0d0e0f}
    binding: UQS
    sms: {number: "+33600000002", security_mode: dtls, psk_source: udp}
  - short_server_id: 2
    uri: coap://b.example.com
    binding: US
    sms: {number: "+33600000001", security_mode: nosec}
  - short_server_id: 3
    uri: coap://c.example.com
    binding: U
  - short_server_id: 4
    uri: coap://d.example.com
    binding: UQS
    sms:
      number: "+33600000004"
      security_mode: dtls
      psk_identity: sms-id
      psk_key: 0f0e0d0c0b0a09080706050403020100
`)
	f, err := daemon.Factory(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := objects.New(objects.Config{Factory: f})
	if err != nil {
		t.Fatal(err)
	}
	servers, err := daemon.SMSServers(tree.Servers())
	if err != nil {
		t.Fatal(err)
	}
	if len(servers) != 3 {
		t.Fatalf("servers %+v", servers)
	}
	want := []struct {
		id     int
		number string
		mode   smsbind.Mode
		pskID  string
		pskLen int
	}{
		{1, "+33600000002", smsbind.ModeDTLS, "udp-id", 16},
		{2, "+33600000001", smsbind.ModeNoSec, "", 0},
		{4, "+33600000004", smsbind.ModeDTLS, "sms-id", 16},
	}
	for i, w := range want {
		s := servers[i]
		if s.ID != w.id || s.Number != w.number || s.Mode != w.mode || string(s.PSKIdentity) != w.pskID || len(s.PSK) != w.pskLen {
			t.Errorf("server %d: %+v, want %+v", i, s, w)
		}
	}
	if servers[2].PSK[0] != 0x0f || servers[0].PSK[0] != 0x00 {
		t.Error("PSKs taken from the wrong resources")
	}
}
