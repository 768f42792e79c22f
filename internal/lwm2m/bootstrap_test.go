package lwm2m_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/server"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/lwm2m"
	"github.com/plgd-dev/go-coap/v3/message/codes"
)

// provision is a bootstrap script writing one DM server account.
func provision(dmURI string, finish bool) func(ctx context.Context, c *server.Client) error {
	return func(ctx context.Context, c *server.Client) error {
		writes := [][2]string{
			{"/0/1/0", dmURI}, {"/0/1/1", "0"}, {"/0/1/2", "3"}, {"/0/1/10", "202"},
			{"/1/1/0", "202"}, {"/1/1/1", "90"}, {"/1/1/6", "1"}, {"/1/1/7", "U"},
		}
		if resp, err := c.Discover(ctx, "/"); err != nil || resp.Code != codes.Content {
			return fmt.Errorf("discover: %v %v", resp.Code, err)
		}
		for _, w := range writes {
			resp, err := c.Write(ctx, w[0], int(lwm2m.FormatText), []byte(w[1]), false)
			if err != nil || resp.Code != codes.Changed {
				return fmt.Errorf("write %s: %v %v", w[0], resp.Code, err)
			}
		}
		if !finish {
			return errors.New("script ends without Bootstrap-Finish")
		}
		resp, err := c.BootstrapFinish(ctx)
		if err != nil {
			return err
		}
		if resp.Code != codes.Changed {
			return fmt.Errorf("bootstrap-finish: %v", resp.Code)
		}
		return nil
	}
}

type bsRig struct {
	dm, bs  *server.Server
	dmEv    <-chan server.Event
	bsEv    <-chan server.Event
	tree    *fakeTree
	eng     *lwm2m.Engine
	stopped chan struct{}
	cancel  context.CancelFunc
}

func startBootstrapRig(t *testing.T, finish, failFinish bool, cfg lwm2m.Config, tweak func(*fakeTree)) *bsRig {
	t.Helper()
	dm, err := server.Start(server.Config{Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dm.Close() })
	bs, err := server.Start(server.Config{Log: testLogger(t), Bootstrap: provision(dm.URI(), finish)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bs.Close() })
	tree := newFakeTree(time.Now)
	tree.addDevice()
	tree.addBootstrap(0, bs.URI())
	tree.failFinish = failFinish
	if tweak != nil {
		tweak(tree)
	}
	cfg.Endpoint = "bs-test"
	cfg.AckTimeout = 100 * time.Millisecond
	if cfg.RetryInitial == 0 {
		cfg.RetryInitial = time.Hour
	}
	eng, err := lwm2m.New(cfg, tree, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	r := &bsRig{dm: dm, bs: bs, dmEv: dm.Subscribe(), bsEv: bs.Subscribe(), tree: tree, eng: eng, stopped: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { defer close(r.stopped); _ = eng.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.stopped:
		case <-time.After(10 * time.Second):
			t.Error("engine did not stop")
		}
	})
	return r
}

func TestBootstrapThenRegister(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t, 20*time.Second)
	r := startBootstrapRig(t, true, false, lwm2m.Config{}, nil)
	ev := waitEvent(t, ctx, r.bsEv, kind(server.BootstrapAsked))
	if ev.Endpoint != "bs-test" {
		t.Errorf("bootstrap ep=%q", ev.Endpoint)
	}
	if done := waitEvent(t, ctx, r.bsEv, kind(server.BootstrapDone)); done.Err != nil {
		t.Fatalf("bootstrap script: %v", done.Err)
	}
	reg := waitEvent(t, ctx, r.dmEv, kind(server.Registered))
	if reg.Endpoint != "bs-test" || reg.Query["lt"] != "90" || reg.Query["b"] != "U" {
		t.Errorf("register after bootstrap: %+v", reg)
	}
	eventually(t, ctx, "registered with the bootstrapped server", func() bool {
		for _, s := range r.eng.State() {
			if s.ShortID == 202 && s.Registered {
				return true
			}
		}
		return false
	})
}

// A bootstrap that never finishes, or whose Finish is refused (4.06),
// leaves the old configuration untouched.
func TestFailedBootstrapKeepsOldState(t *testing.T) {
	for _, tc := range []struct {
		name               string
		finish, failFinish bool
	}{
		{name: "no finish", finish: false},
		{name: "finish refused", finish: true, failFinish: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			ctx := testCtx(t, 20*time.Second)
			r := startBootstrapRig(t, tc.finish, tc.failFinish, lwm2m.Config{BootstrapTimeout: 500 * time.Millisecond}, nil)
			waitEvent(t, ctx, r.bsEv, kind(server.BootstrapDone))
			eventually(t, ctx, "bootstrap reported failed", func() bool {
				for _, s := range r.eng.State() {
					if s.ShortID == 0 && s.State == "bootstrap failed" {
						return true
					}
				}
				return false
			})
			accs, _ := r.tree.Accounts()
			if len(accs) != 1 || !accs[0].Bootstrap {
				t.Errorf("accounts after a failed bootstrap: %+v", accs)
			}
			r.tree.mu.Lock()
			_, leaked := r.tree.res["/0/1/0"]
			staging := r.tree.staged != nil
			r.tree.mu.Unlock()
			if leaked || staging {
				t.Errorf("failed bootstrap changed the tree (written %v, staging left %v)", leaked, staging)
			}
		})
	}
}

// A DM server that keeps failing makes the client fall back to bootstrap,
// which provisions a working server.
func TestRegistrationFailureFallsBackToBootstrap(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t, 20*time.Second)
	r := startBootstrapRig(t, true, false, lwm2m.Config{RetryInitial: 10 * time.Millisecond, BootstrapAfter: 2, RequestTimeout: 300 * time.Millisecond},
		func(f *fakeTree) { f.addServer(1, 202, "coap://127.0.0.1:9", 90, "U", "", "") })
	waitEvent(t, ctx, r.bsEv, kind(server.BootstrapAsked))
	waitEvent(t, ctx, r.dmEv, kind(server.Registered))
}
