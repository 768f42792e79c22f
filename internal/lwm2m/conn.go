package lwm2m

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/plgd-dev/go-coap/v3/dtls/server"
	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	coapnet "github.com/plgd-dev/go-coap/v3/net"
	"github.com/plgd-dev/go-coap/v3/net/blockwise"
	"github.com/plgd-dev/go-coap/v3/net/monitor/inactivity"
	"github.com/plgd-dev/go-coap/v3/udp"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
)

// ConnClient runs a CoAP client connection over any datagram-preserving
// net.Conn: each Write is one CoAP message, each Read returns one. This is
// how transports other than UDP sockets (the SMS binding's per-server
// connections) plug into the engine through Config.Dial; opts are the ones
// the engine passes to the Dialer. Closing the returned connection closes
// conn.
//
// It mirrors go-coap's dtls.Client (v3.8.1), which does the same for a
// *dtls.Conn only.
func ConnClient(conn net.Conn, opts ...udp.Option) *udpclient.Conn {
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
	errs := cfg.Errors
	cfg.Errors = func(err error) {
		if coapnet.IsCancelOrCloseError(err) {
			return
		}
		errs(fmt.Errorf("conn %v: %w", conn.RemoteAddr(), err))
	}
	createBlockWise := func(*udpclient.Conn) *blockwise.BlockWise[*udpclient.Conn] { return nil }
	if cfg.BlockwiseEnable {
		createBlockWise = func(cc *udpclient.Conn) *blockwise.BlockWise[*udpclient.Conn] {
			bw := blockwise.New(cc, cfg.BlockwiseTransferTimeout, cfg.Errors,
				func(token message.Token) (*pool.Message, bool) { return cc.GetObservationRequest(token) })
			bw.SetReceivingMessagesCacheMaxEntries(cfg.BlockwiseReceivingMessagesCacheMaxEntries)
			return bw
		}
	}
	var monitor udpclient.InactivityMonitor = inactivity.NewNilMonitor[*udpclient.Conn]()
	if cfg.CreateInactivityMonitor != nil {
		monitor = cfg.CreateInactivityMonitor()
	}
	session := server.NewSession(cfg.Ctx, coapnet.NewConn(conn), cfg.MaxMessageSize, cfg.MTU, cfg.CloseSocket)
	cc := udpclient.NewConnWithOpts(session, &cfg,
		udpclient.WithBlockWise(createBlockWise),
		udpclient.WithInactivityMonitor(monitor),
		udpclient.WithRequestMonitor(cfg.RequestMonitor),
	)
	cfg.PeriodicRunner(func(now time.Time) bool {
		cc.CheckExpirations(now)
		return cc.Context().Err() == nil
	})
	go func() {
		if err := cc.Run(); err != nil {
			cfg.Errors(err)
		}
	}()
	return cc
}

// Transport tunes a connection that is not a UDP socket; zero fields take
// the engine's Config values. An SMS transport sets an SMS-sized ACK
// timeout, MaxRetransmit 0 (LwM2M-TS 1.0 §8.6.2: no CoAP retransmission over
// SMS), the block size that fits one SMS, short tokens and the SMS budget.
type Transport struct {
	AckTimeout     time.Duration
	MaxRetransmit  *uint32
	BlockSize      int
	MaxMessageSize uint32
	// MaxDatagram is the largest CoAP message one datagram of the transport
	// carries (one SMS after the mode's protection). A Register or Update
	// whose links make it larger goes block-wise (RFC 7959 Block1) in the
	// largest block that fits, whatever BlockSize says.
	MaxDatagram int
	// TokenLength is the length of the client's own tokens, 1–8 (RFC 7252
	// §5.3.1; 0: go-coap's 8). Over SMS every octet counts.
	TokenLength int
	// RequestTimeout bounds one exchange of the client (Register, Update,
	// De-register, a notification): without CoAP retransmission it is the
	// whole wait for the answer, including a DTLS handshake the first
	// message may cause.
	RequestTimeout time.Duration
	// QueueAwake is the queue-mode awake time on this transport (LwM2M-TS
	// 1.0 §8.3: MAX_TRANSMIT_WAIT of its parameters).
	QueueAwake time.Duration
	// DeregisterTimeout bounds the De-register on shutdown on this
	// transport (an SMS round trip takes longer than a UDP one).
	DeregisterTimeout time.Duration
}

// withTransport returns cfg with tr's non-zero settings applied.
func (c Config) withTransport(tr Transport) Config {
	if tr.AckTimeout > 0 {
		c.AckTimeout = tr.AckTimeout
	}
	if tr.MaxRetransmit != nil {
		c.MaxRetransmit = *tr.MaxRetransmit
	}
	if tr.BlockSize > 0 {
		c.BlockSize = tr.BlockSize
	}
	if tr.MaxMessageSize > 0 {
		c.MaxMessageSize = tr.MaxMessageSize
	}
	if tr.RequestTimeout > 0 {
		c.RequestTimeout = tr.RequestTimeout
	}
	if tr.QueueAwake > 0 {
		c.QueueAwake = tr.QueueAwake
	}
	if tr.DeregisterTimeout > 0 {
		c.DeregisterTimeout = tr.DeregisterTimeout
	}
	c.tokenLength = min(max(tr.TokenLength, 0), 8)
	c.maxDatagram = max(tr.MaxDatagram, 0)
	return c
}

// ServeConn serves server ssid's requests arriving on conn (one CoAP message
// per Read/Write, e.g. the SMS binding's Conn for that server) until ctx
// ends or conn fails, answering on the same conn. They act on that server's
// registration: an Execute of /1/x/8 received here makes the registration
// send its Update over its own (UDP) connection. Observations are not
// established over such a connection (the 2.05 carries no Observe option).
func (e *Engine) ServeConn(ctx context.Context, ssid uint16, conn net.Conn, tr Transport) error {
	cfg := e.cfg.withTransport(tr)
	sub := &Engine{cfg: cfg, objs: e.objs, log: e.log, clock: e.clock, rand: e.rand}
	opts, err := sub.coapOptions(e.serveCoAP(&connPeer{e: e, ssid: ssid}))
	if err != nil {
		return fmt.Errorf("lwm2m: serve connection for server %d: %w", ssid, err)
	}
	cc := ConnClient(conn, opts...)
	select {
	case <-ctx.Done():
	case <-cc.Done():
	}
	_ = cc.Close()
	<-cc.Done()
	return nil
}

// connPeer is a server reached over an extra connection: requests act on
// the server's current registration.
type connPeer struct {
	e    *Engine
	ssid uint16
}

func (p *connPeer) reg() *registration {
	p.e.mu.Lock()
	defer p.e.mu.Unlock()
	return p.e.regs[p.ssid]
}

func (p *connPeer) serverID() uint16    { return p.ssid }
func (p *connPeer) bootstrap() bool     { return false }
func (p *connPeer) observer() *observer { return nil }
func (p *connPeer) touched() {
	if r := p.reg(); r != nil {
		r.touched()
	}
}

func (p *connPeer) served(req Request, resp Response) {
	if r := p.reg(); r != nil {
		r.served(req, resp)
		return
	}
	if req.Op == OpExecute {
		p.e.log.Warn("request over a side connection for a server that is not running", "server_id", p.ssid, "path", req.Path.String())
	}
}
