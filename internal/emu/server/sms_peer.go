package server

// Clients that talk to the server over SMS (bindings S and SQ): one go-coap
// connection per client MSISDN and mode, over a datagram net.Conn whose
// writes are SMS in that mode (SMSServer.write) and whose reads are the
// CoAP messages coapIn received from that client. The connection runs the
// UDP side's handler, so a Register over SMS (block-wise when it does not fit
// one SMS: go-coap reassembles Block1, RFC 7959 §2.3) lands in the same
// registry and event stream, and Client(ep) then reaches the client over
// SMS: Read, Observe and the notifications all travel as SMS.

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	dtlsserver "github.com/plgd-dev/go-coap/v3/dtls/server"
	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	coapnet "github.com/plgd-dev/go-coap/v3/net"
	"github.com/plgd-dev/go-coap/v3/net/blockwise"
	"github.com/plgd-dev/go-coap/v3/net/monitor/inactivity"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/udp"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
)

// peerQueue bounds the CoAP messages queued for one SMS client's connection.
const peerQueue = 64

// smsAddr is a client's MSISDN as a net.Addr.
type smsAddr string

func (smsAddr) Network() string  { return "sms" }
func (a smsAddr) String() string { return string(a) }

// smsPeer is the datagram net.Conn to one client over SMS in one mode, and
// the go-coap connection over it.
type smsPeer struct {
	s      *SMSServer
	mode   SMSMode
	msisdn string
	in     chan []byte   // CoAP messages from the client; written by coapIn
	done   chan struct{} // closed by Close
	once   sync.Once
	cc     *udpclient.Conn // set once by peer
}

var _ net.Conn = (*smsPeer)(nil)

func peerKey(mode SMSMode, msisdn string) string { return fmt.Sprintf("%d|%s", mode, msisdn) }

// peer returns the client's connection, creating it on its first message;
// nil once the server is closed.
func (s *SMSServer) peer(mode SMSMode, msisdn string) *smsPeer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	k := peerKey(mode, msisdn)
	if p := s.peers[k]; p != nil {
		select {
		case <-p.cc.Done(): // go-coap closed it (a failed write): start afresh
		default:
			return p
		}
	}
	p := &smsPeer{s: s, mode: mode, msisdn: msisdn, in: make(chan []byte, peerQueue), done: make(chan struct{})}
	p.cc = newPeerConn(p, s.peerOptions()...)
	s.peers[k] = p
	s.log.Info("client talks over SMS", "mode", mode.String(), "client", msisdn)
	return p
}

// peerOptions: the UDP side's handler and notification monitor; requests
// wait RetransmitInterval for their answer before go-coap sends them again
// (the server's choice; the client never retransmits over SMS).
func (s *SMSServer) peerOptions() []udp.Option {
	srv := s.cfg.Server
	ack, retries := s.cfg.RetransmitInterval, uint32(4)
	if ack <= 0 {
		ack, retries = s.cfg.RequestTimeout, 0
	}
	return []udp.Option{
		options.WithHandlerFunc(udpclient.HandlerFunc(srv.handle)),
		options.WithRequestMonitor(udpclient.RequestMonitorFunc(srv.monitor)),
		options.WithTransmission(1, ack, retries, 1),
		options.WithBlockwise(true, blockwise.SZX64, s.cfg.RequestTimeout),
		options.WithContext(s.ctx),
		options.WithPeriodicRunner(fineTicker),
	}
}

// deliver queues one message from the client without blocking.
func (p *smsPeer) deliver(b []byte) {
	select {
	case p.in <- b:
	case <-p.done:
	default:
		p.s.dropped(p.mode, p.msisdn, "client connection queue full")
	}
}

// close ends the go-coap connection and waits for it.
func (p *smsPeer) close() {
	_ = p.cc.Close()
	<-p.cc.Done()
	_ = p.Close()
}

// Read returns the next CoAP message from the client.
func (p *smsPeer) Read(b []byte) (int, error) {
	select {
	case m := <-p.in:
		return copy(b, m), nil
	case <-p.done:
		return 0, net.ErrClosed
	}
}

// Write sends one CoAP message to the client over SMS in the peer's mode.
func (p *smsPeer) Write(b []byte) (int, error) {
	select {
	case <-p.done:
		return 0, net.ErrClosed
	default:
	}
	ctx, cancel := context.WithTimeout(p.s.ctx, p.s.cfg.RequestTimeout)
	defer cancel()
	if err := p.s.write(ctx, p.mode, p.msisdn, append([]byte(nil), b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Close ends reads. Idempotent.
func (p *smsPeer) Close() error {
	p.once.Do(func() { close(p.done) })
	return nil
}

func (p *smsPeer) LocalAddr() net.Addr  { return smsAddr(p.s.Number(p.mode)) }
func (p *smsPeer) RemoteAddr() net.Addr { return smsAddr(p.msisdn) }

// Deadlines are not used by go-coap on this connection (coapnet.Conn
// reads and writes without them).
func (p *smsPeer) SetDeadline(time.Time) error      { return nil }
func (p *smsPeer) SetReadDeadline(time.Time) error  { return nil }
func (p *smsPeer) SetWriteDeadline(time.Time) error { return nil }

// newPeerConn runs a go-coap UDP client connection over a datagram-
// preserving net.Conn (as go-coap's dtls.Client does for a *dtls.Conn, and
// lwm2m.ConnClient for the client side).
func newPeerConn(conn net.Conn, opts ...udp.Option) *udpclient.Conn {
	cfg := udpclient.DefaultConfig
	for _, o := range opts {
		o.UDPClientApply(&cfg)
	}
	cfg.CloseSocket = true
	if cfg.Errors == nil {
		cfg.Errors = func(error) {}
	}
	if cfg.MessagePool == nil {
		cfg.MessagePool = pool.New(0, 0)
	}
	createBlockWise := func(cc *udpclient.Conn) *blockwise.BlockWise[*udpclient.Conn] {
		bw := blockwise.New(cc, cfg.BlockwiseTransferTimeout, cfg.Errors,
			func(token message.Token) (*pool.Message, bool) { return cc.GetObservationRequest(token) })
		bw.SetReceivingMessagesCacheMaxEntries(cfg.BlockwiseReceivingMessagesCacheMaxEntries)
		return bw
	}
	session := dtlsserver.NewSession(cfg.Ctx, coapnet.NewConn(conn), cfg.MaxMessageSize, cfg.MTU, cfg.CloseSocket)
	cc := udpclient.NewConnWithOpts(session, &cfg,
		udpclient.WithBlockWise(createBlockWise),
		udpclient.WithInactivityMonitor(inactivity.NewNilMonitor[*udpclient.Conn]()),
		udpclient.WithRequestMonitor(cfg.RequestMonitor),
	)
	cfg.PeriodicRunner(func(now time.Time) bool {
		cc.CheckExpirations(now)
		return cc.Context().Err() == nil
	})
	go func() { _ = cc.Run() }()
	return cc
}
