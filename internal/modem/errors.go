package modem

import (
	"errors"
	"fmt"
	"slices"
)

// Sentinel errors callers branch on.
var (
	// ErrError is the bare "ERROR" final result code (no numeric cause).
	ErrError = errors.New("modem answered ERROR")
	// ErrTimeout means a command got no final result code before its
	// deadline; the driver resynchronises before the next command.
	ErrTimeout = errors.New("modem: command timed out")
	// ErrLinkDown means the serial link failed (port vanished, EIO, closed)
	// or the modem rebooted while the command was outstanding.
	ErrLinkDown = errors.New("modem: link down")
	// ErrNotConnected means no initialised link was available before the
	// caller's deadline.
	ErrNotConnected = errors.New("modem: not connected")
	// ErrSendUncertain means the PDU of a +CMGS was written but the link
	// failed before the result: the SMS may or may not have been sent, so
	// it is not retried automatically.
	ErrSendUncertain = errors.New("modem: SMS submitted but outcome unknown")
	// ErrClosed is returned by an engine after Close.
	ErrClosed = errors.New("modem: closed")
)

// CMEError is a "+CME ERROR: <n>" final result (TS 27.007 §9.2).
type CMEError struct {
	Code int
}

func (e *CMEError) Error() string { return fmt.Sprintf("+CME ERROR: %d", e.Code) }

// CMSError is a "+CMS ERROR: <n>" final result (TS 27.005 §3.2.5,
// sms-pdu.md §11).
type CMSError struct {
	Code int
}

func (e *CMSError) Error() string { return fmt.Sprintf("+CMS ERROR: %d", e.Code) }

// CMS error codes the driver acts on (TS 27.005 §3.2.5; sms-pdu.md §10–11).
const (
	CMSMemoryFull       = 322 // storage full: triggers a sweep
	CMSInvalidIndex     = 321 // nothing stored at that index
	CMSNoCNMAExpected   = 340 // +CNMA when no acknowledgement was expected
	CMSInvalidPDUParam  = 304 // e.g. length mismatch: permanent
	CMSNoNetworkService = 331
	CMSNetworkTimeout   = 332
	CMSUnknown          = 500
	CMSSIMBusy          = 314
	CMSMEFailure        = 300
	CMSSCBusy           = 0xC0 // TP-FCS SC busy (TS 23.040 §9.2.3.22)
	CMSSATBusy          = 0xD4 // TP-FCS (U)SIM Application Toolkit busy
	cmsRPTemporaryFail  = 41   // RP cause temporary failure (TS 24.011 Annex E-2)
	cmsRPCongestion     = 42   // RP cause congestion
	cmsRPNetOutOfOrder  = 38   // RP cause network out of order
	cmsRPResourcesUnavl = 47   // RP cause resources unavailable, unspecified
	cmsRPDestOutOfOrder = 27   // RP cause destination out of order
)

// transientCMS lists the +CMS ERROR causes worth retrying: the network or
// the SIM is busy or unreachable for now (TS 24.011 Annex E-2 RP causes 38,
// 41, 42, 47; TS 27.005 §3.2.5 300, 314, 331, 332, 500; TS 23.040 §9.2.3.22
// TP-FCS 0xC0, 0xD4). Everything else (invalid PDU, barred, unknown
// subscriber, SMSC unknown, ...) is permanent.
var transientCMS = []int{
	cmsRPDestOutOfOrder, cmsRPNetOutOfOrder, cmsRPTemporaryFail, cmsRPCongestion, cmsRPResourcesUnavl,
	CMSMEFailure, CMSSIMBusy, CMSNoNetworkService, CMSNetworkTimeout, CMSUnknown,
	CMSSCBusy, CMSSATBusy,
}

// Transient reports whether the cause is worth retrying later.
func (e *CMSError) Transient() bool { return slices.Contains(transientCMS, e.Code) }
