package daemon

import (
	"errors"
	"log/slog"
	"net"
)

// datagramConn gives an SMS connection datagram semantics toward the CoAP
// stack: an SMS that could not be sent (modem unplugged, a +CMS ERROR that
// outlasted the driver's retries, a submission whose outcome is unknown, a
// write deadline) is a lost datagram, which the server's retry recovers
// from (LwM2M-TS 1.0 §8.6.2: retries over SMS are the application's), as a
// lost UDP datagram would be. go-coap closes a connection whose response
// write fails, and an SMS connection closed that way stayed closed until
// the daemon restarted. Only a closed Conn is reported.
type datagramConn struct {
	net.Conn
	log  *slog.Logger
	ssid uint16
}

func (c datagramConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err == nil || errors.Is(err, net.ErrClosed) {
		return n, err
	}
	c.log.Warn("SMS not sent: the message is lost, the server's retry will ask again", "server_id", c.ssid, "err", err)
	return len(b), nil
}
