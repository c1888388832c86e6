package controllers

import (
	certificatesv1 "k8s.io/api/certificates/v1"
	"sync"

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
	// byName holds, per CSR name, the UID it was seen with (names are reused) and the events
	// claimed for it.
	byName map[string]ledgerEntry
}

type ledgerEntry struct {
	uid    types.UID
	events map[string]bool
	// approver is who this process knows approved the CSR (its own approval controller), for the
	// record of the certificate that follows.
	approver *audit.Approver
}

func newRecordLedger() *recordLedger {
	return &recordLedger{byName: map[string]ledgerEntry{}}
}

// claim reserves the record of event for the CSR, and reports false when it was already
// reserved: then someone in this process has written it or is about to. A writer claims before
// the API write the record reports, so the records controller, which sees the write land, never
// writes a second copy beside the writer's.
func (l *recordLedger) claim(name string, uid types.UID, event string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.byName[name]
	if !ok || e.uid != uid {
		e = ledgerEntry{uid: uid, events: map[string]bool{}}
		l.byName[name] = e
	}
	if e.events[event] {
		return false
	}
	e.events[event] = true
	return true
}

// release gives up a claim whose write did not land, so that the record is owed again if the
// write landed after all (a lost response the re-read could not settle).
func (l *recordLedger) release(name string, uid types.UID, event string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.byName[name]; ok && e.uid == uid {
		delete(e.events, event)
	}
}

// approvedBy notes that this process approved the CSR, as approver.
func (l *recordLedger) approvedBy(name string, uid types.UID, approver *audit.Approver) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.byName[name]; ok && e.uid == uid {
		e.approver = approver
		l.byName[name] = e
	}
}

// approver is who this process knows approved the CSR, or nil.
func (l *recordLedger) approver(name string, uid types.UID) *audit.Approver {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.byName[name]; ok && e.uid == uid {
		return e.approver
	}
	return nil
}

// forget drops a deleted CSR, returning the UID it had.
func (l *recordLedger) forget(name string) (types.UID, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.byName[name]
	delete(l.byName, name)
	return e.uid, ok
}

// Events each controller owes records for: the approval side records decisions, the signing side
// what became of them, so split Deployments each record their own.
var (
	approvalEvents = []string{audit.EventApproved, audit.EventDenied}
	signingEvents  = []string{audit.EventFailed, audit.EventIssued}
)

// recordClaim is a writer's claim on a record: held when this writer is the one to write it.
type recordClaim struct {
	ledger *recordLedger
	name   string
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
	return recordClaim{ledger: l, name: c.Name, uid: c.UID, event: event, held: l.claim(c.Name, c.UID, event)}
}

// release gives the claim up when the write it was for failed.
func (c recordClaim) release() {
	if c.held && c.ledger != nil {
		c.ledger.release(c.name, c.uid, c.event)
	}
}
