package acme

import (
	"slices"
	"sync"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/types"
)

// challengeRecord is one presented challenge. Records are stored, sealed, in ChallengesAnnotation
// so that any replica can answer an HTTP-01 request and a restarted operator can accept and clean
// up what an earlier one presented. The key authorization is not stored: it is computed from the
// token and the account key wherever it is needed, so no annotation can choose it.
type challengeRecord struct {
	// Authz is the authorization URL the challenge belongs to.
	Authz string `json:"authz"`
	// URL is the challenge URL, posted to ask the server to validate.
	URL  string `json:"url"`
	Type string `json:"type"`
	// Identifier is the authorization's identifier value, without the "*." of a wildcard.
	Identifier string `json:"identifier"`
	Wildcard   bool   `json:"wildcard,omitempty"`
	Token      string `json:"token"`
	// Solver is the index in spec.acme.solvers of the solver that presented it, needed to
	// clean it up with the same provider.
	Solver      int       `json:"solver"`
	PresentedAt time.Time `json:"presentedAt"`
	Accepted    bool      `json:"accepted,omitempty"`
	// Sequential marks a record of a solver that presents one challenge at a time.
	Sequential bool `json:"sequential,omitempty"`
}

// orderState is what the signer knows about one CSR's order.
type orderState struct {
	orderURL   string
	challenges []challengeRecord
	// ignored lists the annotations that held values this operator did not seal for the CSR and
	// issuer; Sign clears and reports them before going on without them.
	ignored []string
	// binding is the account binding (see accountBinding) the state was built under: progress
	// made with another account key or server is not resumed.
	binding string
	// lastStatus is the order status seen by the previous look, to tell progress from waiting.
	lastStatus string
	// idlePolls counts consecutive looks at the order that changed nothing; it drives the
	// backoff and resets whenever the order moves.
	idlePolls int
	touched   time.Time
}

func (st *orderState) challenge(authzURL string) *challengeRecord {
	for i := range st.challenges {
		if st.challenges[i].Authz == authzURL {
			return &st.challenges[i]
		}
	}
	return nil
}

func (st *orderState) remove(authzURL string) {
	st.challenges = slices.DeleteFunc(st.challenges, func(r challengeRecord) bool { return r.Authz == authzURL })
}

// stateFromCSR rebuilds the order state from the CSR's annotations, after a restart, keeping only
// what opens with seal.
func stateFromCSR(csr *certificatesv1.CertificateSigningRequest, seal sealer) *orderState {
	st := &orderState{}
	var ok bool
	if st.orderURL, ok = seal.openOrderURL(csr.Annotations[OrderURLAnnotation]); !ok {
		st.ignored = append(st.ignored, OrderURLAnnotation)
	}
	if st.challenges, ok = seal.openChallenges(csr.Annotations[ChallengesAnnotation]); !ok {
		st.ignored = append(st.ignored, ChallengesAnnotation)
	}
	return st
}

// stateStore keeps each CSR's order state in memory between reconciles. The annotations are
// the durable copy; memory wins while the process lives because the informer cache that hands
// the controller its CSR can lag behind the annotations this signer just wrote, and reading a
// stale copy would order or present twice.
type stateStore struct {
	mu        sync.Mutex
	states    map[types.UID]*orderState
	lastSweep time.Time
}

// idleExpiry is how long an untouched state is kept; the annotations still hold it afterwards.
const idleExpiry = 6 * time.Hour

// load returns the state for csr, from memory or else from its annotations, opened with seal. A
// state in memory built under another account binding is rebuilt, so that a changed account key
// or server never resumes an order of the old one. The controller never reconciles one CSR twice
// at once, so the returned state is the caller's until Sign returns.
func (s *stateStore) load(csr *certificatesv1.CertificateSigningRequest, now time.Time, seal sealer, binding string) *orderState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.states == nil {
		s.states = map[types.UID]*orderState{}
	}
	s.sweep(now)
	st, ok := s.states[csr.UID]
	if !ok || st.binding != binding {
		st = stateFromCSR(csr, seal)
		st.binding = binding
		s.states[csr.UID] = st
	}
	st.touched = now
	return st
}

// forget drops a CSR's state once its order reached an end.
func (s *stateStore) forget(uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.states, uid)
}

// sweep drops states of CSRs nobody asked about for a long time (deleted CSRs, mostly), at most
// once a minute so that Sign stays cheap.
func (s *stateStore) sweep(now time.Time) {
	if now.Sub(s.lastSweep) < time.Minute {
		return
	}
	s.lastSweep = now
	for uid, st := range s.states {
		if now.Sub(st.touched) > idleExpiry {
			delete(s.states, uid)
		}
	}
}
