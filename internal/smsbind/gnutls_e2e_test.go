package smsbind

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/atpdu"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/emu/network"
)

// gnutlsPriority allows what an LwM2M DTLS-over-SMS server offers and
// nothing else: DTLS 1.2, PSK key exchange, AES-128-CCM-8 (RFC 6655
// TLS_PSK_WITH_AES_128_CCM_8, LwM2M-TS 1.0 §7.1.7).
const gnutlsPriority = "NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+PSK:-CIPHER-ALL:+AES-128-CCM-8:-MAC-ALL:+AEAD"

// startGnuTLS runs GnuTLS's DTLS server (Debian gnutls-bin) with the PSK
// of identity/key, a 140-octet MTU and echo of application data, and
// returns its UDP address. It skips the test when gnutls-serv is not
// installed (scripts/ensure-tools installs it for `make test`). The server
// is killed at cleanup; its output is logged if the test failed.
func startGnuTLS(t *testing.T, ctx context.Context, identity []byte, key []byte) *net.UDPAddr {
	t.Helper()
	bin, err := exec.LookPath("gnutls-serv")
	if err != nil {
		t.Skip("gnutls-serv not installed (Debian package gnutls-bin): GnuTLS interop not tested")
	}
	pskFile := filepath.Join(t.TempDir(), "psk.txt")
	if err := os.WriteFile(pskFile, fmt.Appendf(nil, "%s:%x\n", identity, key), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := l.LocalAddr().(*net.UDPAddr)
	l.Close()
	cmd := exec.CommandContext(ctx, bin, "--udp", "--mtu", "140", "--echo", "--port", fmt.Sprint(addr.Port),
		"--pskpasswd", pskFile, "--priority", gnutlsPriority)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		logMu sync.Mutex
		log   strings.Builder // guarded by logMu
	)
	ready, scanned := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(scanned)
		once := sync.Once{}
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			logMu.Lock()
			log.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if strings.Contains(sc.Text(), "listening on IPv4") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-scanned
		_ = cmd.Wait()
		if t.Failed() {
			logMu.Lock()
			t.Logf("gnutls-serv output:\n%s", log.String())
			logMu.Unlock()
		}
	})
	select {
	case <-ready:
	case <-ctx.Done():
		t.Fatal("gnutls-serv did not start")
	}
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: addr.Port}
}

// TestE2EGnuTLSOverBridge is issue 8's interop test: the daemon's DTLS
// client (smsdtls through this binding, the AT driver and the emulated
// modem on a pty) handshakes with GnuTLS's DTLS server, PSK and
// AES-128-CCM-8 only, cookies on, every message carried as SMS through the
// emulated network, whose UDP bridge turns the SMS to the server's number
// into datagrams to gnutls-serv and its datagrams into SMS. The handshake
// completes, one CoAP message round-trips through the server's echo, and
// no SMS either way carries more than 140 octets of user data.
//
// The second run lets the network reorder SMS (jitter wider than the gap
// between the datagrams of one GnuTLS flight): the handshake still
// completes, possibly after retransmissions.
func TestE2EGnuTLSOverBridge(t *testing.T) {
	t.Run("in order", func(t *testing.T) { testGnuTLSOverBridge(t, false) })
	t.Run("reordered", func(t *testing.T) { testGnuTLSOverBridge(t, true) })
	t.Run("20% loss", testGnuTLSLoss)
}

// testGnuTLSLoss: the handshake with GnuTLS completes when a fifth of the
// SMS each way are lost (the 1 s RTO stands in for 10 s; GnuTLS
// retransmits after 1 s too). Ten seeds took 1–12 s each here; one runs.
func testGnuTLSLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("retransmits on real timers")
	}
	w := newWorldWith(t, worldOpts{initialRTO: time.Second, seed: 8})
	peer := startGnuTLS(t, w.ctx, e2eIdentity, e2eKey)
	if _, err := w.net.Bridge(dtlsNumber, peer, deviceNumber); err != nil {
		t.Fatal(err)
	}
	w.net.SetFaults(network.Faults{Loss: 0.2})
	c, _ := w.b.Conn(2)
	start := time.Now()
	if err := c.Open(w.ctx); err != nil {
		bs, _ := w.net.BridgeStats(dtlsNumber)
		t.Fatalf("handshake under loss: %v; bridge %+v", err, bs)
	}
	bs, _ := w.net.BridgeStats(dtlsNumber)
	ds, _ := w.b.DTLSStats(2)
	t.Logf("handshake under 20%% loss in %v: %d SMS to gnutls-serv (%d lost), %d from it; DTLS %+v",
		time.Since(start).Round(time.Millisecond), bs.ToPeer, bs.DroppedLoss, bs.FromPeer, ds)
	w.deviceSent() // checks the 140-octet rule on each device SMS
	if bs.LargestFromPeer > atpdu.MaxUDOctets || bs.DroppedOversize != 0 || ds.Handshakes != 1 {
		t.Errorf("bridge %+v, DTLS %+v", bs, ds)
	}
}

func testGnuTLSOverBridge(t *testing.T, reorder bool) {
	// Real timers, real process. In order, the default 10 s initial RTO:
	// nothing is lost, so a retransmission would only come from a slow
	// machine (qemu-arm) and would spoil the SMS count. Reordered, 1 s:
	// the retransmission that follows is expected and kept short.
	rto := time.Duration(0)
	if reorder {
		rto = time.Second
	}
	// Status reports on: the bridge answers each device SMS with one, so
	// they arrive during the handshake, and must change nothing there.
	w := newWorldWith(t, worldOpts{initialRTO: rto, statusReports: true})
	peer := startGnuTLS(t, w.ctx, e2eIdentity, e2eKey)
	if _, err := w.net.Bridge(dtlsNumber, peer, deviceNumber); err != nil {
		t.Fatal(err)
	}
	if reorder {
		w.net.SetFaults(network.Faults{Jitter: network.Duration(200 * time.Millisecond)})
	}

	c, _ := w.b.Conn(2)
	if err := c.Open(w.ctx); err != nil {
		bs, _ := w.net.BridgeStats(dtlsNumber)
		ds, _ := w.b.DTLSStats(2)
		t.Fatalf("handshake with gnutls-serv over the bridge: %v; bridge %+v; DTLS %+v", err, bs, ds)
	}
	hs, _ := w.net.BridgeStats(dtlsNumber)
	devHS := w.deviceSent()
	sizes := make([]int, len(devHS))
	for i, s := range devHS {
		sizes[i] = len(s.UD)
	}
	t.Logf("handshake: %d SMS to gnutls-serv %v, %d SMS from it (%d octets, largest %d)",
		hs.ToPeer, sizes, hs.FromPeer, hs.OctetsFromPeer, hs.LargestFromPeer)

	// One application record each way: a CoAP GET to the server, echoed
	// back by gnutls-serv as the server's request.
	w.write(2, coapGet)
	if got := w.read(2); !bytes.Equal(got, coapGet) {
		t.Fatalf("echo over SMS: %x, want %x", got, coapGet)
	}
	bs, _ := w.net.BridgeStats(dtlsNumber)
	t.Logf("after the echo: %d SMS to gnutls-serv, %d from it; bridge %+v", bs.ToPeer, bs.FromPeer, bs)

	// Every SMS fits (deviceSent checks each SMS-SUBMIT of the device;
	// the bridge counts datagrams from gnutls-serv too large for one SMS).
	for _, s := range w.deviceSent() {
		if s.DA.String() != dtlsNumber || s.DCS.Coding() != atpdu.Coding8Bit || s.DCS.Class() != atpdu.ClassNone || s.PID != atpdu.PIDNormal {
			t.Errorf("device SMS to %s DCS %02x PID %02x", s.DA.String(), byte(s.DCS), byte(s.PID))
		}
	}
	if bs.LargestFromPeer > atpdu.MaxUDOctets || bs.DroppedOversize != 0 || bs.LargestToPeer > atpdu.MaxUDOctets {
		t.Errorf("SMS over %d octets: %+v", atpdu.MaxUDOctets, bs)
	}
	if bs.DroppedIncompatible != 0 || bs.SendErrors != 0 {
		t.Errorf("bridge refused device SMS: %+v", bs)
	}
	// Our side of the handshake is ClientHello, ClientHello with the
	// cookie, and flight 5 in one SMS; the record then costs one SMS each
	// way. GnuTLS sends each handshake record in its own datagram, so its
	// side costs more SMS: a server property, logged above. Reordered SMS
	// may cost retransmissions.
	if !reorder && (hs.ToPeer != 3 || bs.ToPeer != hs.ToPeer+1) {
		t.Errorf("device sent %d handshake SMS (want 3) and %d for one record (want 1)", hs.ToPeer, bs.ToPeer-hs.ToPeer)
	}
	// Every datagram of gnutls-serv reached the binding as one SMS through
	// the emulated modem and the AT driver.
	w.waitHandled(bs.FromPeer)
	if st := w.b.Stats(); st.Total.Received != uint64(bs.FromPeer) {
		t.Errorf("binding received %d SMS, the bridge delivered %d", st.Total.Received, bs.FromPeer)
	}
	// Every device SMS got its status report, and delivery tracking (not
	// DTLS) took them.
	for range bs.ToPeer {
		select {
		case <-w.reports:
		case <-w.ctx.Done():
			t.Fatalf("status reports missing: %+v", w.b.Stats().Delivery)
		}
	}
	if st := w.b.Stats(); st.Delivery.Delivered != uint64(bs.ToPeer) || st.Delivery.Pending != 0 || st.StatusReports != uint64(bs.ToPeer) {
		t.Errorf("delivery %+v, %d reports, %d SMS sent", st.Delivery, st.StatusReports, bs.ToPeer)
	}
	ds, _ := w.b.DTLSStats(2)
	if ds.Handshakes != 1 || ds.HandshakeFailures != 0 {
		t.Errorf("DTLS stats %+v", ds)
	}
	st := w.b.Stats()
	// A late retransmission of GnuTLS's flight 6 (an epoch-0 record) is
	// dropped as not authenticated once the session is up.
	if st.DTLS.Accepted != 1 || (!reorder && st.DTLS.DroppedBadlySec != 0) {
		t.Errorf("binding stats %+v", st.DTLS)
	}
}
