package lwm2m_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/server"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/lwm2m"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/objects"
	"github.com/plgd-dev/go-coap/v3/message/codes"
)

// startRealTree runs the engine over the real object model (in memory)
// against an emulated server, the way the daemon wires them.
func startRealTree(t *testing.T, secure bool) (*server.Server, <-chan server.Event, *lwm2m.Engine) {
	t.Helper()
	scfg := server.Config{Log: testLogger(t)}
	sec := objects.FactorySecurity{Mode: objects.SecurityModeNoSec}
	if secure {
		scfg.PSK = map[string][]byte{testPSKID: []byte(testPSKKey)}
		sec = objects.FactorySecurity{Mode: objects.SecurityModePSK, PSKIdentity: testPSKID, PSK: objects.NewSecret([]byte(testPSKKey))}
	}
	srv, err := server.Start(scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	var eng *lwm2m.Engine
	tree, err := objects.New(objects.Config{
		Logger: testLogger(t),
		Options: objects.Options{Device: objects.DeviceInfo{Manufacturer: "Open Mobile Alliance",
			Model: "Lightweight M2M Client", Serial: "345000123", Firmware: "1.0"}},
		Factory: objects.Factory{Servers: []objects.FactoryServer{{
			ShortServerID: 1, URI: srv.URI(), Security: sec, Lifetime: 300 * time.Second,
			Binding: "U", NotificationStoring: true,
		}}},
		Hooks: objects.Hooks{
			RegistrationUpdateTrigger: func(uint16) {},
			Disable:                   func(uint16, time.Duration) {},
			OnChange: func(ch []objects.Change) {
				for _, c := range ch {
					if p, err := lwm2m.ParsePath(c.Path.String()); err == nil && eng != nil {
						eng.Changed(p)
					}
				}
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	eng, err = lwm2m.New(lwm2m.Config{Endpoint: "lwm2m-clientd-test", AckTimeout: 200 * time.Millisecond}, lwm2m.TreeObjects(tree), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	events := srv.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = eng.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("engine did not stop")
		}
	})
	return srv, events, eng
}

func TestRealObjectTree(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "udp", true: "dtls-psk"}[secure], func(t *testing.T) {
			checkLeaks(t)
			ctx := testCtx(t, 30*time.Second)
			srv, events, eng := startRealTree(t, secure)
			reg := waitEvent(t, ctx, events, kind(server.Registered))
			if bytes.Contains([]byte(reg.Links), []byte("</0")) {
				t.Errorf("registration lists the Security object: %s", reg.Links)
			}
			c := srv.Client("lwm2m-clientd-test")
			resp, err := c.Read(ctx, "/3/0", int(lwm2m.FormatTLV))
			// C8 00 14 "Open Mobile Alliance": resource 0 as in the TLV example of
			// LwM2M-TS 1.0 §6.4.3.1.
			want := append([]byte{0xC8, 0x00, 0x14}, "Open Mobile Alliance"...)
			if err != nil || resp.Code != codes.Content || resp.Format != 11542 || !bytes.HasPrefix(resp.Payload, want) {
				t.Fatalf("read /3/0 TLV: %v %d % X %v", resp.Code, resp.Format, resp.Payload, err)
			}
			resp, err = c.Read(ctx, "/3/0", int(lwm2m.FormatJSON))
			var doc struct {
				BN string            `json:"bn"`
				E  []json.RawMessage `json:"e"`
			}
			if err != nil || resp.Code != codes.Content || resp.Format != 11543 || json.Unmarshal(resp.Payload, &doc) != nil || len(doc.E) == 0 {
				t.Fatalf("read /3/0 JSON: %v %d %s %v", resp.Code, resp.Format, resp.Payload, err)
			}
			if resp, err := c.Read(ctx, "/0/0", -1); err != nil || resp.Code.String() == "Content" {
				t.Errorf("DM read of /0/0 answered %v %v", resp.Code, err)
			}
			if resp, err := c.Write(ctx, "/1/0/1", 0, []byte("150"), false); err != nil || resp.Code != codes.Changed {
				t.Fatalf("write lifetime: %v %v", resp.Code, err)
			}
			if up := waitEvent(t, ctx, events, kind(server.Updated)); up.Query["lt"] != "150" {
				t.Errorf("update after lifetime write: %v", up.Query)
			}
			start := time.Now()
			if resp, err := c.Execute(ctx, "/1/0/8", ""); err != nil || resp.Code != codes.Changed {
				t.Fatalf("execute /1/0/8: %v %v", resp.Code, err)
			}
			tctx, cancel := context.WithTimeout(ctx, time.Second)
			waitEvent(t, tctx, events, kind(server.Updated))
			cancel()
			t.Logf("trigger → update %v", time.Since(start))
			if resp, err := c.WriteAttributes(ctx, "/3/0/13", "pmin=1", "pmax=1"); err != nil || resp.Code != codes.Changed {
				t.Fatalf("write-attributes: %v %v", resp.Code, err)
			}
			o, err := c.Observe(ctx, "/3/0/13", -1)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				select {
				case n := <-o.C():
					if len(n.Payload) == 0 {
						t.Errorf("empty notification")
					}
				case <-ctx.Done():
					t.Fatal("no notification")
				}
			}
			o.CancelByReset()
			eventually(t, ctx, "observation cancelled by RST", func() bool { return eng.State()[0].Observing == 0 })
			_ = eng
		})
	}
}
