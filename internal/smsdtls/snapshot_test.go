package smsdtls

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"reflect"
	"testing"
	"testing/synctest"

	"github.com/pion/dtls/v3/pkg/crypto/ciphersuite"
	"github.com/pion/dtls/v3/pkg/crypto/prf"
	"github.com/pion/dtls/v3/pkg/protocol"
	"github.com/pion/dtls/v3/pkg/protocol/recordlayer"
)

// establishedState returns the pion state of a completed handshake.
func establishedState(t *testing.T) ([]byte, serializedState) {
	t.Helper()
	var raw []byte
	var st serializedState
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, false, testConfig())
		defer w.close()
		if err := w.handshake(t.Context()); err != nil {
			t.Fatal(err)
		}
		w.sess.mu.Lock()
		l := w.sess.cur
		w.sess.mu.Unlock()
		cs, ok := l.conn.ConnectionState()
		if !ok {
			t.Fatal("no state")
		}
		var err error
		raw, err = cs.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		st, err = stateOf(l.conn)
		if err != nil {
			t.Fatal(err)
		}
	})
	return raw, st
}

// TestPionStateMirror: serializedState reads pion v3.1.15's State encoding
// and writes it back without losing anything (pion → mirror → pion gives
// pion's bytes again), and the sequence number it writes is the one pion
// resumes with. A pion upgrade that changes the format fails here rather than
// silently resuming with a wrong sequence number.
func TestPionStateMirror(t *testing.T) {
	raw, st := establishedState(t)
	if err := st.check(); err != nil {
		t.Fatal(err)
	}
	same, err := st.resumable(st.SequenceNumber)
	if err != nil {
		t.Fatal(err)
	}
	again, err := same.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, again) {
		t.Fatalf("pion → serializedState → pion changed the state (%d vs %d octets)", len(again), len(raw))
	}
	resumed, err := st.resumable(4242)
	if err != nil {
		t.Fatal(err)
	}
	b, err := resumed.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodePionState(b)
	if err != nil {
		t.Fatal(err)
	}
	want := st
	want.SequenceNumber = 4242
	if !reflect.DeepEqual(back, want) {
		t.Errorf("resumable(4242) gives %+v", back.SequenceNumber)
	}
}

func TestSnapshotDecode(t *testing.T) {
	_, st := establishedState(t)
	good, err := snapshot{id: [16]byte{1}, next: st.SequenceNumber + 10, binding: bindingFor(mustDefaults(t, testConfig())), state: st}.marshal()
	if err != nil {
		t.Fatal(err)
	}
	s, err := unmarshalSnapshot(good)
	if err != nil {
		t.Fatal(err)
	}
	if s.id != [16]byte{1} || s.next != st.SequenceNumber+10 || !s.boundTo(mustDefaults(t, testConfig())) {
		t.Errorf("decoded %+v", s.id)
	}
	other := testConfig()
	other.PSK = Secret{9, 9, 9}
	if s.boundTo(mustDefaults(t, other)) {
		t.Error("snapshot accepted for another key")
	}
	// Every strict prefix fails.
	for i := range len(good) {
		if _, err := unmarshalSnapshot(good[:i]); err == nil {
			t.Fatalf("prefix of %d octets decoded", i)
		}
	}
	bad := bytes.Clone(good)
	bad[7] = 2
	if _, err := unmarshalSnapshot(bad); !errors.Is(err, errBadSnapshot) {
		t.Errorf("version 2: %v", err)
	}
	low, _ := snapshot{next: st.SequenceNumber - 1, state: st}.marshal()
	if _, err := unmarshalSnapshot(low); !errors.Is(err, errBadSnapshot) {
		t.Errorf("reservation below the state: %v", err)
	}
	wrong := st
	wrong.CipherSuiteID = 0xC0AE
	ws, _ := snapshot{next: st.SequenceNumber, state: wrong}.marshal()
	if _, err := unmarshalSnapshot(ws); !errors.Is(err, errBadSnapshot) {
		t.Errorf("other cipher suite: %v", err)
	}
}

func mustDefaults(t *testing.T, c Config) Config {
	t.Helper()
	c, err := c.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// FuzzUnmarshalSnapshot: a corrupted store file never panics the decoder.
func FuzzUnmarshalSnapshot(f *testing.F) {
	st, _ := serverRecord(f)
	valid, err := snapshot{id: [16]byte{7}, next: 1001, state: st}.marshal()
	if err != nil {
		f.Fatal(err)
	}
	if _, err := unmarshalSnapshot(valid); err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add([]byte("smsdtls\x01"))
	f.Add(append([]byte("smsdtls\x01"), make([]byte, 80)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := unmarshalSnapshot(b)
		if err != nil {
			return
		}
		again, err := s.marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := unmarshalSnapshot(again); err != nil {
			t.Fatalf("re-encoded snapshot does not decode: %v", err)
		}
	})
}

// FuzzVerifier: any datagram a spoofer can send is split and checked without
// panicking, and nothing but the seeded genuine record ever authenticates
// (forging an AES-CCM-8 tag must not be something a fuzzer finds).
func FuzzVerifier(f *testing.F) {
	st, genuine := serverRecord(f)
	v, err := newVerifier(st)
	if err != nil {
		f.Fatal(err)
	}
	if recs, err := splitRecords(genuine); err != nil || !v.authentic(recs[0]) {
		f.Fatalf("genuine record does not authenticate: %v", err)
	}
	f.Add(genuine)
	f.Add(append(bytes.Clone(genuine), genuine...))
	f.Add([]byte{23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := splitRecords(b)
		if err != nil {
			return
		}
		for _, r := range recs {
			if v.authentic(r) && !bytes.Equal(r.raw, genuine) {
				t.Fatalf("forged record authenticates: %x", r.raw)
			}
		}
	})
}

// serverRecord returns a fixed client session state and an application
// record the server would send in it (keys per RFC 5246 §6.3).
func serverRecord(tb testing.TB) (serializedState, []byte) {
	tb.Helper()
	st := serializedState{
		HandshakeComplete: true, LocalEpoch: 1, RemoteEpoch: 1, IsClient: true,
		CipherSuiteID: uint16(CipherSuite), MasterSecret: bytes.Repeat([]byte{0x4d}, 48), SequenceNumber: 1,
	}
	for i := range st.LocalRandom {
		st.LocalRandom[i], st.RemoteRandom[i] = byte(i), byte(0xff-i)
	}
	keys, err := prf.GenerateEncryptionKeys(st.MasterSecret, st.LocalRandom[:], st.RemoteRandom[:], 0, 16, 4, sha256.New)
	if err != nil {
		tb.Fatal(err)
	}
	server, err := ciphersuite.NewCCM(ciphersuite.CCMTagLength8, keys.ServerWriteKey, keys.ServerWriteIV, keys.ClientWriteKey, keys.ClientWriteIV)
	if err != nil {
		tb.Fatal(err)
	}
	pkt := &recordlayer.RecordLayer{
		Header:  recordlayer.Header{Version: protocol.Version1_2, Epoch: 1, SequenceNumber: 5},
		Content: &protocol.ApplicationData{Data: []byte("coap")},
	}
	raw, err := pkt.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	enc, err := server.Encrypt(pkt, raw)
	if err != nil {
		tb.Fatal(err)
	}
	return st, enc
}
