package smsbind_test

import (
	"context"
	"log/slog"
	"os"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/smsbind"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/smsdtls"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

// Example shows how the daemon wires the binding between the modem driver,
// the UICC application and the LwM2M engine. The server table comes from
// the Security objects (resources 6–10); the limits from config's sms.*.
func Example() {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var store smsdtls.SessionStore // the daemon's internal/store adapter
	var bind *smsbind.Binding

	m, _ := modem.New(modem.Config{Port: "/dev/ttyUSB2", HandleSMS: func(ctx context.Context, s modem.SMS) error {
		// Synchronous hand-off: the driver deletes the SMS once this
		// returns nil.
		return bind.HandleSMS(ctx, smsbind.SMS{TPDU: s.TPDU, SMSC: s.SMSC})
	}})
	submit := smsbind.SubmitFunc(func(ctx context.Context, tpdu []byte) error {
		_, err := m.SendSMS(ctx, tpdu)
		return err
	})
	app, _ := uicc.New(uicc.TransportFunc(m.CSIM), uicc.Config{}, uicc.SMSSender(submit))

	bind, _ = smsbind.New(smsbind.Config{
		Servers: []smsbind.Server{
			{ID: 1, Number: "+33600000001", Mode: smsbind.ModeNoSec},
			{ID: 2, Number: "+33600000002", Mode: smsbind.ModeDTLS,
				PSKIdentity: []byte("lwm2m-clientd-test"), PSK: make(smsdtls.Secret, 16)},
			{ID: 3, Number: "+33600000003", Mode: smsbind.ModeSecurePacket},
		},
		CountryCode: "33",
	}, submit, smsbind.WithUICC(app), smsbind.WithSessionStore(store), smsbind.WithLogger(log))
	defer bind.Close()
	go bind.Run(ctx) // the GET DATA poll and the DTLS readers

	// The engine gets one net.Conn per server, the same in every mode.
	conn, _ := bind.Conn(2)
	_ = conn // e.g. go-coap's udp client on a Session over conn
}
