package modem

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// chunkedPort is a modem that writes data in chunks of at most chunk
// bytes, then hangs up (EOF). Writes from the host are accepted and
// ignored.
type chunkedPort struct {
	data  []byte
	chunk int
}

func (p *chunkedPort) Read(b []byte) (int, error) {
	if len(p.data) == 0 {
		return 0, io.EOF
	}
	n := copy(b[:min(len(b), p.chunk)], p.data)
	p.data = p.data[n:]
	return n, nil
}

func (p *chunkedPort) Write(b []byte) (int, error) { return len(b), nil }

// FuzzReader feeds arbitrary modem output through the whole receive path
// of the engine (line splitter, garbage filter, final-result and URC
// classification, +CMT/+CDS PDU pairing) with no command in progress, and
// then the URC parsers the dispatcher uses. Properties: no panic; the
// reader ends with ErrLinkDown at EOF; every URC is a printable line with
// a known unsolicited prefix (nothing else leaks out of the engine); a PDU
// is attached only to +CMT/+CDS/+CBM and is even-length hex.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"\r\n+CMTI: \"SM\",3\r\n",
		"\r\n+CMT: ,24\r\n07913306091093F0040B913316111111F10004621182819285000548656C6C6F\r\n",
		"\r\n+CDS: 25\r\n0006D60B911326880736F4111011719551401110117195714000\r\n",
		"\r\n+CMT: ,20\r\nOK\r\n+CREG: 1\r\n",
		"\r\nRING\r\n\r\n+CME ERROR: 10\r\n\r\n> \r\n^SYSSTART\r\n+CUSATP: \"D01C\"\r\n",
		"\x00\xff\r\n+CMTI: \"ME\",\x80\r\n+CDSI: \"SR\",1",
		"\r\n+CMT: ,5\r\n0004000000",
	} {
		f.Add([]byte(s), 16)
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk int) {
		if chunk <= 0 || chunk > 4096 {
			chunk = 1 + len(data)
		}
		e := newEngine(&chunkedPort{data: data, chunk: chunk}, slog.New(slog.DiscardHandler), true, time.Now)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		select {
		case <-e.Done():
		case <-ctx.Done():
			t.Fatalf("reader did not stop at EOF of %q", data)
		}
		if err := e.Err(); !errors.Is(err, ErrLinkDown) {
			t.Fatalf("reader ended with %v, want ErrLinkDown", err)
		}
		for _, u := range e.nextURCs() {
			if u.Line == "" || !printable(u.Line) || strings.ContainsAny(u.Line, "\r\n") {
				t.Fatalf("URC line %q from %q", u.Line, data)
			}
			if !hasAnyPrefix(u.Line, urcPrefixes) {
				t.Fatalf("line %q leaked out as a URC from %q", u.Line, data)
			}
			if u.PDU != "" {
				if !hasAnyPrefix(u.Line, urcWithPDU) || !isHex(u.PDU) {
					t.Fatalf("URC %q carries PDU %q", u.Line, u.PDU)
				}
				_, _ = parsePDU(u.PDU)
			}
			_, _, _ = parseStoredIndication(u.Line)
			_, _ = parseFinal(u.Line)
			_, _ = parseReg(splitFields(u.Line))
		}
	})
}
