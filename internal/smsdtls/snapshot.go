package smsdtls

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/ciphersuite"
	"github.com/pion/dtls/v3/pkg/crypto/prf"
	"github.com/pion/dtls/v3/pkg/protocol"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
	"github.com/pion/dtls/v3/pkg/protocol/recordlayer"
)

// SessionStore persists one snapshot per server number. The daemon binds it
// to internal/store (atomic file writes). Snapshots hold the session's master
// secret: store them like keys (mode 0600) and never log them.
type SessionStore interface {
	// Load returns the snapshot saved for number, or (nil, nil) if none. It
	// must return the last snapshot saved or, if that one is damaged, the
	// one saved just before it; never anything older (a snapshot that
	// raises the reservation is saved twice so that one level of fallback
	// is safe).
	Load(number string) ([]byte, error)
	// Save replaces the snapshot for number durably before it returns;
	// Save(number, nil) deletes it.
	Save(number string, b []byte) error
}

// ErrSnapshotReused reports a snapshot that this process already restored
// once: restoring it again would reuse AES-CCM nonces (RFC 6655 §3), so it is
// refused and a full handshake runs instead.
var ErrSnapshotReused = errors.New("snapshot already restored once")

// errBadSnapshot reports an unusable snapshot (wrong format, other server or
// key, not a PSK-CCM_8 client session).
var errBadSnapshot = errors.New("unusable session snapshot")

// serializedState mirrors the struct of the same name that pion/dtls v3
// (v3.1.15 state.go) gob-encodes in State.MarshalBinary. gob matches fields
// by name, so this struct reads and writes pion's encoding (a test checks
// that pion → serializedState → pion loses nothing, which also catches a pion
// upgrade that adds or renames a field). It is how a restored
// session gets the sequence number this package reserved instead of the one
// the snapshot was taken at, and how the record verifier gets its keys.
type serializedState struct {
	RemoteSequenceNumber  uint64
	HandshakeComplete     bool
	LocalEpoch            uint16
	RemoteEpoch           uint16
	LocalRandom           [handshake.RandomLength]byte
	RemoteRandom          [handshake.RandomLength]byte
	CipherSuiteID         uint16
	MasterSecret          []byte
	SequenceNumber        uint64
	SRTPProtectionProfile uint16
	PeerCertificates      [][]byte
	IdentityHint          []byte
	SessionID             []byte
	LocalConnectionID     []byte
	RemoteConnectionID    []byte
	IsClient              bool
	NegotiatedProtocol    string
}

// stateOf reads the live state of an established connection.
func stateOf(conn *dtls.Conn) (serializedState, error) {
	st, ok := conn.ConnectionState()
	if !ok {
		return serializedState{}, errors.New("read DTLS state: no state")
	}
	b, err := st.MarshalBinary()
	if err != nil {
		return serializedState{}, fmt.Errorf("export DTLS state: %w", err)
	}
	return decodePionState(b)
}

func decodePionState(b []byte) (serializedState, error) {
	var p serializedState
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&p); err != nil {
		return serializedState{}, fmt.Errorf("decode DTLS state: %w", err)
	}
	return p, nil
}

func (p serializedState) encode() ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(p); err != nil {
		return nil, fmt.Errorf("encode DTLS state: %w", err)
	}
	return buf.Bytes(), nil
}

// check refuses states this package did not create: a completed client
// session at epoch 1 with TLS_PSK_WITH_AES_128_CCM_8 and no connection ID.
func (p serializedState) check() error {
	switch {
	case !p.HandshakeComplete, !p.IsClient:
		return fmt.Errorf("%w: not a completed client session", errBadSnapshot)
	case p.CipherSuiteID != uint16(CipherSuite):
		return fmt.Errorf("%w: cipher suite %#04x", errBadSnapshot, p.CipherSuiteID)
	case p.LocalEpoch != 1 || p.RemoteEpoch != 1:
		return fmt.Errorf("%w: epochs %d/%d", errBadSnapshot, p.LocalEpoch, p.RemoteEpoch)
	case len(p.LocalConnectionID) != 0 || len(p.RemoteConnectionID) != 0:
		return fmt.Errorf("%w: connection ID in use", errBadSnapshot)
	case len(p.MasterSecret) != 48:
		return fmt.Errorf("%w: master secret of %d octets", errBadSnapshot, len(p.MasterSecret))
	case p.SequenceNumber > recordlayer.MaxSequenceNumber:
		return fmt.Errorf("%w: sequence number exhausted", errBadSnapshot)
	}
	return nil
}

// resumable returns the pion State to resume with, whose next record
// sequence number is next.
func (p serializedState) resumable(next uint64) (*dtls.State, error) {
	p.SequenceNumber = next
	b, err := p.encode()
	if err != nil {
		return nil, err
	}
	st := new(dtls.State)
	if err := st.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("import DTLS state: %w", err)
	}
	return st, nil
}

// snapshot is what the SessionStore holds for one server:
//
//	| "smsdtls" 7 | version 1 | id 16 | next 8 | binding 32 | pion state (gob) |
//
// id is random per saved snapshot (a restored id is never accepted twice in
// one process); next is the first record sequence number not yet reserved:
// no record under these keys was ever sent with a sequence number ≥ next, so
// a restore may start there. binding ties the snapshot to the server number
// and key it was made for.
type snapshot struct {
	id      [16]byte
	next    uint64
	binding [32]byte
	state   serializedState
}

const (
	snapshotMagic   = "smsdtls"
	snapshotVersion = 1
	snapshotHeader  = len(snapshotMagic) + 1 + 16 + 8 + 32
)

func (s snapshot) marshal() ([]byte, error) {
	st, err := s.state.encode()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, snapshotHeader+len(st))
	b = append(b, snapshotMagic...)
	b = append(b, snapshotVersion)
	b = append(b, s.id[:]...)
	b = binary.BigEndian.AppendUint64(b, s.next)
	b = append(b, s.binding[:]...)
	return append(b, st...), nil
}

func unmarshalSnapshot(b []byte) (snapshot, error) {
	if len(b) < snapshotHeader || string(b[:len(snapshotMagic)]) != snapshotMagic {
		return snapshot{}, fmt.Errorf("%w: not a snapshot", errBadSnapshot)
	}
	b = b[len(snapshotMagic):]
	if b[0] != snapshotVersion {
		return snapshot{}, fmt.Errorf("%w: version %d", errBadSnapshot, b[0])
	}
	var s snapshot
	copy(s.id[:], b[1:17])
	s.next = binary.BigEndian.Uint64(b[17:25])
	copy(s.binding[:], b[25:57])
	st, err := decodePionState(b[57:])
	if err != nil {
		return snapshot{}, fmt.Errorf("%w: %w", errBadSnapshot, err)
	}
	if err := st.check(); err != nil {
		return snapshot{}, err
	}
	if s.next < st.SequenceNumber || s.next > recordlayer.MaxSequenceNumber {
		return snapshot{}, fmt.Errorf("%w: reservation %d below state %d", errBadSnapshot, s.next, st.SequenceNumber)
	}
	s.state = st
	return s, nil
}

// bindingFor is a one-way digest of what a snapshot is valid for: a changed
// number, identity or key makes old snapshots unusable.
func bindingFor(c Config) [32]byte {
	h := sha256.New()
	for _, part := range [][]byte{[]byte("smsdtls snapshot binding v1"), []byte(c.Number), c.PSKIdentity, c.PSK} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func (s snapshot) boundTo(c Config) bool {
	want := bindingFor(c)
	return subtle.ConstantTimeCompare(want[:], s.binding[:]) == 1
}

// verifier checks, with the session's server write key, that a record from
// the server is authentic before pion sees it (RFC 6655 §3 AES-CCM; key
// expansion RFC 5246 §6.3: no MAC keys, 16-octet keys, 4-octet implicit IVs).
type verifier struct {
	ccm *ciphersuite.CCM // read-only after construction; CCM.Decrypt is safe for concurrent use
}

func newVerifier(p serializedState) (*verifier, error) {
	keys, err := prf.GenerateEncryptionKeys(p.MasterSecret, p.LocalRandom[:], p.RemoteRandom[:], 0, 16, 4, sha256.New)
	if err != nil {
		return nil, fmt.Errorf("derive record keys: %w", err)
	}
	ccm, err := ciphersuite.NewCCM(ciphersuite.CCMTagLength8,
		keys.ClientWriteKey, keys.ClientWriteIV, keys.ServerWriteKey, keys.ServerWriteIV)
	if err != nil {
		return nil, fmt.Errorf("record cipher: %w", err)
	}
	return &verifier{ccm: ccm}, nil
}

// authentic reports whether an epoch-1 record decrypts and its tag verifies.
func (v *verifier) authentic(r record) bool {
	if r.epoch != 1 {
		return false
	}
	switch r.contentType {
	case protocol.ContentTypeApplicationData, protocol.ContentTypeAlert, protocol.ContentTypeHandshake:
	default:
		return false
	}
	_, err := v.ccm.Decrypt(recordlayer.Header{}, append([]byte(nil), r.raw...)) // decrypts in place
	return err == nil
}
