package lwm2m_test

import (
	"context"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/server"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/lwm2m"
)

// BenchmarkReadTLV is the hook for issue 10: one device-management Read of
// /3/0 in TLV, server → engine → server, over loopback UDP.
func BenchmarkReadTLV(b *testing.B) {
	srv, err := server.Start(server.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	events := srv.Subscribe()
	tree := newFakeTree(time.Now)
	tree.addDevice()
	tree.addServer(0, 1, srv.URI(), 300, "U", "", "")
	eng, err := lwm2m.New(lwm2m.Config{Endpoint: "bench"}, tree, testLogger(b))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); _ = eng.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for ev := range events {
		if ev.Kind == server.Registered {
			break
		}
	}
	c := srv.Client("bench")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Read(ctx, "/3/0", int(lwm2m.FormatTLV)); err != nil {
			b.Fatal(err)
		}
	}
}
