package venafi

import (
	"slices"
	"sync"
	"time"
)

// Behaviour is how a server answers; tests change it at any time with SetBehaviour.
type Behaviour struct {
	// PendingPolls is how many retrievals of an enrollment answer "pending" before its outcome.
	PendingPolls int
	// Reject, when not empty, makes the outcome of every enrollment a rejection carrying this
	// message, as when the CA or an approver in the service declines the request.
	Reject string
	// RefuseRequests, when not empty, makes the service refuse new certificate requests outright
	// (HTTP 400) with this message, as a zone that forbids what the CSR asks for does.
	RefuseRequests string
	// Fail makes every endpoint answer HTTP 500 Internal Server Error, as a service in trouble
	// does.
	Fail bool
	// MaxValidity caps the validity the zone grants; zero grants what was asked.
	MaxValidity time.Duration
}

// Enrollment is what the server received for one certificate request and how it went.
type Enrollment struct {
	// PickupID is what the server answered the request with: the certificate DN for TPP, the
	// certificate request ID for Cloud.
	PickupID string
	// CSR is the PKCS#10 request as received, in PEM.
	CSR []byte
	// ObjectName is the TPP certificate object name (vcert's friendly name); empty for Cloud.
	ObjectName string
	// CustomFields are the TPP custom fields received, by name; nil for Cloud, whose vcert
	// connector sends none.
	CustomFields map[string][]string
	// Origin is the origin the client declared (TPP "Origin", Cloud apiClientInformation.type).
	Origin string
	// RequestedValidity is the validity asked for: for TPP the "Specific End Date" attribute
	// less the time the request arrived, rounded to the second; for Cloud the validityPeriod.
	RequestedValidity time.Duration
	// RawValidity is the validity as it was on the wire: TPP's end date or Cloud's ISO 8601
	// period.
	RawValidity string
	// ReceivedAt is when the request arrived.
	ReceivedAt time.Time
	// Retrievals counts the retrieve calls for this enrollment, whatever they answered.
	Retrievals int
	// Rejection is the message the enrollment was rejected with, empty unless it was; Issued
	// holds the chain (leaf, intermediate, root) once it was issued.
	Rejection string
	Issued    []byte
}

// book is the bookkeeping both servers share: behaviour, enrollments and the requests per CSR.
type book struct {
	mu          sync.Mutex
	behaviour   Behaviour
	enrollments map[string]*Enrollment // by pickup ID
	order       []string               // pickup IDs in the order requested
	perCSR      map[string]int         // requests by CSR DER
	ca          *issuingCA
	onRetrieve  func(Enrollment)
}

func newBook(name string, b Behaviour, onRetrieve func(Enrollment)) (*book, error) {
	ca, err := newIssuingCA(name)
	if err != nil {
		return nil, err
	}
	return &book{behaviour: b, enrollments: map[string]*Enrollment{}, perCSR: map[string]int{}, ca: ca, onRetrieve: onRetrieve}, nil
}

func (b *book) setBehaviour(bh Behaviour) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.behaviour = bh
}

func (b *book) currentBehaviour() Behaviour {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.behaviour
}

// enroll records a request. A request for a pickup ID already known (TPP renews the same
// certificate object when the same name is requested again) starts that enrollment afresh,
// unless the object is in an error state: like TPP, the server then stays stuck on the old
// error until the object is reset.
func (b *book) enroll(e Enrollment) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if old, known := b.enrollments[e.PickupID]; !known {
		b.order = append(b.order, e.PickupID)
	} else if old.Rejection != "" {
		e.Rejection = old.Rejection
	}
	e.ReceivedAt = time.Now()
	b.enrollments[e.PickupID] = &e
	b.perCSR[csrKey(e.CSR)]++
}

// outcome is what a retrieval finds.
type outcome int

const (
	outcomeUnknown outcome = iota
	outcomePending
	outcomeRejected
	outcomeIssued
)

// retrieve counts one retrieval of pickupID and decides its outcome: pending while fewer than
// PendingPolls retrievals came before, then rejected or issued, for good.
func (b *book) retrieve(pickupID string) (outcome, Enrollment, error) {
	b.mu.Lock()
	e, ok := b.enrollments[pickupID]
	if !ok {
		b.mu.Unlock()
		return outcomeUnknown, Enrollment{}, nil
	}
	e.Retrievals++
	snapshot := cloneEnrollment(e)
	hook := b.onRetrieve
	b.mu.Unlock()
	// The hook runs unlocked: it may call back into the server or take a while (reading the API
	// server), and must not stall other clients.
	if hook != nil {
		hook(snapshot)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	bh := b.behaviour
	switch {
	case e.Rejection != "":
		return outcomeRejected, cloneEnrollment(e), nil
	case e.Issued != nil:
		return outcomeIssued, cloneEnrollment(e), nil
	case e.Retrievals <= bh.PendingPolls:
		return outcomePending, cloneEnrollment(e), nil
	case bh.Reject != "":
		e.Rejection = bh.Reject
		return outcomeRejected, cloneEnrollment(e), nil
	}
	validity := e.RequestedValidity
	if validity <= 0 {
		validity = 90 * 24 * time.Hour
	}
	if bh.MaxValidity > 0 && validity > bh.MaxValidity {
		validity = bh.MaxValidity
	}
	chain, err := b.ca.sign(e.CSR, e.ReceivedAt.Add(validity))
	if err != nil {
		return outcomeUnknown, Enrollment{}, err
	}
	e.Issued = encodeChain(chain)
	return outcomeIssued, cloneEnrollment(e), nil
}

// reset clears a rejected enrollment so that it can be requested again, as TPP's reset does
// for a certificate object in an error state. It reports whether the object exists and whether
// anything was reset.
func (b *book) reset(pickupID string) (exists, wasReset bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.enrollments[pickupID]
	if !ok {
		return false, false
	}
	if e.Rejection == "" {
		return true, false
	}
	e.Rejection, e.Retrievals = "", 0
	return true, true
}

func (b *book) list() []Enrollment {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Enrollment, 0, len(b.order))
	for _, id := range b.order {
		out = append(out, cloneEnrollment(b.enrollments[id]))
	}
	return out
}

func (b *book) get(pickupID string) (Enrollment, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.enrollments[pickupID]
	if !ok {
		return Enrollment{}, false
	}
	return cloneEnrollment(e), true
}

func (b *book) requestsFor(csrPEM []byte) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.perCSR[csrKey(csrPEM)]
}

func (b *book) enrollmentFor(csrPEM []byte) (Enrollment, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	key := csrKey(csrPEM)
	for i := len(b.order) - 1; i >= 0; i-- {
		if e := b.enrollments[b.order[i]]; csrKey(e.CSR) == key {
			return cloneEnrollment(e), true
		}
	}
	return Enrollment{}, false
}

func cloneEnrollment(e *Enrollment) Enrollment {
	c := *e
	c.CSR = slices.Clone(e.CSR)
	c.Issued = slices.Clone(e.Issued)
	if e.CustomFields != nil {
		c.CustomFields = make(map[string][]string, len(e.CustomFields))
		for k, v := range e.CustomFields {
			c.CustomFields[k] = slices.Clone(v)
		}
	}
	return c
}
