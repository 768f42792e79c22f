package lwm2m

import (
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
