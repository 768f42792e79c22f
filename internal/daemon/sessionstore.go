package daemon

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/store"
)

// sessionStore is the smsdtls.SessionStore over the daemon's durable store:
// the snapshot of the DTLS-over-SMS session with the server number
// "+33600000002" lives under the key "dtls-33600000002" (store keys allow
// lower-case letters, digits, "_", "." and "-" only). store.File keeps the
// previous copy and falls back to it when the current one is damaged, which
// is the one level of fallback smsdtls.SessionStore asks for.
type sessionStore struct {
	st interface {
		ReadState(key string) ([]byte, error)
		WriteState(key string, value []byte) error
		DeleteState(key string) error
	}
}

// sessionKey maps an MSISDN ("+" and digits) onto the store's key alphabet.
func sessionKey(number string) (string, error) {
	digits := strings.TrimPrefix(number, "+")
	if digits == "" || len(digits) > 20 {
		return "", fmt.Errorf("session store: server number %q is not an MSISDN", number)
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return "", fmt.Errorf("session store: server number %q is not an MSISDN", number)
		}
	}
	return "dtls-" + digits, nil
}

// Load returns the stored snapshot, or (nil, nil) when there is none.
func (s sessionStore) Load(number string) ([]byte, error) {
	key, err := sessionKey(number)
	if err != nil {
		return nil, err
	}
	b, err := s.st.ReadState(key)
	if errors.Is(err, store.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("session store: load %s: %w", key, err)
	}
	return b, nil
}

// Save stores b durably; nil deletes the snapshot.
func (s sessionStore) Save(number string, b []byte) error {
	key, err := sessionKey(number)
	if err != nil {
		return err
	}
	if b == nil {
		if err := s.st.DeleteState(key); err != nil && !errors.Is(err, store.ErrNotExist) {
			return fmt.Errorf("session store: delete %s: %w", key, err)
		}
		return nil
	}
	if err := s.st.WriteState(key, b); err != nil {
		return fmt.Errorf("session store: save %s: %w", key, err)
	}
	return nil
}
