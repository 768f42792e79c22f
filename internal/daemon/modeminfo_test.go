package daemon

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/config"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/objects"
)

func intp(v int) *int           { return &v }
func floatp(v float64) *float64 { return &v }

func val(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestConnectivityOf checks the modem.Info → Connectivity Monitoring
// mapping (LwM2M-TS 1.0 App. E.5).
func TestConnectivityOf(t *testing.T) {
	lteReg := modem.Registration{Stat: 1, TAC: 0x3C4D, CellID: 0x01A2B3C5, AcT: 7}
	for _, c := range []struct {
		name                                    string
		in                                      modem.Info
		bearer, signal, quality, cell, lac, mcc any
		mnc                                     any
	}{
		{
			name: "LTE: RSRP and RSRQ, TAC as LAC",
			in: modem.Info{SignalDBm: intp(-73), BitErrorRate: intp(0), RSRPDBm: intp(-90), RSRQDB: floatp(-9.5),
				Registration: lteReg, MCC: "208", MNC: "15", APNs: []string{"emu.apn"}, IPAddresses: []string{"10.64.0.2", "2001:db8::1"}},
			bearer: int64(6), signal: int64(-90), quality: int64(-10), cell: int64(0x01A2B3C5), lac: int64(0x3C4D),
			mcc: int64(208), mnc: int64(15),
		},
		{
			name:   "LTE without +CESQ: the +CSQ RSSI, no link quality",
			in:     modem.Info{SignalDBm: intp(-73), BitErrorRate: intp(3), Registration: lteReg, MCC: "310", MNC: "410"},
			bearer: int64(6), signal: int64(-73), quality: nil, cell: int64(0x01A2B3C5), lac: int64(0x3C4D),
			mcc: int64(310), mnc: int64(410),
		},
		{
			name: "GSM: RSSI and RxQual, LAC",
			in: modem.Info{SignalDBm: intp(-101), BitErrorRate: intp(5), RSRPDBm: intp(-90),
				Registration: modem.Registration{Stat: 5, LAC: 0x1A2B, CellID: 0x4C4D, AcT: 0}},
			bearer: int64(0), signal: int64(-101), quality: int64(5), cell: int64(0x4C4D), lac: int64(0x1A2B),
		},
		{
			name:   "UMTS HSPA",
			in:     modem.Info{SignalDBm: intp(-85), Registration: modem.Registration{Stat: 1, LAC: 7, CellID: 0x0FFFFFFF, AcT: 6}},
			bearer: int64(2), signal: int64(-85), cell: int64(0x0FFFFFFF), lac: int64(7),
		},
		{
			name:   "NB-IoT",
			in:     modem.Info{RSRPDBm: intp(-120), RSRQDB: floatp(-19.5), Registration: modem.Registration{Stat: 1, TAC: 1, CellID: 2, AcT: 9}},
			bearer: int64(7), signal: int64(-120), quality: int64(-20), cell: int64(2), lac: int64(1),
		},
		{
			name: "not registered: no bearer, cell or area; signal and operator still",
			in: modem.Info{SignalDBm: intp(-113), Registration: modem.Registration{Stat: 2, LAC: 5, CellID: 6, AcT: -1},
				MCC: "20", MNC: "1"},
			signal: int64(-113),
		},
		{
			name: "nothing known",
			in:   modem.Info{Registration: modem.Registration{Stat: -1, AcT: -1}},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := connectivityOf(c.in)
			for _, f := range []struct {
				name      string
				got, want any
			}{
				{"bearer", val(got.NetworkBearer), c.bearer},
				{"signal", val(got.RadioSignalStrength), c.signal},
				{"link quality", val(got.LinkQuality), c.quality},
				{"cell ID", val(got.CellID), c.cell},
				{"LAC", val(got.LAC), c.lac},
				{"SMCC", val(got.SMCC), c.mcc},
				{"SMNC", val(got.SMNC), c.mnc},
			} {
				if f.got != f.want {
					t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
				}
			}
			wantAvail := []int64(nil)
			if c.bearer != nil {
				wantAvail = []int64{c.bearer.(int64)}
			}
			if !slices.Equal(got.AvailableBearers, wantAvail) {
				t.Errorf("available bearers %v, want %v", got.AvailableBearers, wantAvail)
			}
			if !slices.Equal(got.IPAddresses, c.in.IPAddresses) || !slices.Equal(got.APNs, c.in.APNs) {
				t.Errorf("addresses %q, APNs %q", got.IPAddresses, got.APNs)
			}
			if got.RouterIPAddresses != nil || got.LinkUtilization != nil {
				t.Errorf("values the driver does not read: %+v", got)
			}
		})
	}
}

func TestModemCacheChangedPaths(t *testing.T) {
	c := newModemCache(slog.New(slog.DiscardHandler), time.Hour)
	in := modem.Info{Manufacturer: "M", Model: "X", Revision: "1", IMEI: "356938035643809", SignalDBm: intp(-73),
		Registration: modem.Registration{Stat: 1, TAC: 1, CellID: 2, AcT: 7}, MCC: "208", MNC: "15"}
	if _, _, ok := c.last(); ok {
		t.Error("last() before any refresh")
	}
	if _, _, ok := (*modemCache)(nil).last(); ok {
		t.Error("last() of no cache")
	}
	strs := func(ps []objects.Path) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.String())
		}
		return out
	}
	want := []string{"/3/0/0", "/3/0/1", "/3/0/2", "/3/0/3", "/4/0/0", "/4/0/1", "/4/0/2", "/4/0/8", "/4/0/9", "/4/0/10", "/4/0/12"}
	if got := strs(c.set(in)); !slices.Equal(got, want) {
		t.Errorf("first refresh changed %v, want %v", got, want)
	}
	if got := c.set(in); len(got) != 0 {
		t.Errorf("same values changed %v", strs(got))
	}
	in.SignalDBm = intp(-75)
	in.Registration.CellID = 3
	if got := strs(c.set(in)); !slices.Equal(got, []string{"/4/0/2", "/4/0/8"}) {
		t.Errorf("signal and cell change: %v", got)
	}
	in.SignalDBm = nil
	if got := strs(c.set(in)); !slices.Equal(got, []string{"/4/0/2"}) {
		t.Errorf("signal lost: %v", got)
	}
	in.IPAddresses, in.APNs = []string{"10.64.0.2"}, []string{"emu.apn"}
	if got := strs(c.set(in)); !slices.Equal(got, []string{"/4/0/4", "/4/0/7"}) {
		t.Errorf("PDP context up: %v", got)
	}
	if got, at, ok := c.last(); !ok || at.IsZero() || got.SignalDBm != nil || got.IMEI != in.IMEI {
		t.Errorf("last() = %+v, %v, %v", got, at, ok)
	}
	if d := c.DeviceStatus(); d.Serial != "356938035643809" || d.Firmware != "1" {
		t.Errorf("device status %+v", d)
	}
	// Readers get their own slices.
	c.Connectivity().AvailableBearers[0] = 99
	if c.Connectivity().AvailableBearers[0] != 6 {
		t.Error("Connectivity shares its slice")
	}
}

// fakeSource is a modem whose health the test flips and whose Info counts
// calls.
type fakeSource struct {
	mu      sync.Mutex
	up      bool
	changed chan struct{}
	rssi    int
	fail    bool
	calls   chan struct{} // one per Info
}

func newFakeSource() *fakeSource {
	return &fakeSource{changed: make(chan struct{}), calls: make(chan struct{}, 100), rssi: -73}
}

func (f *fakeSource) Health() modem.Health {
	f.mu.Lock()
	defer f.mu.Unlock()
	return modem.Health{Up: f.up}
}

func (f *fakeSource) HealthChanged() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

func (f *fakeSource) setUp(up bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.up = up
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeSource) Info(context.Context) (modem.Info, error) {
	f.mu.Lock()
	rssi, fail := f.rssi, f.fail
	f.mu.Unlock()
	f.calls <- struct{}{}
	if fail {
		return modem.Info{}, errors.New("modem: info: AT+CGMI: not connected")
	}
	return modem.Info{SignalDBm: &rssi, Registration: modem.Registration{Stat: 1, AcT: 0}}, nil
}

// TestModemCacheRun checks when the refresher asks the modem: at once when
// it comes up (again), every interval while up, never while down; and
// that it stops with its context.
func TestModemCacheRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	src := newFakeSource()
	c := newModemCache(slog.New(slog.DiscardHandler), time.Hour) // no tick in this test
	notified := make(chan string, 100)
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		c.run(rctx, src, func(p objects.Path) { notified <- p.String() })
		close(done)
	}()
	wait := func(what string) {
		t.Helper()
		select {
		case <-src.calls:
		case <-ctx.Done():
			t.Fatalf("no refresh %s", what)
		}
	}
	waitNotified := func(want string) {
		t.Helper()
		for {
			select {
			case p := <-notified:
				if p == want {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no notification of %s", want)
			}
		}
	}
	src.setUp(true)
	wait("when the modem comes up")
	waitNotified("/4/0/2")
	if v := val(c.Connectivity().RadioSignalStrength); v != int64(-73) {
		t.Errorf("signal %v", v)
	}
	// Down: nothing is asked; the last values stay. Up again: asked at
	// once, and a changed value is notified.
	src.mu.Lock()
	src.rssi = -81
	src.mu.Unlock()
	src.setUp(false)
	src.setUp(true)
	wait("when the modem comes up again")
	waitNotified("/4/0/2")
	if v := val(c.Connectivity().RadioSignalStrength); v != int64(-81) {
		t.Errorf("signal %v after the refresh", v)
	}
	stop()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("run did not stop")
	}
	select {
	case <-src.calls:
		t.Error("asked the modem more often than it came up")
	default:
	}
}

// TestModemCacheRunInterval checks the periodic refresh and that a failed
// one keeps the last values.
func TestModemCacheRunInterval(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	src := newFakeSource()
	src.up = true
	c := newModemCache(slog.New(slog.DiscardHandler), time.Millisecond)
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		c.run(rctx, src, func(objects.Path) {})
		close(done)
	}()
	defer func() { stop(); <-done }()
	for i := range 3 {
		select {
		case <-src.calls:
		case <-ctx.Done():
			t.Fatalf("refresh %d never came", i)
		}
	}
	src.mu.Lock()
	src.fail = true
	src.mu.Unlock()
	for i := range 3 { // past the failure
		select {
		case <-src.calls:
		case <-ctx.Done():
			t.Fatalf("refresh %d after the failure never came", i)
		}
	}
	if v := val(c.Connectivity().RadioSignalStrength); v != int64(-73) {
		t.Errorf("signal %v after failed refreshes, want the last known -73", v)
	}
}

// TestNotifyUnlessConfigured: a Device resource the configuration sets is
// not notified when the modem's value changes; the others are.
func TestNotifyUnlessConfigured(t *testing.T) {
	var got []string
	n := notifyUnlessConfigured(config.Device{Manufacturer: "acme", Firmware: "2.1"}, func(p objects.Path) { got = append(got, p.String()) })
	for _, p := range []objects.Path{
		objects.ResourcePath(objects.DeviceObjectID, 0, 0),
		objects.ResourcePath(objects.DeviceObjectID, 0, 1),
		objects.ResourcePath(objects.DeviceObjectID, 0, 2),
		objects.ResourcePath(objects.DeviceObjectID, 0, 3),
		objects.ResourcePath(objects.ConnectivityObjectID, 0, 0),
		objects.ResourcePath(objects.ConnectivityObjectID, 0, 2),
	} {
		n(p)
	}
	if want := []string{"/3/0/1", "/3/0/2", "/4/0/0", "/4/0/2"}; !slices.Equal(got, want) {
		t.Errorf("notified %v, want %v", got, want)
	}
}
