package modem

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestScanLines(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{name: "crlf framing", in: "\r\nOK\r\n", want: []string{"OK"}},
		{name: "bare prompt", in: "\r\n> ", want: []string{"> "}},
		{name: "echo then prompt", in: "AT+CMGS=5\r\r\n> ", want: []string{"AT+CMGS=5", "> "}},
		{name: "urc with pdu", in: "\r\n+CMT: ,24\r\n0791AABB\r\n", want: []string{"+CMT: ,24", "0791AABB"}},
		{name: "lf only", in: "a\nb\n", want: []string{"a", "b"}},
		{name: "unterminated tail at EOF", in: "OK\r\nRDY", want: []string{"OK", "RDY"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := bufio.NewScanner(strings.NewReader(tc.in))
			sc.Split(scanLines)
			var got []string
			for sc.Scan() {
				got = append(got, sc.Text())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestScanLinesLongGarbage(t *testing.T) {
	in := "A\r\n" + strings.Repeat("x", 3*maxLine) + "\r\nOK\r\n"
	sc := bufio.NewScanner(strings.NewReader(in))
	sc.Buffer(nil, 64*1024)
	var s lineSplitter
	sc.Split(s.split)
	var got []string
	for sc.Scan() {
		got = append(got, sc.Text())
	}
	if sc.Err() != nil || !slices.Equal(got, []string{"A", garbageToken, "OK"}) {
		t.Fatalf("err %v, tokens %q", sc.Err(), got)
	}
}

// TestScanLinesOverlongAcrossReads: the end of an overlong line and the
// next lines arrive in one read after the start in another; those lines
// are split without waiting for more input.
func TestScanLinesOverlongAcrossReads(t *testing.T) {
	var s lineSplitter
	first := []byte(strings.Repeat("x", maxLine+10))
	if a, tok, _ := s.split(first, false); a != len(first) || string(tok) != garbageToken {
		t.Fatalf("first read: %d %q", a, tok)
	}
	second := []byte("xxxx\r\nOK\r\n")
	a, tok, _ := s.split(second, false)
	if string(tok) != "OK" || a != len("xxxx\r\nOK\r") {
		t.Fatalf("second read: %d %q", a, tok)
	}
}

func TestPrintable(t *testing.T) {
	if !printable(`+CMTI: "SM",1`) || printable("\x00\xff") || printable(garbageToken) {
		t.Fatal("printable")
	}
}

func TestParseFinal(t *testing.T) {
	tests := []struct {
		line string
		kind finalKind
		code int
	}{
		{line: "OK", kind: finalOK},
		{line: "ERROR", kind: finalError},
		{line: "+CME ERROR: 10", kind: finalCME, code: 10},
		{line: "+CMS ERROR: 322", kind: finalCMS, code: 322},
		{line: "NO CARRIER", kind: finalOther},
		{line: "+CMGS: 4", kind: notFinal},
		{line: "OKAY", kind: notFinal},
	}
	for _, tc := range tests {
		k, c := parseFinal(tc.line)
		if k != tc.kind || c != tc.code {
			t.Errorf("%q: got %v,%d want %v,%d", tc.line, k, c, tc.kind, tc.code)
		}
	}
}

func TestIsURC(t *testing.T) {
	tests := []struct {
		line     string
		prefixes []string
		strict   bool
		want     bool
	}{
		{line: `+CMTI: "SM",1`, want: true},
		{line: "+CREG: 2,1", prefixes: []string{"+CREG:"}, want: false},
		{line: "+CREG: 1", want: true},
		{line: "+QFOO: 1", prefixes: []string{"+CSQ:"}, strict: true, want: true},
		{line: "+QFOO: 1", want: false},
		{line: "Quectel", prefixes: []string{"+CGMI:"}, strict: true, want: false},
	}
	for _, tc := range tests {
		if got := isURC(tc.line, tc.prefixes, tc.strict); got != tc.want {
			t.Errorf("%q %v: got %v", tc.line, tc.prefixes, got)
		}
	}
}

func TestCMSTransient(t *testing.T) {
	for _, c := range []int{331, 332, 500, 314, 42, 0xC0, 0xD4} {
		if !(&CMSError{Code: c}).Transient() {
			t.Errorf("%d should be transient", c)
		}
	}
	for _, c := range []int{304, 330, 1, 21, 302, 310} {
		if (&CMSError{Code: c}).Transient() {
			t.Errorf("%d should be permanent", c)
		}
	}
}

// TestCmdLockPriority: a +CNMA waiter is served before normal waiters
// that queued earlier.
func TestCmdLockPriority(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var l cmdLock
	if err := l.acquire(ctx, false, nil); err != nil {
		t.Fatal(err)
	}
	order := make(chan string, 3)
	queued := make(chan struct{}, 3)
	start := func(name string, prio bool) {
		go func() {
			l.mu.Lock()
			queued <- struct{}{}
			l.mu.Unlock()
			if err := l.acquire(ctx, prio, nil); err != nil {
				order <- "err"
				return
			}
			order <- name
			l.release()
		}()
	}
	waitQueued := func(n int) {
		for {
			l.mu.Lock()
			got := len(l.hi) + len(l.lo)
			l.mu.Unlock()
			if got == n {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatal("waiters never queued")
			case <-time.After(time.Millisecond):
			}
		}
	}
	start("send1", false)
	waitQueued(1)
	start("send2", false)
	waitQueued(2)
	start("cnma", true)
	waitQueued(3)
	l.release()
	got := []string{<-order, <-order, <-order}
	if !slices.Equal(got, []string{"cnma", "send1", "send2"}) {
		t.Fatalf("order %v", got)
	}
}

// TestCmdLockCancel: a waiter whose context ends leaves the queue and the
// lock still works.
func TestCmdLockCancel(t *testing.T) {
	var l cmdLock
	ctx := context.Background()
	_ = l.acquire(ctx, false, nil)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.acquire(cctx, false, nil); !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v", err)
	}
	l.release()
	tctx, tcancel := context.WithTimeout(ctx, time.Second)
	defer tcancel()
	if err := l.acquire(tctx, false, nil); err != nil {
		t.Fatal(err)
	}
}

// scripted is a minimal scripted modem on io.Pipes for engine-only tests.
type scripted struct {
	hostR *io.PipeReader // engine reads
	modW  *io.PipeWriter // modem writes
	modR  *io.PipeReader // modem reads what the engine wrote
	hostW *io.PipeWriter
}

func (s *scripted) Read(p []byte) (int, error)  { return s.hostR.Read(p) }
func (s *scripted) Write(p []byte) (int, error) { return s.hostW.Write(p) }
func (s *scripted) Close() error {
	s.hostR.Close()
	s.hostW.Close()
	return nil
}

func newScripted(t *testing.T, answer func(cmd string) string) *scripted {
	t.Helper()
	s := &scripted{}
	s.hostR, s.modW = io.Pipe()
	s.modR, s.hostW = io.Pipe()
	go func() {
		sc := bufio.NewScanner(s.modR)
		sc.Split(scanLines)
		for sc.Scan() {
			if _, err := io.WriteString(s.modW, answer(sc.Text())); err != nil {
				return
			}
		}
		s.modW.Close()
	}()
	return s
}

// emptyReads returns (0, nil) n times before every real read, like a
// serial port whose read timeout expires (defect 3).
type emptyReads struct {
	r     io.ReadWriteCloser
	n     int
	count int // owned by the engine's reader goroutine
}

func (e *emptyReads) Read(p []byte) (int, error) {
	if e.count < e.n {
		e.count++
		return 0, nil
	}
	e.count = 0
	return e.r.Read(p)
}
func (e *emptyReads) Write(p []byte) (int, error) { return e.r.Write(p) }
func (e *emptyReads) Close() error                { return e.r.Close() }

func TestEngineSurvivesEmptyReads(t *testing.T) {
	s := newScripted(t, func(cmd string) string { return "\r\nOK\r\n" })
	e := newEngine(&emptyReads{r: s, n: 1000}, slog.New(slog.DiscardHandler), false, time.Now)
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := 0; i < 3; i++ {
		if _, err := e.exec(ctx, "AT", cmdOpts{}); err != nil {
			t.Fatalf("command %d after 1000 empty reads: %v", i, err)
		}
	}
}

func TestTimeoutFor(t *testing.T) {
	if timeoutFor("AT+CMGS=20") < 60*time.Second || timeoutFor("AT+COPS=?") < 120*time.Second {
		t.Fatal("long commands need long deadlines")
	}
	if timeoutFor("AT") != defaultTimeout {
		t.Fatal("default")
	}
}

// TestURCMissingPDU: a +CMT whose PDU line never comes does not swallow
// the next line (here the final result of a command).
func TestURCMissingPDU(t *testing.T) {
	s := newScripted(t, func(cmd string) string {
		if cmd == "AT+CGMI" {
			return "\r\n+CMT: ,20\r\nEMU\r\nOK\r\n"
		}
		return "\r\nOK\r\n"
	})
	e := newEngine(s, slog.New(slog.DiscardHandler), false, time.Now)
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lines, err := e.exec(ctx, "AT+CGMI", cmdOpts{prefixes: []string{"+CGMI:"}, strict: true})
	if err != nil || !slices.Equal(lines, []string{"EMU"}) {
		t.Fatalf("got %q %v", lines, err)
	}
}

// FuzzSplit: the line splitter never panics, never returns a token with a
// line terminator, always makes progress, and consumes its input.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{"\r\nOK\r\n", "\r\n> ", "+CMT: ,24\r\n0791\r\n", strings.Repeat("x", maxLine+3) + "\r\nOK\r\n", ">", "\r\r\n\n"} {
		f.Add([]byte(s), 7)
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk int) {
		if chunk <= 0 || chunk > 1<<16 {
			chunk = 1 + len(data)
		}
		var s lineSplitter
		var buf []byte
		for i := 0; i <= len(data); i += chunk {
			buf = append(buf, data[i:min(i+chunk, len(data))]...)
			atEOF := i+chunk >= len(data)
			for len(buf) > 0 {
				adv, tok, err := s.split(buf, atEOF)
				if err != nil || adv < 0 || adv > len(buf) {
					t.Fatalf("split(%q) = %d, %v", buf, adv, err)
				}
				if tok != nil && string(tok) != promptToken && strings.ContainsAny(string(tok), "\r\n") {
					t.Fatalf("token %q holds a terminator", tok)
				}
				buf = buf[adv:]
				if adv == 0 && tok == nil {
					break
				}
			}
			if atEOF && len(buf) > 0 && !(len(buf) == 1 && buf[0] == '>') {
				t.Fatalf("left %q at EOF", buf)
			}
		}
	})
}

// FuzzParseListing: modem answers never panic the +CMGL/+CMGR parser.
func FuzzParseListing(f *testing.F) {
	f.Add("+CMGL: 1,0,,24\n07913306091093F0040B913316111111F10004621182819285000548656C6C6F")
	f.Add("+CMGR: 0,,5\n0004000000")
	f.Add("+CMGL: x\n")
	f.Fuzz(func(t *testing.T, s string) {
		lines := strings.Split(s, "\n")
		_ = parseListing(lines, "+CMGL:", -1)
		_ = parseListing(lines, "+CMGR:", 3)
		_, _, _ = parseStoredIndication(s)
		_, _ = parseReg(splitFields(s))
	})
}
