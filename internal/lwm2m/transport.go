package lwm2m

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/pion/dtls/v3"
	dtlsnet "github.com/pion/dtls/v3/pkg/net"
	coapdtls "github.com/plgd-dev/go-coap/v3/dtls"
	"github.com/plgd-dev/go-coap/v3/net/blockwise"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/udp"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
)

// Default ports, RFC 7252 §6.1/§6.2.
const (
	coapPort  = "5683"
	coapsPort = "5684"
)

// ErrBadURI reports a server URI the engine cannot dial.
var ErrBadURI = errors.New("unsupported server URI")

// splitURI returns host:port and whether DTLS is needed.
func splitURI(uri string) (hostport string, secure bool, err error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", false, fmt.Errorf("%w: %q: %w", ErrBadURI, uri, err)
	}
	port := coapPort
	switch strings.ToLower(u.Scheme) {
	case "coap":
	case "coaps":
		secure, port = true, coapsPort
	default:
		return "", false, fmt.Errorf("%w: %q: scheme must be coap or coaps", ErrBadURI, uri)
	}
	if u.Hostname() == "" {
		return "", false, fmt.Errorf("%w: %q: no host", ErrBadURI, uri)
	}
	if p := u.Port(); p != "" {
		port = p
	}
	return net.JoinHostPort(u.Hostname(), port), secure, nil
}

// szx converts a block size to its SZX exponent (RFC 7959 §2.2).
func szx(size int) (blockwise.SZX, error) {
	if size < 16 || size > 1024 || size&(size-1) != 0 {
		return 0, fmt.Errorf("block size %d: must be a power of two in 16..1024", size)
	}
	return blockwise.SZX(bits.TrailingZeros(uint(size)) - 4), nil
}

// coapOptions are the go-coap options every connection of the engine gets:
// transmission parameters and block size from Config (go-coap's defaults
// are UDP-sized), the handler, and an error sink that logs.
func (e *Engine) coapOptions(h udpclient.HandlerFunc) ([]udp.Option, error) {
	return e.coapOptionsFor(e.cfg, h)
}

// coapOptionsFor is coapOptions with the transmission settings of cfg (an
// SMS connection's, see Engine.withTransport).
func (e *Engine) coapOptionsFor(cfg Config, h udpclient.HandlerFunc) ([]udp.Option, error) {
	s, err := szx(cfg.BlockSize)
	if err != nil {
		return nil, err
	}
	opts := []udp.Option{
		options.WithHandlerFunc(h),
		options.WithTransmission(1, cfg.AckTimeout, cfg.MaxRetransmit, cfg.AckRandomFactor),
		options.WithBlockwise(!cfg.DisableBlockwise, s, cfg.RequestTimeout),
		options.WithMaxMessageSize(cfg.MaxMessageSize),
		options.WithErrors(func(err error) { e.log.Debug("coap error", "err", err) }),
		options.WithPeriodicRunner(periodicRunner(cfg.AckTimeout / 4)),
	}
	if cfg.tokenLength > 0 {
		opts = append(opts, options.WithGetToken(newTokenSource(cfg.tokenLength, e.rand)))
	}
	return opts, nil
}

// periodicRunner replaces go-coap's default runner, which checks
// retransmissions and expirations only every 4 s (options/config/common.go
// in v3.8.1): far too coarse for a 2 s ACK timeout, and far too fine-grained
// to matter for SMS. The tick follows the configured ACK timeout.
func periodicRunner(tick time.Duration) func(f func(now time.Time) bool) {
	// Between 10 ms and 250 ms: fine enough for UDP timers, and a closed
	// connection's runner ends within a quarter second.
	tick = min(max(tick, 10*time.Millisecond), 250*time.Millisecond)
	return func(f func(now time.Time) bool) {
		go func() {
			t := time.NewTicker(tick)
			defer t.Stop()
			for now := range t.C {
				if !f(now) {
					return
				}
			}
		}()
	}
}

// dialNet is the default Dialer: UDP for coap://, DTLS 1.2 PSK for coaps://.
// laddr, when non-nil, reuses a local address (a queue-mode wake-up keeps
// its source port so that the server's view of it is unchanged).
func (e *Engine) dialNet(ctx context.Context, acc Account, laddr *net.UDPAddr, opts ...udp.Option) (*udpclient.Conn, error) {
	hostport, secure, err := splitURI(acc.URI)
	if err != nil {
		return nil, err
	}
	raddr, err := net.ResolveUDPAddr("udp", hostport)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", hostport, err)
	}
	uc, err := net.DialUDP("udp", laddr, raddr)
	if err != nil && laddr != nil {
		uc, err = net.DialUDP("udp", nil, raddr)
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", hostport, err)
	}
	opts = append(opts, options.WithCloseSocket())
	if !secure {
		return udp.Client(uc, opts...), nil
	}
	if acc.Security != SecurityPSK || len(acc.PSKIdentity) == 0 || len(acc.PSKKey) == 0 {
		_ = uc.Close()
		return nil, fmt.Errorf("dial %s: coaps needs a PSK identity and key (only PSK is supported)", hostport)
	}
	key := append([]byte(nil), acc.PSKKey...)
	dc, err := dtls.ClientWithOptions(dtlsnet.PacketConnFromConn(uc), raddr,
		dtls.WithPSK(func([]byte) ([]byte, error) { return key, nil }),
		dtls.WithPSKIdentityHint(append([]byte(nil), acc.PSKIdentity...)),
		dtls.WithCipherSuites(e.cfg.CipherSuites...),
	)
	if err != nil {
		_ = uc.Close()
		return nil, fmt.Errorf("dtls client %s: %w", hostport, err)
	}
	// pion's handshake retransmits until its context ends: bound it.
	hctx, cancel := context.WithTimeout(ctx, e.cfg.HandshakeTimeout)
	defer cancel()
	start := e.clock.Now()
	if err := dc.HandshakeContext(hctx); err != nil {
		_ = dc.Close()
		return nil, fmt.Errorf("dtls handshake with %s: %w", hostport, err)
	}
	state, _ := dc.ConnectionState()
	e.log.Info("dtls session established", "server_id", acc.ShortID, "uri", acc.URI,
		"cipher_suite", state.CipherSuiteID.String(), "duration", e.clock.Now().Sub(start).Round(time.Millisecond))
	return coapdtls.Client(dc, opts...), nil
}
