package daemon

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/store"
)

// The DTLS session store maps MSISDNs onto the store's key alphabet,
// returns (nil, nil) for a number never saved and deletes on Save(nil).
func TestSessionStore(t *testing.T) {
	st, err := store.Open(t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ss := sessionStore{st: st}
	if b, err := ss.Load("+33600000002"); b != nil || err != nil {
		t.Fatalf("Load before Save: %x, %v", b, err)
	}
	if err := ss.Save("+33600000002", []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if b, err := st.ReadState("dtls-33600000002"); err != nil || !bytes.Equal(b, []byte{1, 2, 3}) {
		t.Fatalf("stored under dtls-33600000002: %x, %v", b, err)
	}
	if b, err := ss.Load("+33600000002"); err != nil || !bytes.Equal(b, []byte{1, 2, 3}) {
		t.Fatalf("Load: %x, %v", b, err)
	}
	if err := ss.Save("+33600000002", nil); err != nil {
		t.Fatal(err)
	}
	if b, err := ss.Load("+33600000002"); b != nil || err != nil {
		t.Fatalf("Load after delete: %x, %v", b, err)
	}
	if err := ss.Save("+33600000002", nil); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
	for _, bad := range []string{"", "+", "+33 6", "+33/../x", "+123456789012345678901"} {
		if err := ss.Save(bad, []byte{1}); err == nil {
			t.Errorf("Save(%q) accepted", bad)
		}
		if _, err := ss.Load(bad); err == nil {
			t.Errorf("Load(%q) accepted", bad)
		}
	}
}
