package daemon

import (
	"context"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/config"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/objects"
)

// DefaultModemInfoInterval is how often the modem's identity, signal,
// registration and operator are read for the Device (3) and Connectivity
// Monitoring (4) objects while the modem is up (and once each time it comes
// up). PROJECT DEFAULT: one +CSQ/+CESQ/+CEREG/+COPS round a minute costs
// the AT port about 20 short commands and is as often as a server usefully
// observes a cellular signal.
const DefaultModemInfoInterval = 60 * time.Second

// modemInfoRefreshTimeout bounds one refresh (some 20 AT commands). PROJECT
// DEFAULT: far above a healthy modem's answers, short enough that a stuck
// refresh does not hold back the next one for long.
const modemInfoRefreshTimeout = 30 * time.Second

// Network Bearer codes of Connectivity Monitoring resource 0 (LwM2M-TS 1.0
// App. E.5).
const (
	bearerGSM   = 0
	bearerWCDMA = 2
	// bearerLTE is LTE-FDD. TS 27.007 <AcT> 7 does not say FDD or TDD;
	// UNCONFIRMED: FDD is the common case, a TDD network reports 6 too.
	bearerLTE = 6
	// bearerNBIoT is NB-IoT, code 7 of the LwM2M 1.1 draft registry
	// (UNCONFIRMED for 1.0, whose list stops naming at 6).
	bearerNBIoT = 7
)

// bearerOf maps the registration's access technology (TS 27.007 §7.3
// <AcT>) to a Network Bearer code; ok is false when it is unknown (and for
// NR, which the 1.0 code list lacks). The <AcT> list is recalled from
// 27.007, not in the spec digest: UNCONFIRMED.
func bearerOf(act int) (code int64, ok bool) {
	switch act {
	case 0, 1, 3, 8: // GSM, GSM Compact, GSM w/EGPRS, EC-GSM-IoT
		return bearerGSM, true
	case 2, 4, 5, 6: // UTRAN, w/HSDPA, w/HSUPA, w/HSDPA and HSUPA
		return bearerWCDMA, true
	case 7, 10, 13: // E-UTRAN, E-UTRAN connected to 5GCN, E-UTRA-NR dual connectivity
		return bearerLTE, true
	case 9: // E-UTRAN (NB-S1 mode)
		return bearerNBIoT, true
	}
	return 0, false
}

// connectivityOf turns what the driver read into Connectivity Monitoring
// values (LwM2M-TS 1.0 App. E.5). IP addresses and APNs are the modem's
// PDP contexts' (+CGPADDR, +CGDCONT): on a gateway whose traffic leaves
// through the modem's data bearer these are its cellular addresses.
// Router addresses and link utilisation are not among what the driver
// reads: those resources stay absent.
func connectivityOf(in modem.Info) objects.Connectivity {
	var c objects.Connectivity
	i64 := func(v int64) *int64 { return &v }
	bearer, haveBearer := bearerOf(in.Registration.AcT)
	if haveBearer {
		c.NetworkBearer = i64(bearer)
		// The bearer in use is the one bearer known to be available; the
		// driver does not ask the modem which others it supports.
		c.AvailableBearers = []int64{bearer}
	}
	lte := haveBearer && (bearer == bearerLTE || bearer == bearerNBIoT)
	// Resource 2 is "GSM RSSI, UMTS RSCP, LTE RSRP" in dBm (App. E.5): on
	// LTE the +CESQ RSRP (TS 27.007 §8.69), else the +CSQ RSSI (§8.5). A
	// UMTS modem's +CSQ is the RSSI, not the RSCP: the nearest value the
	// driver has (UNCONFIRMED as a stand-in for RSCP).
	switch {
	case lte && in.RSRPDBm != nil:
		c.RadioSignalStrength = i64(int64(*in.RSRPDBm))
	case in.SignalDBm != nil:
		c.RadioSignalStrength = i64(int64(*in.SignalDBm))
	}
	// Resource 3: "GSM RxQual 0–7, LTE RSRQ" (App. E.5). +CSQ <ber> is
	// the RXQUAL value (TS 27.007 §8.5, TS 45.008 §8.2.4); the RSRQ in dB
	// rounded to an Integer (UNCONFIRMED unit: the registry names no unit
	// for LTE).
	switch {
	case lte && in.RSRQDB != nil:
		c.LinkQuality = i64(int64(math.Round(*in.RSRQDB)))
	case !lte && in.BitErrorRate != nil:
		c.LinkQuality = i64(int64(*in.BitErrorRate))
	}
	if r := in.Registration; r.Stat == 1 || r.Stat == 5 {
		if r.CellID > 0 {
			c.CellID = i64(int64(r.CellID))
		}
		// The LAC resource carries the 2G/3G LAC, on LTE the tracking
		// area code, its counterpart (UNCONFIRMED).
		switch {
		case r.LAC > 0:
			c.LAC = i64(int64(r.LAC))
		case r.TAC > 0:
			c.LAC = i64(int64(r.TAC))
		}
	}
	c.IPAddresses = slices.Clone(in.IPAddresses)
	c.APNs = slices.Clone(in.APNs)
	// +COPS numeric <oper> is MCC (3 digits) ‖ MNC (2 or 3) (TS 27.007
	// §7.3).
	if v, err := strconv.ParseInt(in.MCC, 10, 64); err == nil && len(in.MCC) == 3 {
		c.SMCC = i64(v)
	}
	if v, err := strconv.ParseInt(in.MNC, 10, 64); err == nil && (len(in.MNC) == 2 || len(in.MNC) == 3) {
		c.SMNC = i64(v)
	}
	return c
}

// deviceOf is the modem's part of the Device object: identity only
// (+CGMI, +CGMM, +CGSN = IMEI as the serial number, +CGMR). The tree
// prefers the configuration's device: values where they are set.
func deviceOf(in modem.Info) objects.DeviceStatus {
	return objects.DeviceStatus{Manufacturer: in.Manufacturer, Model: in.Model, Serial: in.IMEI, Firmware: in.Revision}
}

// modemCache is the daemon's objects.ModemInfo: a cache of the last values
// read from the modem, which the tree reads (under its lock, so never
// waiting for the modem) and one refresher goroutine (run) writes.
type modemCache struct {
	log      *slog.Logger
	interval time.Duration // immutable

	mu     sync.Mutex           // guards the fields below
	dev    objects.DeviceStatus // guarded by mu
	conn   objects.Connectivity // guarded by mu
	info   modem.Info           // guarded by mu: the last successful read
	infoAt time.Time            // guarded by mu: when it was read (zero: never)
}

func newModemCache(log *slog.Logger, interval time.Duration) *modemCache {
	if interval <= 0 {
		interval = DefaultModemInfoInterval
	}
	return &modemCache{log: log, interval: interval}
}

// DeviceStatus implements objects.ModemInfo.
func (c *modemCache) DeviceStatus() objects.DeviceStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dev // no slices or pointers set: a copy is enough
}

// Connectivity implements objects.ModemInfo; the caller gets its own
// slices.
func (c *modemCache) Connectivity() objects.Connectivity {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cloneConnectivity(c.conn)
}

func cloneConnectivity(c objects.Connectivity) objects.Connectivity {
	c.AvailableBearers = slices.Clone(c.AvailableBearers)
	c.IPAddresses = slices.Clone(c.IPAddresses)
	c.RouterIPAddresses = slices.Clone(c.RouterIPAddresses)
	c.APNs = slices.Clone(c.APNs)
	return c
}

// last returns the last successful read and its time; ok is false before
// the first (or on a nil cache: no modem). The status report uses it
// instead of asking the modem again.
func (c *modemCache) last() (in modem.Info, at time.Time, ok bool) {
	if c == nil {
		return modem.Info{}, time.Time{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info, c.infoAt, !c.infoAt.IsZero()
}

// set stores what one refresh read and returns the resources whose value
// changed (appeared, disappeared or differ).
func (c *modemCache) set(in modem.Info) []objects.Path {
	dev, conn := deviceOf(in), connectivityOf(in)
	c.mu.Lock()
	oldDev, oldConn := c.dev, c.conn
	c.dev, c.conn = dev, conn
	c.info, c.infoAt = in, time.Now()
	c.mu.Unlock()

	var out []objects.Path
	str := func(res uint16, a, b string) {
		if a != b {
			out = append(out, objects.ResourcePath(objects.DeviceObjectID, 0, res))
		}
	}
	str(0, oldDev.Manufacturer, dev.Manufacturer)
	str(1, oldDev.Model, dev.Model)
	str(2, oldDev.Serial, dev.Serial)
	str(3, oldDev.Firmware, dev.Firmware)
	cm := func(res uint16, changed bool) {
		if changed {
			out = append(out, objects.ResourcePath(objects.ConnectivityObjectID, 0, res))
		}
	}
	ptrDiff := func(a, b *int64) bool { return (a == nil) != (b == nil) || a != nil && *a != *b }
	cm(0, ptrDiff(oldConn.NetworkBearer, conn.NetworkBearer))
	cm(1, !slices.Equal(oldConn.AvailableBearers, conn.AvailableBearers))
	cm(2, ptrDiff(oldConn.RadioSignalStrength, conn.RadioSignalStrength))
	cm(3, ptrDiff(oldConn.LinkQuality, conn.LinkQuality))
	cm(4, !slices.Equal(oldConn.IPAddresses, conn.IPAddresses))
	cm(7, !slices.Equal(oldConn.APNs, conn.APNs))
	cm(8, ptrDiff(oldConn.CellID, conn.CellID))
	cm(9, ptrDiff(oldConn.SMNC, conn.SMNC))
	cm(10, ptrDiff(oldConn.SMCC, conn.SMCC))
	cm(objects.LACResourceID, ptrDiff(oldConn.LAC, conn.LAC))
	return out
}

// infoSource is the part of the modem driver the refresher uses.
type infoSource interface {
	Health() modem.Health
	HealthChanged() <-chan struct{}
	Info(ctx context.Context) (modem.Info, error)
}

// run refreshes the cache while the modem is up: at once, after each
// change of the modem's health (it came up again, possibly on a rebooted
// modem; or a sweep ran) and when a refresh is interval old; it tells
// notify which resources changed, until ctx ends. Refreshing on every
// change, not only on a seen down→up, means a reconnect that happens while
// a refresh is under way is not missed. While the modem is down the last
// values stay (the identity does not change, the radio values are the
// last known). A failed refresh is logged at Debug only: the modem being
// down is normal and the driver reports it; the next tick tries again.
func (c *modemCache) run(ctx context.Context, m infoSource, notify func(objects.Path)) {
	tick := time.NewTicker(c.interval)
	defer tick.Stop()
	due := true
	for {
		changed := m.HealthChanged()
		if due && m.Health().Up {
			if c.refresh(ctx, m, notify) {
				due = false
				tick.Reset(c.interval)
			}
			if ctx.Err() != nil {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
			due = true
		case <-tick.C:
			due = true
		}
	}
}

// refresh reads the modem once; it reports whether it succeeded.
func (c *modemCache) refresh(ctx context.Context, m infoSource, notify func(objects.Path)) bool {
	rctx, cancel := context.WithTimeout(ctx, modemInfoRefreshTimeout)
	defer cancel()
	in, err := m.Info(rctx)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Debug("modem information not refreshed", "err", err)
		}
		return false
	}
	paths := c.set(in)
	for _, p := range paths {
		notify(p)
	}
	if len(paths) > 0 {
		c.log.Debug("modem information changed", "resources", len(paths))
	}
	return true
}

// modemInfoForTree is what objects.Config.Modem gets: the cache when the
// configuration has a modem, else a nil interface (the Device object then
// reports the configuration only and Connectivity Monitoring is empty).
func (d *Daemon) modemInfoForTree() objects.ModemInfo {
	if d.cfg.Modem == nil {
		return nil
	}
	d.info = newModemCache(d.opts.Logger.With("component", "modeminfo"), d.opts.ModemInfoInterval)
	return d.info
}

// runModemInfo runs the refresher until ctx ends (nil-safe).
func (d *Daemon) runModemInfo(ctx context.Context) {
	if d.info == nil || d.modem == nil {
		return
	}
	d.info.run(ctx, d.modem, notifyUnlessConfigured(d.cfg.Device, d.tree.NotifyChanged))
}

// notifyUnlessConfigured drops the changes of Device resources 0–3 that
// the configuration sets: the tree reports the configured value, which the
// modem's answer does not change, so observers have nothing to hear.
func notifyUnlessConfigured(dev config.Device, notify func(objects.Path)) func(objects.Path) {
	configured := [4]bool{dev.Manufacturer != "", dev.Model != "", dev.Serial != "", dev.Firmware != ""}
	return func(p objects.Path) {
		if p.Object() == objects.DeviceObjectID && p.IsResource() && p.Resource() < 4 && configured[p.Resource()] {
			return
		}
		notify(p)
	}
}
