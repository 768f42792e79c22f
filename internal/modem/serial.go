package modem

import (
	"context"
	"time"

	"go.bug.st/serial"
)

// serialReadTimeout makes reads return periodically even on an idle port;
// the engine treats those empty reads as nothing (never as end of session).
const serialReadTimeout = 2 * time.Second

func openSerial(ctx context.Context, path string, baud int) (Port, error) {
	return OpenSerial(ctx, path, baud, serialReadTimeout)
}

// OpenSerial opens an AT port with go.bug.st/serial: 8N1, raw, no flow
// control, reads returning empty after readTimeout. A pseudo-terminal
// slave opens the same way as /dev/ttyUSB2. It is the default Opener.
func OpenSerial(_ context.Context, path string, baud int, readTimeout time.Duration) (Port, error) {
	p, err := serial.Open(path, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, err
	}
	if err := p.SetReadTimeout(readTimeout); err != nil {
		_ = p.Close()
		return nil, err
	}
	_ = p.ResetInputBuffer() // stale bytes from before are not ours
	return p, nil
}
