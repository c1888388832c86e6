package controllers

import (
	"sync"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/signerpolicy/signer-policy-operator/internal/audit"
)

// recordLedger remembers, per CSR, which governance records this process has written or is about
// to write, so that the records controller writes only those still owed. It is memory only, on
// purpose: a process that starts knows of no record, so it owes every record of every CSR that
// exists and writes them again (with the same recordID, which is what a consumer deduplicates
// by). That is what makes records at least once across any stop, SIGKILL included, without an
// API write per CSR to mark a record as written.
type recordLedger struct {
	mu sync.Mutex
	// byUID holds, per CSR (by UID: names are reused), the state of each event's record.
	byUID map[types.UID]*ledgerEntry
}

type recordState int

const (
	// recordInFlight: a writer claimed the record before the API write it reports.
	recordInFlight recordState = iota + 1
	// recordWritten: the record is in the log.
	recordWritten
)

type ledgerEntry struct {
	events map[string]recordState
	// approver is the approver the first Approved record of this process named, which the record
	// of the certificate that follows names too: what a later observation says cannot change
	// what was recorded.
	approver *audit.Approver
}

func newRecordLedger() *recordLedger {
	return &recordLedger{byUID: map[types.UID]*ledgerEntry{}}
}

func (l *recordLedger) entryLocked(uid types.UID) *ledgerEntry {
	e := l.byUID[uid]
	if e == nil {
		e = &ledgerEntry{events: map[string]recordState{}}
		l.byUID[uid] = e
	}
	return e
}

// claim reserves the record of event for the CSR, and reports false when it was already
// reserved: then someone in this process has written it or is about to. A writer claims before
// the API write the record reports, so the records controller, which sees the write land, never
// writes a second copy beside the writer's.
func (l *recordLedger) claim(uid types.UID, event string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entryLocked(uid)
	if e.events[event] != 0 {
		return false
	}
	e.events[event] = recordInFlight
	return true
}

// state is where the record of event for the CSR stands (0: owed).
func (l *recordLedger) state(uid types.UID, event string) recordState {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.byUID[uid]; e != nil {
		return e.events[event]
	}
	return 0
}

// written marks a claimed record as in the log; for an Approved record, approver is remembered for
// the Issued record.
func (l *recordLedger) written(uid types.UID, event string, approver *audit.Approver) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entryLocked(uid)
	e.events[event] = recordWritten
	if event == audit.EventApproved && e.approver == nil {
		e.approver = approver
	}
}

// release gives up a claim whose write did not land, so that the record is owed again if the
// write landed after all (a lost response the re-read could not settle): the records controller,
// which waits on records in flight, then writes it.
func (l *recordLedger) release(uid types.UID, event string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.byUID[uid]; e != nil && e.events[event] == recordInFlight {
		delete(e.events, event)
	}
}

// approver is the approver this process recorded for the CSR's approval, or nil.
func (l *recordLedger) approver(uid types.UID) *audit.Approver {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.byUID[uid]; e != nil {
		return e.approver
	}
	return nil
}

// forget drops a deleted CSR.
func (l *recordLedger) forget(uid types.UID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.byUID, uid)
}

// Events each controller owes records for: the approval side records decisions, the signing side
// what became of them, so split Deployments each record their own.
var (
	approvalEvents = []string{audit.EventApproved, audit.EventDenied, audit.EventManualReview}
	signingEvents  = []string{audit.EventFailed, audit.EventIssued}
)

// recordClaim is a writer's claim on a record: held when this writer is the one to write it.
type recordClaim struct {
	ledger *recordLedger
	uid    types.UID
	event  string
	held   bool
}

// claimFor claims the record of event for c before the write it reports. A claim that is not held
// means the record was already claimed (the records controller found it owed, so the CSR already
// has what the write would add, and the write will conflict). A nil ledger (a reconciler built
// without the records controller) holds every claim.
func (l *recordLedger) claimFor(c *certificatesv1.CertificateSigningRequest, event string) recordClaim {
	if l == nil {
		return recordClaim{held: true}
	}
	return recordClaim{ledger: l, uid: c.UID, event: event, held: l.claim(c.UID, event)}
}

// release gives the claim up when the write it was for failed, or landed without its record.
func (c recordClaim) release() {
	if c.held && c.ledger != nil {
		c.ledger.release(c.uid, c.event)
	}
}

// written marks the claimed record as in the log.
func (c recordClaim) written(approver *audit.Approver) {
	if c.held && c.ledger != nil {
		c.ledger.written(c.uid, c.event, approver)
	}
}
