package smsdtls

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/dtls/v3/pkg/protocol"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
	"github.com/pion/dtls/v3/pkg/protocol/recordlayer"
)

// inWorld runs body in a synctest bubble with a one-hour (fake time)
// deadline and a world (newWorld(t, hvr, cfg)) that is closed after it.
func inWorld(t *testing.T, hvr bool, cfg Config, body func(t *testing.T, ctx context.Context, w *world)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		w := newWorld(t, hvr, cfg)
		defer w.close()
		body(t, ctx, w)
	})
}

// established is inWorld with the session's first handshake done before
// body runs.
func established(t *testing.T, hvr bool, cfg Config, body func(t *testing.T, ctx context.Context, w *world)) {
	t.Helper()
	inWorld(t, hvr, cfg, func(t *testing.T, ctx context.Context, w *world) {
		if err := w.handshake(ctx); err != nil {
			t.Fatal(err)
		}
		body(t, ctx, w)
	})
}

// renewBy replaces the server with a fresh one (HelloVerifyRequest if
// hvr), delivers trigger to the session and checks that it starts a new
// handshake the server completes, that records flow after it, and that
// the session counted want handshakes in all.
func (w *world) renewBy(ctx context.Context, hvr bool, trigger []byte, tag string, want uint64) {
	w.t.Helper()
	w.srv.close()
	w.srv = newServer(w.t, w.net, hvr)
	srv := w.serverHandshake(ctx)
	w.sess.Deliver(trigger)
	if err := <-srv; err != nil {
		w.t.Fatalf("%s: re-handshake: %v", tag, err)
	}
	w.pingPong(ctx, tag)
	if st := w.sess.Stats(); st.Handshakes != want {
		w.t.Errorf("%s: Handshakes = %d, want %d", tag, st.Handshakes, want)
	}
}

// TestRestartCostsNoHandshake: a daemon restart restores the stored session:
// application data flows both ways with zero handshake SMS, and no record
// sequence number is ever sent twice (issue 8).
func TestRestartCostsNoHandshake(t *testing.T) {
	established(t, true, testConfig(), func(t *testing.T, ctx context.Context, w *world) {
		w.pingPong(ctx, "first process")
		hs := handshakeSMS(w.net.messages())
		if hs != 6 {
			t.Fatalf("handshake SMS = %d", hs)
		}

		for restart := 1; restart <= 3; restart++ {
			before := len(w.net.messages())
			w.restartClient(testConfig())
			if n := len(w.net.messages()) - before; n != 0 {
				t.Fatalf("restart %d: closing the old session sent %d SMS (close_notify?)", restart, n)
			}
			if restart == 2 {
				// The server speaks first: the SMS itself restores the session.
				if _, err := w.srv.conn.Write([]byte("trigger")); err != nil {
					t.Fatal(err)
				}
				b := make([]byte, MaxPlaintext)
				k, err := w.sess.Read(ctx, b)
				if err != nil || string(b[:k]) != "trigger" {
					t.Fatalf("read after restart: %q %v", b[:k], err)
				}
			}
			w.pingPong(ctx, "restart")
			msgs := w.net.messages()
			if got := handshakeSMS(msgs); got != hs {
				t.Errorf("restart %d cost %d handshake SMS", restart, got-hs)
			}
			if st := w.sess.Stats(); st.Restores != 1 || st.Handshakes != 0 {
				t.Errorf("restart %d: stats %+v", restart, st)
			}
		}
		checkUniqueSeqs(t, w.net.messages())
		for _, k := range clientRecords(t, w.net.messages()) {
			t.Logf("client record epoch %d seq %d", k[0], k[1])
		}
	})
}

// TestRestoreSameSnapshotTwiceRefused: a snapshot restored once is never
// restored again, even if the store hands it back (a rolled-back file); a
// full handshake runs instead.
func TestRestoreSameSnapshotTwiceRefused(t *testing.T) {
	established(t, false, testConfig(), func(t *testing.T, ctx context.Context, w *world) {
		old, _ := w.store.Load(serverNumber)

		w.reopen(testConfig())
		if err := w.sess.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if st := w.sess.Stats(); st.Restores != 1 {
			t.Fatalf("first restore: %+v", st)
		}
		w.pingPong(ctx, "restored")
		if now, _ := w.store.Load(serverNumber); string(now) == string(old) {
			t.Fatal("restoring did not replace the stored snapshot")
		}

		// The store rolls back to the snapshot already restored.
		w.store.put(serverNumber, old)
		w.reopen(testConfig())
		w.srv.close()
		w.srv = newServer(t, w.net, false) // the server takes the new handshake
		if err := w.handshake(ctx); err != nil {
			t.Fatal(err)
		}
		st := w.sess.Stats()
		if st.Restores != 0 || st.SnapshotsRefused != 1 || st.Handshakes != 1 {
			t.Errorf("second restore of the same snapshot: %+v", st)
		}
		if !strings.Contains(w.logBuf.String(), ErrSnapshotReused.Error()) {
			t.Error("refusal not logged")
		}
		w.pingPong(ctx, "after refusal")
		checkUniqueSeqsPerKey(t, w)
	})
}

// checkUniqueSeqsPerKey: after a new handshake sequence numbers restart under
// new keys; within each association none repeats.
func checkUniqueSeqsPerKey(t *testing.T, w *world) {
	t.Helper()
	var cur []sms
	for _, m := range w.net.messages() {
		recs, _ := splitRecords(m.ud)
		if m.toServer && len(recs) > 0 && recs[0].hasHandshake && recs[0].hsSeq == 0 && recs[0].seq == 0 {
			checkUniqueSeqs(t, cur) // a new first ClientHello: new association
			cur = nil
		}
		cur = append(cur, m)
	}
	checkUniqueSeqs(t, cur)
}

// TestSequenceReservation: records beyond the stored reservation wait for a
// new snapshot; if the store fails the record is not sent; a restart
// continues above everything reserved.
func TestSequenceReservation(t *testing.T) {
	cfg := testConfig()
	cfg.SequenceReservation = 3
	established(t, false, cfg, func(t *testing.T, ctx context.Context, w *world) {
		saves := w.store.saves // delete of the old + first snapshot
		for i := range 8 {
			if err := w.sess.Write(ctx, []byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
			if _, err := w.srv.read(t, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		// Finished used seq 0; the first snapshot reserves 1..3; record 4
		// reserves 4..7 and record 8 reserves 8..11.
		recs := clientRecords(t, w.net.messages())
		last := recs[len(recs)-1][1]
		snap, err := unmarshalSnapshot(mustLoad(t, w.store))
		if err != nil {
			t.Fatal(err)
		}
		if snap.next <= last {
			t.Errorf("stored reservation %d does not cover the last sequence number sent %d", snap.next, last)
		}
		if w.store.saves-saves != 4 || snap.next != 12 { // two reservations, each saved twice
			t.Errorf("%d reservations saved for 8 records with blocks of 3, next %d", w.store.saves-saves, snap.next)
		}
		t.Logf("last seq %d, stored next %d, %d store writes for 8 records", last, snap.next, w.store.saves-saves)

		// The store fails: the record that needs a new reservation is not sent.
		w.store.mu.Lock()
		w.store.fail = errors.New("disk full")
		w.store.mu.Unlock()
		sent := len(w.net.messages())
		var werr error
		for i := 0; i < 4 && werr == nil; i++ {
			werr = w.sess.Write(ctx, []byte("x"))
			if werr == nil {
				if _, err := w.srv.read(t, time.Minute); err != nil {
					t.Fatal(err)
				}
			}
		}
		if werr == nil {
			t.Fatal("records beyond the reservation were sent without a saved snapshot")
		}
		for _, k := range clientRecords(t, w.net.messages()[sent:]) {
			if k[1] >= snap.next {
				t.Errorf("seq %d sent beyond the stored reservation %d", k[1], snap.next)
			}
		}
		w.store.mu.Lock()
		w.store.fail = nil
		w.store.mu.Unlock()

		w.restartClient(cfg)
		w.pingPong(ctx, "after restart")
		after := clientRecords(t, w.net.messages())
		if first := after[len(after)-1][1]; first < snap.next {
			t.Errorf("restart resumed at seq %d below the reservation %d", first, snap.next)
		}
		checkUniqueSeqs(t, w.net.messages())
	})
}

func mustLoad(t *testing.T, s *memStore) []byte {
	t.Helper()
	b, err := s.Load(serverNumber)
	if err != nil || len(b) == 0 {
		t.Fatalf("no snapshot stored: %v", err)
	}
	return b
}

// TestTamperedRecordDropped: records the session cannot authenticate are
// dropped without a reply. They may start a new handshake, but at most one
// per RehandshakeInterval, counted from the last handshake, the first one
// included (issue 8; issue 10's flood costs no SMS).
func TestTamperedRecordDropped(t *testing.T) {
	established(t, true, testConfig(), func(t *testing.T, ctx context.Context, w *world) {
		tamperNext := func() {
			w.net.mu.Lock()
			w.net.tamper = func(toServer bool, ud []byte) []byte {
				if !toServer {
					ud[len(ud)-1] ^= 0x01 // flip a bit of the CCM tag
					w.net.tamper = nil
				}
				return ud
			}
			w.net.mu.Unlock()
		}
		// An unauthentic epoch-1 record as if from the server.
		forged := make([]byte, 13+8+5+8)
		copy(forged, []byte{23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, byte(len(forged) - 13)})

		// 1. Right after the first handshake, an unauthentic record is
		// dropped: nothing sent, the session kept.
		before0 := len(w.net.messages())
		w.sess.Deliver(forged)
		synctest.Wait()
		if st := w.sess.Stats(); st.Handshakes != 1 || st.RehandshakesSuppressed != 1 || len(w.net.messages()) != before0 {
			t.Fatalf("forged record right after the first handshake: %+v, %d SMS", st, len(w.net.messages())-before0)
		}
		w.pingPong(ctx, "first session kept")
		time.Sleep(DefaultRehandshakeInterval) // fake time
		w.renewBy(ctx, true, forged, "first trigger", 2)

		// 2. Within the interval of that one: dropped silently, nothing
		// sent, session kept.
		tamperNext()
		before := len(w.net.messages())
		if _, err := w.srv.conn.Write([]byte("tampered")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if n := len(w.net.messages()) - before; n != 1 { // only the server's SMS
			t.Errorf("tampered record caused %d SMS", n-1)
		}
		st := w.sess.Stats()
		if st.Unauthenticated != 3 || st.RehandshakesSuppressed != 2 || st.Handshakes != 2 {
			t.Errorf("after tampered record: %+v", st)
		}
		// A plaintext application record (epoch 0) would make pion send a
		// fatal alert; it must be dropped before pion sees it.
		plain, _ := (&recordlayer.RecordLayer{
			Header:  recordlayer.Header{Version: protocol.Version1_2},
			Content: &protocol.ApplicationData{Data: []byte("spoof")},
		}).Marshal()
		w.sess.Deliver(plain)
		w.sess.Deliver([]byte{0xff, 0x00})
		synctest.Wait()
		if n := len(w.net.messages()) - before; n != 1 {
			t.Errorf("spoofed records caused %d SMS", n-1)
		}
		if st := w.sess.Stats(); st.RehandshakesSuppressed != 2 {
			t.Errorf("epoch-0 garbage counted as a re-handshake request: %+v", st)
		}
		w.pingPong(ctx, "still up")

		// 3. After the interval: one new handshake.
		time.Sleep(DefaultRehandshakeInterval) // fake time
		w.renewBy(ctx, true, forged, "after the interval", 3)

		// 4. Again right away: suppressed.
		w.sess.Deliver(forged)
		w.sess.Deliver(forged)
		synctest.Wait()
		if st := w.sess.Stats(); st.Handshakes != 3 || st.RehandshakesSuppressed != 4 {
			t.Errorf("second trigger within the interval: %+v", st)
		}
		w.pingPong(ctx, "kept")
	})
}

// TestServerClosesSession: after the server's close_notify the client
// reports ErrPeerClosed to a reader, forgets the snapshot, and the next Write
// runs a new handshake instead of failing forever (also with nobody reading).
func TestServerClosesSession(t *testing.T) {
	for _, reading := range []bool{true, false} {
		t.Run(fmt.Sprint("reading_", reading), func(t *testing.T) {
			established(t, false, testConfig(), func(t *testing.T, ctx context.Context, w *world) {
				readErr := make(chan error, 1)
				if reading {
					go func() {
						_, err := w.sess.Read(ctx, make([]byte, MaxPlaintext))
						readErr <- err
					}()
					synctest.Wait()
				}
				_ = w.srv.conn.Close() // sends close_notify
				synctest.Wait()
				if reading {
					if err := <-readErr; !errors.Is(err, ErrPeerClosed) {
						t.Fatalf("Read after close_notify: %v", err)
					}
					if b, _ := w.store.Load(serverNumber); b != nil {
						t.Error("snapshot of the closed session kept")
					}
				}
				w.srv.close()
				w.srv = newServer(t, w.net, false)
				srv := w.serverHandshake(ctx)
				if err := w.sess.Write(ctx, []byte("again")); err != nil {
					t.Fatal(err)
				}
				if err := <-srv; err != nil {
					t.Fatal(err)
				}
				if got, err := w.srv.read(t, time.Minute); err != nil || string(got) != "again" {
					t.Fatalf("server read %q, %v", got, err)
				}
				if st := w.sess.Stats(); st.Handshakes != 2 {
					t.Errorf("Handshakes = %d, want 2", st.Handshakes)
				}
			})
		})
	}
}

// helloRequest is a plaintext HelloRequest: RFC 6347 §4.1 record header +
// §4.2.2 handshake header, type 0 hello_request, empty body (pion has no
// HelloRequest message type).
var helloRequest = []byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 9, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

// TestHelloRequestStartsHandshake: a plaintext HelloRequest (the only way a
// DTLS server can ask for a new handshake, RFC 5246 §7.4.1.1) is not passed
// to pion; it starts one new handshake, even right after the first one, and
// then at most one per interval.
func TestHelloRequestStartsHandshake(t *testing.T) {
	established(t, false, testConfig(), func(t *testing.T, ctx context.Context, w *world) {
		if recs, err := splitRecords(helloRequest); err != nil || !recs[0].hasHandshake || recs[0].hsType != handshake.TypeHelloRequest {
			t.Fatalf("HelloRequest vector: %v", err)
		}
		time.Sleep(DefaultRehandshakeInterval) // fake time: the first handshake counts
		w.renewBy(ctx, false, helloRequest, "renewed", 2)
		before := len(w.net.messages())
		w.sess.Deliver(helloRequest)
		synctest.Wait()
		if st := w.sess.Stats(); st.Handshakes != 2 || st.RehandshakesSuppressed != 1 || len(w.net.messages()) != before {
			t.Fatalf("HelloRequest within the interval: %+v", st)
		}
		time.Sleep(DefaultRehandshakeInterval) // fake time
		w.renewBy(ctx, false, helloRequest, "renewed again", 3)
	})
}

// TestHelloRequestWithoutSession: a client that has no session at all (none
// stored, none opened) answers the server's HelloRequest with a handshake:
// that is how a server reaches a device whose binding has no S (RFC 5246
// §7.4.1.1; seed §7.2.2.1: the client opens the session at the first
// trigger). State follows: idle, handshaking, established.
func TestHelloRequestWithoutSession(t *testing.T) {
	inWorld(t, false, testConfig(), func(t *testing.T, ctx context.Context, w *world) {
		if st := w.sess.State(); st != StateIdle {
			t.Fatalf("new session: %v", st)
		}
		srv := w.serverHandshake(ctx)
		w.sess.Deliver(helloRequest)
		// The handshake runs in the background and the server answers at
		// once, so it may already be over.
		if st := w.sess.State(); st != StateHandshaking && st != StateEstablished {
			t.Errorf("after the HelloRequest: %v", st)
		}
		if err := <-srv; err != nil {
			t.Fatal(err)
		}
		w.pingPong(ctx, "opened by the server")
		if st := w.sess.State(); st != StateEstablished {
			t.Errorf("after the handshake: %v", st)
		}
		if st := w.sess.Stats(); st.Handshakes != 1 || st.RehandshakesSuppressed != 0 {
			t.Errorf("stats %+v", st)
		}
		// That handshake was the server's request: another within the
		// interval is suppressed, and nothing is sent.
		before := len(w.net.messages())
		w.sess.Deliver(helloRequest)
		synctest.Wait()
		if st := w.sess.Stats(); st.Handshakes != 1 || st.RehandshakesSuppressed != 1 || len(w.net.messages()) != before {
			t.Errorf("second HelloRequest: %+v", st)
		}
		if err := w.sess.Close(); err != nil {
			t.Fatal(err)
		}
		if st := w.sess.State(); st != StateClosed {
			t.Errorf("after Close: %v", st)
		}
	})
}

// TestHandshakeFailedState: a handshake nobody answers ends in StateFailed
// after its budget, and the session can try again.
func TestHandshakeFailedState(t *testing.T) {
	cfg := testConfig()
	cfg.HandshakeTimeout = 30 * time.Second
	inWorld(t, false, cfg, func(t *testing.T, ctx context.Context, w *world) {
		w.net.setLoss(1, 1) // nothing arrives
		if err := w.sess.Open(ctx); err == nil {
			t.Fatal("handshake without a server succeeded")
		}
		if st := w.sess.State(); st != StateFailed {
			t.Errorf("after a failed handshake: %v", st)
		}
		w.net.setLoss(0, 1)
		if err := w.handshake(ctx); err != nil {
			t.Fatal(err)
		}
		if st := w.sess.State(); st != StateEstablished {
			t.Errorf("after the retry: %v", st)
		}
	})
}

// gatedStore is a memStore whose Load waits for gate: a slow disk.
type gatedStore struct {
	*memStore
	gate chan struct{}
}

func (g gatedStore) Load(number string) ([]byte, error) {
	<-g.gate
	return g.memStore.Load(number)
}

// TestDeliverDuringRestore: an SMS that arrives while the stored session is
// being restored (here Open is reading a slow store) is held and read once
// the restore ends, not dropped.
func TestDeliverDuringRestore(t *testing.T) {
	established(t, false, testConfig(), func(t *testing.T, ctx context.Context, w *world) {
		// The server's trigger is recorded but not delivered yet.
		w.net.mu.Lock()
		w.net.device = nil
		w.net.mu.Unlock()
		if _, err := w.srv.conn.Write([]byte("trigger during restore")); err != nil {
			t.Fatal(err)
		}
		msgs := w.net.messages()
		trigger := msgs[len(msgs)-1].ud

		// A daemon restart whose store is slow.
		gs := gatedStore{memStore: w.store, gate: make(chan struct{})}
		w.restartClientOn(gs, testConfig())
		opened := make(chan error, 1)
		go func() { opened <- w.sess.Open(ctx) }()
		synctest.Wait() // Open is blocked in Load
		if st := w.sess.State(); st != StateRestoring {
			t.Fatalf("state while loading: %v", st)
		}
		w.sess.Deliver(trigger)
		close(gs.gate)
		if err := <-opened; err != nil {
			t.Fatal(err)
		}
		b := make([]byte, MaxPlaintext)
		rctx, rcancel := context.WithTimeout(ctx, time.Minute)
		defer rcancel()
		k, err := w.sess.Read(rctx, b)
		if err != nil || string(b[:k]) != "trigger during restore" {
			t.Fatalf("record delivered during the restore: %q, %v; stats %+v", b[:k], err, w.sess.Stats())
		}
		if st := w.sess.Stats(); st.Restores != 1 || st.Handshakes != 0 || st.Unauthenticated != 0 {
			t.Errorf("stats %+v", st)
		}
		w.pingPong(ctx, "after restore")
	})
}

// TestReplayedRecordCounted: an authentic record received a second time is
// dropped before pion and counted as Replayed, not as unauthenticated.
func TestReplayedRecordCounted(t *testing.T) {
	established(t, false, testConfig(), func(t *testing.T, ctx context.Context, w *world) {
		w.pingPong(ctx, "one")
		msgs := w.net.messages()
		pong := msgs[len(msgs)-1].ud
		before := len(msgs)
		w.sess.Deliver(pong)
		w.sess.Deliver(pong)
		synctest.Wait()
		st := w.sess.Stats()
		if st.Replayed != 2 || st.Unauthenticated != 0 || st.RehandshakesSuppressed != 0 || st.Handshakes != 1 {
			t.Errorf("stats after two replays %+v", st)
		}
		if n := len(w.net.messages()) - before; n != 0 {
			t.Errorf("a replay caused %d SMS", n)
		}
		w.pingPong(ctx, "two")
	})
}

// TestReplayWindow: the receive window of RFC 6347 §4.1.2.6.
func TestReplayWindow(t *testing.T) {
	w := replayWindow{floor: 5}
	for i, c := range []struct {
		seq    uint64
		replay bool
	}{
		{4, true}, {5, false}, {5, true}, {7, false}, {6, false}, {7, true}, {6, true},
		{100, false}, {37, false}, {36, true}, {37, true}, {99, false}, {100, true},
		{1000, false}, {999, false}, {936, true}, {937, false}, {937, true}, {100, true},
	} {
		if got := w.mark(c.seq); got != c.replay {
			t.Errorf("step %d: mark(%d) = %v, want %v", i, c.seq, got, c.replay)
		}
	}
}

// TestReplayAfterRestart: a server record recorded off the air and sent
// again after a daemon restart is refused by the restored session.
func TestReplayAfterRestart(t *testing.T) {
	established(t, false, testConfig(), func(t *testing.T, ctx context.Context, w *world) {
		if _, err := w.srv.conn.Write([]byte("execute /1/0/8")); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, MaxPlaintext)
		if k, err := w.sess.Read(ctx, b); err != nil || string(b[:k]) != "execute /1/0/8" {
			t.Fatalf("read %q %v", b[:k], err)
		}
		msgs := w.net.messages()
		recorded := msgs[len(msgs)-1].ud

		w.restartClient(testConfig())
		w.sess.Deliver(recorded) // the replay restores the session and is refused
		rctx, rcancel := context.WithTimeout(ctx, time.Minute)
		defer rcancel()
		if k, err := w.sess.Read(rctx, b); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("replayed record read after restart: %q, %v", b[:k], err)
		}
		if st := w.sess.Stats(); st.Restores != 1 || st.Replayed != 1 || st.Unauthenticated != 0 {
			t.Fatalf("stats %+v", st)
		}
		w.pingPong(ctx, "fresh records still pass")
	})
}

// TestStoreFallbackToPreviousCopy: a store that returns the previous copy
// when the latest is damaged (as internal/store does) never makes a restore
// reuse a sequence number: reservations are saved twice.
func TestStoreFallbackToPreviousCopy(t *testing.T) {
	cfg := testConfig()
	cfg.SequenceReservation = 3
	inWorld(t, false, cfg, func(t *testing.T, ctx context.Context, w *world) {
		fs := newFallbackStore()
		w.store = &fs.memStore // for mustLoad; the client uses fs
		restart := func() { w.restartClientOn(fs, cfg) }
		restart()
		if err := w.handshake(ctx); err != nil {
			t.Fatal(err)
		}
		for round := range 4 {
			// Client records only, so the last saves are reservations (a
			// server record saves its replay cutoff, keeping the reservation).
			for range 7 { // crosses reservations of 3 twice
				if err := w.sess.Write(ctx, []byte("up")); err != nil {
					t.Fatal(err)
				}
				if _, err := w.srv.read(t, time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			fs.mu.Lock()
			fs.damaged = true
			fs.mu.Unlock()
			restart()
			if err := w.sess.Write(ctx, []byte("after fallback")); err != nil {
				t.Fatal(err)
			}
			if _, err := w.srv.read(t, time.Minute); err != nil {
				checkUniqueSeqs(t, w.net.messages()) // the server drops a reused number as a replay
				t.Fatalf("round %d: server read after fallback: %v", round, err)
			}
		}
		checkUniqueSeqs(t, w.net.messages())
	})
}

// TestAppDataDuringHandshake: application data that the server sends after
// its Finished can reach the client before the Finished does (SMS are
// reordered). It is held until the association is up and then goes
// through the same checks as any record, so a later replay of it is
// recognised.
func TestAppDataDuringHandshake(t *testing.T) {
	inWorld(t, false, testConfig(), func(t *testing.T, ctx context.Context, w *world) {
		var held [][]byte // guarded by w.net.mu: the server's flight 6
		w.net.mu.Lock()
		w.net.tamper = func(toServer bool, ud []byte) []byte {
			recs, _ := splitRecords(ud)
			for _, r := range recs {
				if !toServer && (r.contentType == protocol.ContentTypeChangeCipherSpec || (r.epoch == 1 && r.contentType == protocol.ContentTypeHandshake)) {
					held = append(held, ud)
					return nil
				}
			}
			return ud
		}
		w.net.mu.Unlock()
		srvDone := w.serverHandshake(ctx)
		opened := make(chan error, 1)
		go func() { opened <- w.sess.Open(ctx) }()
		if err := <-srvDone; err != nil {
			t.Fatal(err)
		}
		if _, err := w.srv.conn.Write([]byte("early")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if st := w.sess.State(); st != StateHandshaking {
			t.Fatalf("state with flight 6 held back: %v", st)
		}
		msgs := w.net.messages()
		early := msgs[len(msgs)-1].ud
		w.net.mu.Lock()
		w.net.tamper = nil
		flight6 := held
		w.net.mu.Unlock()
		for _, ud := range flight6 {
			w.sess.Deliver(ud)
		}
		if err := <-opened; err != nil {
			t.Fatal(err)
		}
		b := make([]byte, MaxPlaintext)
		rctx, rcancel := context.WithTimeout(ctx, time.Minute)
		defer rcancel()
		if k, err := w.sess.Read(rctx, b); err != nil || string(b[:k]) != "early" {
			t.Fatalf("early record: %q, %v", b[:k], err)
		}
		w.sess.Deliver(early)
		synctest.Wait()
		if st := w.sess.Stats(); st.Replayed != 1 || st.Unauthenticated != 0 {
			t.Errorf("replay of the early record: %+v", st)
		}
		w.pingPong(ctx, "after")
	})
}
