package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"syscall"
	"time"
)

// DefaultClientTimeout bounds a status query when ctx has no deadline: the
// daemon answers within its provider timeout.
const DefaultClientTimeout = 10 * time.Second

// maxResponse bounds what the client reads: a status is a few kilobytes.
const maxResponse = 1 << 20

// NotRunningError reports that no daemon answers on the socket: there is no
// socket file, or nobody listens on it (a daemon that crashed).
type NotRunningError struct {
	Path string
	Err  error // from connect: ENOENT or ECONNREFUSED
}

func (e *NotRunningError) Error() string {
	if errors.Is(e.Err, fs.ErrNotExist) {
		return fmt.Sprintf("daemon not running (no socket at %s)", e.Path)
	}
	return fmt.Sprintf("daemon not running (nothing listens on %s)", e.Path)
}

func (e *NotRunningError) Unwrap() error { return e.Err }

// FetchRaw asks the daemon listening on path for its status and returns the
// JSON document as the daemon sent it. A daemon that is not running gives a
// *NotRunningError.
func FetchRaw(ctx context.Context, path string) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultClientTimeout)
		defer cancel()
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, &NotRunningError{Path: path, Err: err}
		}
		if errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("control: connect to %s: %w (the socket is 0600: run as the daemon's user or root)", path, err)
		}
		return nil, fmt.Errorf("control: connect to %s: %w", path, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if _, err := io.WriteString(c, RequestStatus+"\n"); err != nil {
		return nil, fmt.Errorf("control: ask %s: %w", path, ctxErr(ctx, err))
	}
	b, err := io.ReadAll(io.LimitReader(c, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("control: read status from %s: %w", path, ctxErr(ctx, err))
	}
	if len(b) > maxResponse {
		return nil, fmt.Errorf("control: status from %s is larger than %d bytes", path, maxResponse)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("control: %s closed the connection without an answer", path)
	}
	var e errorResponse
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("control: status from %s is not JSON: %w", path, err)
	}
	if e.Error != "" {
		return nil, fmt.Errorf("control: daemon on %s: %s", path, e.Error)
	}
	return b, nil
}

// Fetch is FetchRaw decoded.
func Fetch(ctx context.Context, path string) (Status, error) {
	b, err := FetchRaw(ctx, path)
	if err != nil {
		return Status{}, err
	}
	st, err := Decode(b)
	if err != nil {
		return Status{}, fmt.Errorf("control: status from %s: %w", path, err)
	}
	return st, nil
}

// Decode parses a status document as FetchRaw returns it. Keys it does not
// know (from a newer daemon) are ignored.
func Decode(b []byte) (Status, error) {
	var st Status
	if err := json.Unmarshal(b, &st); err != nil {
		return Status{}, fmt.Errorf("control: decode status: %w", err)
	}
	return st, nil
}

// ctxErr prefers the context's reason to the I/O error it caused.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
