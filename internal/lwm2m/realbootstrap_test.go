package lwm2m_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/server"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/lwm2m"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/objects"
	"github.com/plgd-dev/go-coap/v3/message/codes"
)

func res(id uint16, v []byte) objects.TLV {
	return objects.TLV{Kind: objects.TLVResource, ID: id, Value: v}
}

// Bootstrap with the real object tree: the bootstrap server deletes
// everything, writes a Security and a Server instance in TLV, and finishes;
// the client then registers with the server it was given.
func TestRealTreeBootstrap(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t, 30*time.Second)
	dm, err := server.Start(server.Config{Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer dm.Close()
	dmEv := dm.Subscribe()
	script := func(ctx context.Context, c *server.Client) error {
		if resp, err := c.Delete(ctx, "/"); err != nil || resp.Code != codes.Deleted {
			return fmt.Errorf("delete /: %v %v", resp.Code, err)
		}
		sec, _ := objects.TLVs{res(0, []byte(dm.URI())), res(1, []byte{0}), res(2, []byte{3}), res(10, []byte{0x00, 0xCA})}.Append(nil)
		srv, _ := objects.TLVs{res(0, []byte{0x00, 0xCA}), res(1, []byte{90}), res(6, []byte{1}), res(7, []byte("U"))}.Append(nil)
		for _, w := range []struct {
			path string
			body []byte
		}{{"/0/1", sec}, {"/1/0", srv}} {
			if resp, err := c.Write(ctx, w.path, int(lwm2m.FormatTLV), w.body, false); err != nil || resp.Code != codes.Changed {
				return fmt.Errorf("write %s: %v %v", w.path, resp.Code, err)
			}
		}
		if resp, err := c.Discover(ctx, "/"); err != nil || resp.Code != codes.Content {
			return fmt.Errorf("discover: %v %v", resp.Code, err)
		}
		if resp, err := c.BootstrapFinish(ctx); err != nil || resp.Code != codes.Changed {
			return fmt.Errorf("finish: %v %v", resp.Code, err)
		}
		return nil
	}
	bs, err := server.Start(server.Config{Log: testLogger(t), Bootstrap: script})
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	bsEv := bs.Subscribe()
	tree, err := objects.New(objects.Config{Logger: testLogger(t), Factory: objects.Factory{
		Bootstrap: &objects.FactoryBootstrap{URI: bs.URI(), Security: objects.FactorySecurity{Mode: objects.SecurityModeNoSec}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := lwm2m.New(lwm2m.Config{Endpoint: "real-bs", AckTimeout: 200 * time.Millisecond}, lwm2m.TreeObjects(tree), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ectx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = eng.Run(ectx) }()
	defer func() { cancel(); <-done }()
	if ev := waitEvent(t, ctx, bsEv, kind(server.BootstrapDone)); ev.Err != nil {
		t.Fatalf("bootstrap script: %v", ev.Err)
	}
	reg := waitEvent(t, ctx, dmEv, kind(server.Registered))
	if reg.Endpoint != "real-bs" || reg.Query["lt"] != "90" {
		t.Errorf("register after bootstrap: %+v", reg.Query)
	}
	if accs := tree.Servers(); len(accs) != 1 || accs[0].ShortServerID != 202 {
		t.Errorf("servers after bootstrap: %+v", accs)
	}
}
