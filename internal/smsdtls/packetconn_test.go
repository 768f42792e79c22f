package smsdtls

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/dtls/v3/pkg/protocol"
	"github.com/pion/dtls/v3/pkg/protocol/recordlayer"
)

// recSender records what it is asked to send; it may fail or block.
type recSender struct {
	mu    sync.Mutex
	sent  [][]byte
	vps   []time.Duration
	err   error
	block bool
}

func (r *recSender) SendSMS(ctx context.Context, to string, ud []byte, vp time.Duration) error {
	r.mu.Lock()
	block, err := r.block, r.err
	r.mu.Unlock()
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, append([]byte(nil), ud...))
	r.vps = append(r.vps, vp)
	return nil
}

func appRecord(t testing.TB, size int) []byte {
	t.Helper()
	b, err := (&recordlayer.RecordLayer{
		Header:  recordlayer.Header{Version: protocol.Version1_2, Epoch: 1, SequenceNumber: 7},
		Content: &protocol.ApplicationData{Data: make([]byte, size)},
	}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPacketConnWrite(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload int
		sendErr error
		wantErr error
		sent    int
	}{
		{name: "fits", payload: MaxDatagram - RecordHeaderLen, sent: 1},
		{name: "one_octet_too_many", payload: MaxDatagram - RecordHeaderLen + 1, wantErr: ErrDatagramTooLarge},
		{name: "application_data_send_error", payload: 10, sendErr: errInjected, wantErr: errInjected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &recSender{err: tc.sendErr}
			c := NewPacketConn(serverNumber, s, 0, 0, nil)
			defer c.Close()
			n, err := c.WriteTo(appRecord(t, tc.payload), Addr(serverNumber))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("WriteTo: %d, %v; want %v", n, err, tc.wantErr)
			}
			if len(s.sent) != tc.sent {
				t.Fatalf("%d SMS sent, want %d", len(s.sent), tc.sent)
			}
			if tc.sent == 1 && (len(s.sent[0]) != MaxDatagram || s.vps[0] != DefaultRecordValidity) {
				t.Errorf("sent %d octets vp %v", len(s.sent[0]), s.vps[0])
			}
		})
	}
}

func TestPacketConnRefusesOtherAddressAndGarbage(t *testing.T) {
	s := &recSender{}
	c := NewPacketConn(serverNumber, s, 0, 0, nil)
	defer c.Close()
	if _, err := c.WriteTo(appRecord(t, 4), Addr("+4400000000")); err == nil {
		t.Error("write to another number accepted")
	}
	if _, err := c.WriteTo([]byte{1, 2, 3}, nil); err == nil {
		t.Error("write of a non-DTLS datagram accepted")
	}
	if len(s.sent) != 0 {
		t.Errorf("%d SMS sent", len(s.sent))
	}
}

func TestPacketConnDeliverAndRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := NewPacketConn(serverNumber, &recSender{}, 0, 0, nil)
		defer c.Close()
		in := []byte{22, 0xfe, 0xfd}
		c.Deliver(in)
		in[0] = 0 // Deliver copied
		c.Deliver(make([]byte, MaxDatagram+1))
		c.Deliver(nil)
		b := make([]byte, 256)
		n, addr, err := c.ReadFrom(b)
		if err != nil || !bytes.Equal(b[:n], []byte{22, 0xfe, 0xfd}) || addr.String() != serverNumber || addr.Network() != "sms" {
			t.Fatalf("ReadFrom %x %v %v", b[:n], addr, err)
		}
		if got := c.stats.inboundDropped.Load(); got != 2 {
			t.Errorf("dropped %d, want 2 (oversize and empty)", got)
		}
		for range inboundQueue + 3 {
			c.Deliver([]byte{1})
		}
		if got := c.stats.inboundDropped.Load(); got != 5 {
			t.Errorf("dropped %d with a full queue, want 5", got)
		}

		// Read deadline: a future one expires in (fake) time, a past one
		// wakes a blocked reader at once (pion's netctx sets one to cancel).
		for range inboundQueue {
			_, _, _ = c.ReadFrom(b)
		}
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		start := time.Now()
		if _, _, err := c.ReadFrom(b); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("ReadFrom past deadline: %v", err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("deadline after %v", d)
		}
		_ = c.SetReadDeadline(time.Time{})
		done := make(chan error)
		go func() { _, _, err := c.ReadFrom(b); done <- err }()
		synctest.Wait()
		_ = c.SetReadDeadline(time.Unix(1, 0))
		if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("blocked ReadFrom after past deadline: %v", err)
		}
		var ne net.Error
		if !errors.As(os.ErrDeadlineExceeded, &ne) || !ne.Timeout() {
			t.Error("deadline error is not a net timeout")
		}
	})
}

func TestPacketConnClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &recSender{block: true}
		c := NewPacketConn(serverNumber, s, 0, 0, nil)
		readErr := make(chan error)
		writeErr := make(chan error)
		go func() { _, _, err := c.ReadFrom(make([]byte, 10)); readErr <- err }()
		go func() { _, err := c.WriteTo(appRecord(t, 3), nil); writeErr <- err }()
		synctest.Wait()
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal("second Close:", err)
		}
		if err := <-readErr; !errors.Is(err, net.ErrClosed) {
			t.Errorf("ReadFrom after Close: %v", err)
		}
		if err := <-writeErr; !errors.Is(err, net.ErrClosed) {
			t.Errorf("blocked WriteTo after Close: %v", err)
		}
		if _, err := c.WriteTo(appRecord(t, 3), nil); !errors.Is(err, net.ErrClosed) {
			t.Errorf("WriteTo after Close: %v", err)
		}
	})
}

func TestPacketConnWriteDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &recSender{block: true}
		c := NewPacketConn(serverNumber, s, 0, 0, nil)
		defer c.Close()
		done := make(chan error)
		go func() { _, err := c.WriteTo(appRecord(t, 3), nil); done <- err }()
		synctest.Wait()
		_ = c.SetWriteDeadline(time.Unix(1, 0))
		if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("blocked send after past write deadline: %v", err)
		}
	})
}

// TestNoGoroutineLeak runs a handshake, restart and re-handshake in real time
// (no synctest bubble, which checks this by itself) and compares goroutine
// counts after Close with a bounded wait.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	func() {
		w := newWorld(t, true, testConfig())
		defer w.close()
		if err := w.handshake(ctx); err != nil {
			t.Fatal(err)
		}
		w.pingPong(ctx, "leak")
		w.restartClient(testConfig())
		w.pingPong(ctx, "leak restored")
	}()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

// TestPacketConnJoinsFinished: a datagram ending in ChangeCipherSpec waits
// for the Finished that follows and shares its SMS when both fit; otherwise
// both go as they came.
func TestPacketConnJoinsFinished(t *testing.T) {
	ccs, _ := (&recordlayer.RecordLayer{
		Header:  recordlayer.Header{Version: protocol.Version1_2},
		Content: &protocol.ChangeCipherSpec{},
	}).Marshal()
	fin := func(size int) []byte {
		b := appRecord(t, size)
		b[0] = byte(protocol.ContentTypeHandshake)
		return b
	}
	for _, tc := range []struct {
		name  string
		next  []byte
		sizes []int
	}{
		{name: "finished_fits", next: fin(40), sizes: []int{14 + 53}},
		{name: "finished_too_big", next: fin(MaxDatagram - 13 - 13), sizes: []int{14, MaxDatagram - 13}},
		{name: "not_finished", next: appRecord(t, 10), sizes: []int{14, 23}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &recSender{}
			c := NewPacketConn(serverNumber, s, 0, 0, nil)
			defer c.Close()
			if n, err := c.WriteTo(ccs, nil); err != nil || n != len(ccs) {
				t.Fatalf("WriteTo(CCS) = %d, %v", n, err)
			}
			if len(s.sent) != 0 {
				t.Fatal("ChangeCipherSpec sent before its Finished")
			}
			if n, err := c.WriteTo(tc.next, nil); err != nil || n != len(tc.next) {
				t.Fatalf("WriteTo(next) = %d, %v; want %d", n, err, len(tc.next))
			}
			var sizes []int
			for _, b := range s.sent {
				sizes = append(sizes, len(b))
			}
			if !slices.Equal(sizes, tc.sizes) {
				t.Errorf("sent %v, want %v", sizes, tc.sizes)
			}
		})
	}
}
