package lwm2m

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
)

// bsSession is the peer of a client-initiated bootstrap (LwM2M-TS 1.0
// §5.2.7, lwm2m.md §8.1).
type bsSession struct {
	e        *Engine
	finished chan struct{} // closed on a successful Bootstrap-Finish
	once     sync.Once
}

func (b *bsSession) serverID() uint16    { return 0 }
func (b *bsSession) bootstrap() bool     { return true }
func (b *bsSession) observer() *observer { return nil }
func (b *bsSession) touched()            {}
func (b *bsSession) served(req Request, resp Response) {
	if req.Op == OpBootstrapFinish && resp.Code == codes.Changed {
		b.once.Do(func() { close(b.finished) })
	}
}

// bootstrap runs one client-initiated bootstrap: honour the Client Hold Off
// Time, POST /bs?ep=, serve the bootstrap server's Write/Delete/Discover,
// and return when Bootstrap-Finish committed the staged configuration.
// Any failure aborts the staging, leaving the old state untouched.
func (e *Engine) bootstrap(ctx context.Context, acc Account) (err error) {
	if acc.HoldOff > 0 {
		e.log.Info("bootstrap: client hold off", "hold_off", acc.HoldOff)
		if !e.sleep(ctx, acc.HoldOff) {
			return ctx.Err()
		}
	}
	e.setState(ServerState{ShortID: 0, URI: acc.URI, State: "bootstrapping"})
	defer func() {
		st := ServerState{ShortID: 0, URI: acc.URI, State: "bootstrapped", LastUpdate: e.clock.Now()}
		if err != nil {
			st.State, st.LastError = "bootstrap failed", err.Error()
		}
		e.setState(st)
	}()
	if err := e.objs.BeginBootstrap(); err != nil {
		return fmt.Errorf("begin bootstrap: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			e.objs.AbortBootstrap()
			e.log.Warn("bootstrap aborted: previous configuration kept", "err", err)
		}
	}()
	bctx, cancel := context.WithTimeout(ctx, e.cfg.BootstrapTimeout)
	defer cancel()
	sess := &bsSession{e: e, finished: make(chan struct{})}
	opts, err := e.coapOptions(e.serveCoAP(sess))
	if err != nil {
		return err
	}
	var c *udpclient.Conn
	if e.cfg.Dial != nil {
		c, err = e.cfg.Dial(bctx, acc, opts...)
	} else {
		c, err = e.dialNet(bctx, acc, nil, opts...)
	}
	if err != nil {
		return fmt.Errorf("bootstrap: connect to %s: %w", acc.URI, err)
	}
	defer func() { _ = c.Close(); <-c.Done() }()
	rctx, rcancel := context.WithTimeout(bctx, e.cfg.RequestTimeout)
	defer rcancel()
	req, err := c.NewPostRequest(rctx, "/bs", message.TextPlain, nil, queryOpts([]string{"ep=" + e.cfg.Endpoint})...)
	if err != nil {
		return fmt.Errorf("bootstrap: build request: %w", err)
	}
	// The bootstrap server may start writing before its 2.04 reaches us;
	// the handler is already serving.
	start := e.clock.Now()
	resp, err := c.Do(req)
	c.ReleaseMessage(req)
	if err != nil {
		return fmt.Errorf("bootstrap-request to %s: %w", acc.URI, err)
	}
	code := resp.Code()
	c.ReleaseMessage(resp)
	if code != codes.Changed {
		return fmt.Errorf("bootstrap-request to %s: server answered %v", acc.URI, code)
	}
	e.log.Info("bootstrap requested", "uri", acc.URI, "endpoint", e.cfg.Endpoint)
	select {
	case <-sess.finished:
	case <-c.Done():
		return fmt.Errorf("bootstrap: connection to %s lost before Bootstrap-Finish", acc.URI)
	case <-bctx.Done():
		return fmt.Errorf("bootstrap: no Bootstrap-Finish from %s: %w", acc.URI, bctx.Err())
	}
	committed = true
	e.log.Info("bootstrap finished", "uri", acc.URI, "duration", e.clock.Now().Sub(start).Round(time.Millisecond))
	return nil
}
