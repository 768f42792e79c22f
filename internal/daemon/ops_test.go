package daemon_test

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/control"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/daemon"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/server"
)

// Under systemd the daemon says READY=1, keeps STATUS= current and says
// STOPPING=1 on shutdown; `status` reaches it over the control socket.
func TestSystemdNotifyAndControlSocket(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	nsock := filepath.Join(dir, "notify")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: nsock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	t.Setenv("NOTIFY_SOCKET", nsock)
	srv, err := server.Start(server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	events := srv.Subscribe()
	cfg := parse(t, "endpoint: gw-ops\nmodem: none\nservers:\n  - short_server_id: 1\n    uri: "+srv.URI()+"\n    lifetime: 300s\n")
	ctl := filepath.Join(dir, "run", "control.sock")
	d, err := daemon.New(cfg, daemon.Options{StateDir: filepath.Join(dir, "state"), Logger: slog.New(slog.DiscardHandler), ControlSocket: ctl, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(rctx) }()

	// expect reads notifications until one has the prefix want.
	expect := func(want string) string {
		t.Helper()
		dl, _ := ctx.Deadline()
		_ = nc.SetReadDeadline(dl)
		buf := make([]byte, 4096)
		for {
			n, err := nc.Read(buf)
			if err != nil {
				t.Fatalf("no %q notification: %v", want, err)
			}
			if msg := string(buf[:n]); strings.HasPrefix(msg, want) {
				return msg
			}
		}
	}
	expect("READY=1")
	for {
		select {
		case ev := <-events:
			if ev.Kind != server.Registered {
				continue
			}
		case <-ctx.Done():
			t.Fatal("not registered")
		}
		break
	}
	if msg := expect("STATUS=1/1 servers registered"); strings.Contains(msg, "\n") {
		t.Errorf("STATUS is not one line: %q", msg)
	}
	st, err := control.Fetch(ctx, ctl)
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != "test" || len(st.Servers) != 1 || !st.Servers[0].Registered || st.Servers[0].Registration != "registered" || st.Modem != nil || st.SIM != nil {
		t.Errorf("status %+v", st)
	}
	stop()
	expect("STOPPING=1")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := control.Fetch(ctx, ctl); err == nil {
		t.Error("the control socket answers after Run returned")
	}
}
