package lwm2m_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/server"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/lwm2m"
	"github.com/plgd-dev/go-coap/v3/message/codes"
)

const (
	testPSKID  = "lwm2m-clientd-test"
	testPSKKey = "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
)

type rig struct {
	srv    *server.Server
	events <-chan server.Event
	tree   *fakeTree
	eng    *lwm2m.Engine
	cancel context.CancelFunc
	done   chan error
}

// startRig starts an emulated server (DTLS PSK when secure), a fake tree
// pointing at it, and the engine.
func startRig(t *testing.T, secure bool, lifetime int, binding string, cfg lwm2m.Config, opts ...lwm2m.Option) *rig {
	t.Helper()
	scfg := server.Config{Log: testLogger(t)}
	if secure {
		scfg.PSK = map[string][]byte{testPSKID: []byte(testPSKKey)}
	}
	srv, err := server.Start(scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	tree := newFakeTree(time.Now)
	tree.addDevice()
	id, key := "", ""
	if secure {
		id, key = testPSKID, testPSKKey
	}
	tree.addServer(0, 101, srv.URI(), lifetime, binding, id, key)
	if cfg.Endpoint == "" {
		cfg.Endpoint = "lwm2m-clientd-test"
	}
	if cfg.AckTimeout == 0 {
		cfg.AckTimeout = 200 * time.Millisecond
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 3 * time.Second
	}
	if cfg.RetryInitial == 0 {
		cfg.RetryInitial = 50 * time.Millisecond
	}
	eng, err := lwm2m.New(cfg, tree, testLogger(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{srv: srv, events: srv.Subscribe(), tree: tree, eng: eng, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- eng.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *rig) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("engine Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("engine did not stop")
	}
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestEndToEnd(t *testing.T) {
	for _, secure := range []bool{false, true} {
		name := "udp"
		if secure {
			name = "dtls-psk"
		}
		t.Run(name, func(t *testing.T) {
			checkLeaks(t)
			ctx := testCtx(t, 60*time.Second)
			r := startRig(t, secure, 300, "U", lwm2m.Config{})
			reg := waitEvent(t, ctx, r.events, kind(server.Registered))
			if reg.Endpoint != "lwm2m-clientd-test" || reg.Query["lt"] != "300" || reg.Query["lwm2m"] != "1.0" || reg.Query["b"] != "U" {
				t.Errorf("register query = %v", reg.Query)
			}
			if _, ok := reg.Query["sms"]; ok {
				t.Errorf("sms= sent for binding U: %v", reg.Query)
			}
			if reg.Links != "</1/0>,</3/0>" {
				t.Errorf("register links = %q, want </1/0>,</3/0> (never /0)", reg.Links)
			}
			c := r.srv.Client("lwm2m-clientd-test")
			eventually(t, ctx, "engine reports registered", func() bool {
				st := r.eng.State()
				return len(st) == 1 && st[0].Registered && st[0].Location == reg.Location
			})

			t.Run("read TLV", func(t *testing.T) {
				resp, err := c.Read(ctx, "/3/0", int(lwm2m.FormatTLV))
				if err != nil {
					t.Fatal(err)
				}
				if resp.Code != codes.Content || resp.Format != int(lwm2m.FormatTLV) {
					t.Fatalf("code %v format %d", resp.Code, resp.Format)
				}
				// C8 00 14 "Open Mobile Alliance" (LwM2M-TS 1.0 §6.4.3.1 example).
				want := append([]byte{0xC8, 0x00, 0x14}, "Open Mobile Alliance"...)
				if !strings.HasPrefix(string(resp.Payload), string(want)) {
					t.Errorf("TLV = % X", resp.Payload)
				}
			})
			t.Run("read JSON", func(t *testing.T) {
				resp, err := c.Read(ctx, "/3/0", int(lwm2m.FormatJSON))
				if err != nil {
					t.Fatal(err)
				}
				var doc struct {
					BN string `json:"bn"`
				}
				if resp.Code != codes.Content || resp.Format != int(lwm2m.FormatJSON) || json.Unmarshal(resp.Payload, &doc) != nil || doc.BN != "/3/0/" {
					t.Fatalf("code %v format %d payload %s", resp.Code, resp.Format, resp.Payload)
				}
			})
			t.Run("read unsupported format", func(t *testing.T) {
				resp, err := c.Read(ctx, "/3/0", 9999)
				if err != nil || resp.Code != codes.NotAcceptable {
					t.Fatalf("resp %v err %v, want 4.06", resp.Code, err)
				}
			})
			t.Run("security object invisible", func(t *testing.T) {
				resp, err := c.Read(ctx, "/0/0", -1)
				if err != nil || resp.Code != codes.Unauthorized {
					t.Fatalf("resp %v err %v", resp.Code, err)
				}
			})
			t.Run("bad path", func(t *testing.T) {
				resp, err := c.Read(ctx, "/x/y", -1)
				if err != nil || resp.Code != codes.NotFound {
					t.Fatalf("resp %v err %v", resp.Code, err)
				}
			})
			t.Run("panic becomes 5.00", func(t *testing.T) {
				resp, err := c.Execute(ctx, "/3/0/99", "")
				if err != nil || resp.Code != codes.InternalServerError {
					t.Fatalf("resp %v err %v", resp.Code, err)
				}
			})
			t.Run("discover", func(t *testing.T) {
				resp, err := c.Discover(ctx, "/3/0")
				if err != nil || resp.Code != codes.Content || resp.Format != 40 || !strings.Contains(string(resp.Payload), "</3/0/0>") {
					t.Fatalf("resp %v %d %s err %v", resp.Code, resp.Format, resp.Payload, err)
				}
			})
			t.Run("write lifetime then update carries lt", func(t *testing.T) {
				resp, err := c.Write(ctx, "/1/0/1", int(lwm2m.FormatText), []byte("120"), false)
				if err != nil || resp.Code != codes.Changed {
					t.Fatalf("write: %v %v", resp.Code, err)
				}
				up := waitEvent(t, ctx, r.events, kind(server.Updated))
				if up.Query["lt"] != "120" || up.Location != reg.Location {
					t.Errorf("update = %+v, want lt=120", up)
				}
			})
			t.Run("execute trigger gives update within a second", func(t *testing.T) {
				start := time.Now()
				resp, err := c.Execute(ctx, "/1/0/8", "")
				if err != nil || resp.Code != codes.Changed {
					t.Fatalf("execute: %v %v", resp.Code, err)
				}
				tctx, cancel := context.WithTimeout(ctx, time.Second)
				defer cancel()
				up := waitEvent(t, tctx, r.events, kind(server.Updated))
				if len(up.Query) != 0 {
					t.Errorf("update after trigger has parameters %v, want none (nothing changed)", up.Query)
				}
				t.Logf("trigger → update in %v", time.Since(start))
			})
			t.Run("observe and cancel", func(t *testing.T) {
				if resp, err := c.WriteAttributes(ctx, "/3/0/13", "pmin=1", "pmax=1"); err != nil || resp.Code != codes.Changed {
					t.Fatalf("write-attributes: %v %v", resp.Code, err)
				}
				for _, byReset := range []bool{false, true} {
					o, err := c.Observe(ctx, "/3/0/13", -1)
					if err != nil {
						t.Fatal(err)
					}
					var last uint32
					for i := 0; i < 2; i++ {
						select {
						case n := <-o.C():
							if n.Seq <= last && i > 0 {
								t.Errorf("observe sequence not increasing: %d after %d", n.Seq, last)
							}
							last = n.Seq
							if _, err := strconv.ParseInt(string(n.Payload), 10, 64); err != nil {
								t.Errorf("notification payload %q", n.Payload)
							}
						case <-ctx.Done():
							t.Fatal("no notification")
						}
					}
					eventually(t, ctx, "one observation", func() bool { return r.eng.State()[0].Observing == 1 })
					if byReset {
						o.CancelByReset()
					} else if resp, err := o.Cancel(ctx); err != nil || resp.Code != codes.Content || resp.Observe != nil {
						t.Fatalf("cancel: %+v %v", resp, err)
					}
					eventually(t, ctx, "observation cancelled", func() bool { return r.eng.State()[0].Observing == 0 })
				}
			})
			t.Run("create and delete", func(t *testing.T) {
				resp, err := c.Create(ctx, "/1024", int(lwm2m.FormatText), []byte("x"))
				if err != nil || resp.Code != codes.Created || resp.Location != "/1024/0" {
					t.Fatalf("create: %+v %v", resp, err)
				}
				up := waitEvent(t, ctx, r.events, kind(server.Updated))
				if !strings.Contains(up.Links, "</1024/0>") {
					t.Errorf("update after create: links %q", up.Links)
				}
				if resp, err := c.Delete(ctx, "/1024/0"); err != nil || resp.Code != codes.Deleted {
					t.Fatalf("delete: %+v %v", resp, err)
				}
				if resp, err := c.Delete(ctx, "/3/0"); err != nil || resp.Code != codes.MethodNotAllowed {
					t.Fatalf("delete /3/0: %+v %v", resp, err)
				}
				if resp, err := c.Create(ctx, "/3", int(lwm2m.FormatText), []byte("x")); err != nil || resp.Code != codes.MethodNotAllowed {
					t.Fatalf("create /3: %+v %v", resp, err)
				}
			})
			r.stop(t)
			waitEvent(t, ctx, r.events, kind(server.Deregistered))
		})
	}
}
