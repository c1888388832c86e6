package controllers

import (
	"container/list"
	"crypto/sha256"
	"encoding/json"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/utils/clock"
)

// DefaultReferenceReviewTTL is how long an allowed reference check is reused for the same
// requester identity and Issuer when nothing in the RBAC watch says it changed. It bounds how long
// a revocation the watch cannot see (another authorizer than RBAC, a watch that is down, an API
// server whose authorizer lags) may go unnoticed.
const DefaultReferenceReviewTTL = 10 * time.Second

// referenceReviewSettle is how long after an RBAC change in a scope answers are not kept for it:
// the API server's own RBAC authorizer learns of a change through a watch like ours, and an
// answer it gave just after we saw the change may still be the old one.
const referenceReviewSettle = 2 * time.Second

// referenceReviewMax caps the answers kept; the oldest go first. A requester identity and Issuer
// pair is one entry, so this is thousands of active requesters across every Issuer.
const referenceReviewMax = 4096

// referenceReviews keeps the allowed answers of the signing gate's reference checks, so that a
// requester signing many CSRs from one Issuer costs one SubjectAccessReview per TTL instead of one
// per CSR. It is safe for concurrent use.
//
// Only allowed answers are kept. A denial fails its CSR for good (Failed DeniedReference), so a
// kept denial would fail a CSR made right after the right was granted, and asking again after a
// denial costs nothing the requester does not cause. A kept allowance is what could outlive a
// revocation, so it is dropped:
//   - when any Role or RoleBinding of the Issuer's namespace, or any ClusterRole or
//     ClusterRoleBinding, changes (the RBAC watch calls invalidateNamespace and invalidateAll);
//   - after the TTL, whatever the watch says;
//   - and an answer is never kept when the RBAC watch has not synced, when a change in its scope
//     was seen while the review was in flight, or when the last change in its scope was seen
//     less than referenceReviewSettle before the review was asked.
//
// So a revocation through RBAC stops signing as soon as the watch delivers it (normally well
// under a second), and any other revocation within the TTL.
type referenceReviews struct {
	ttl   time.Duration
	clock clock.PassiveClock
	// synced reports whether the RBAC watch has listed everything; until it has, nothing is kept.
	synced func() bool

	mu      sync.Mutex
	entries map[referenceKey]*list.Element
	order   *list.List // of *referenceEntry, oldest first, which is also soonest to expire
	// seq numbers RBAC changes; a scope's generation is the seq of its last change, so a
	// generation once seen is never seen again after a reset.
	seq        uint64
	cluster    rbacScope
	namespaces map[string]rbacScope
}

// referenceKey is a digest of everything the SubjectAccessReview was asked with: the requester's
// whole identity (user, UID, groups, extra) and the Issuer's namespace and name. Two identities
// that differ in any of it never share an answer.
type referenceKey [sha256.Size]byte

type referenceEntry struct {
	key        referenceKey
	namespace  string
	expires    time.Time
	clusterGen uint64
	nsGen      uint64
}

// rbacScope is what is known of the last RBAC change seen in a scope.
type rbacScope struct {
	gen uint64
	at  time.Time
}

// referenceTicket is taken before a review is asked and presented to keep its answer.
type referenceTicket struct {
	key        referenceKey
	namespace  string
	asked      time.Time
	clusterGen uint64
	nsGen      uint64
}

func newReferenceReviews(ttl time.Duration, clk clock.PassiveClock, synced func() bool) *referenceReviews {
	return &referenceReviews{ttl: ttl, clock: clk, synced: synced,
		entries: map[referenceKey]*list.Element{}, order: list.New(), namespaces: map[string]rbacScope{}}
}

// keyOf digests the review spec's identity with the Issuer's namespace and name. JSON quotes every
// string and sorts the extra's keys, so different specs never encode alike.
func keyOf(spec *authorizationv1.SubjectAccessReviewSpec, namespace, name string) referenceKey {
	b, err := json.Marshal(struct {
		User, UID       string
		Groups          []string
		Extra           map[string]authorizationv1.ExtraValue
		Namespace, Name string
	}{spec.User, spec.UID, spec.Groups, spec.Extra, namespace, name})
	if err != nil {
		// Strings and string slices always encode; an unusable key only means asking every time.
		return referenceKey{}
	}
	return sha256.Sum256(b)
}

// allowed reports whether an allowance for key in namespace is kept and still good.
func (c *referenceReviews) allowed(key referenceKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return false
	}
	e := el.Value.(*referenceEntry)
	if c.clock.Now().Before(e.expires) && e.clusterGen == c.cluster.gen && e.nsGen == c.namespaces[e.namespace].gen {
		return true
	}
	c.remove(el)
	return false
}

// ask takes a ticket before the review is sent.
func (c *referenceReviews) ask(key referenceKey, namespace string) referenceTicket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return referenceTicket{key: key, namespace: namespace, asked: c.clock.Now(),
		clusterGen: c.cluster.gen, nsGen: c.namespaces[namespace].gen}
}

// keepAllowed keeps an allowed answer, unless RBAC in its scope changed while it was asked, or
// changed so shortly before that the API server may not have seen the change yet.
func (c *referenceReviews) keepAllowed(t referenceTicket) {
	if !c.synced() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ns := c.namespaces[t.namespace]
	if c.cluster.gen != t.clusterGen || ns.gen != t.nsGen {
		return
	}
	if t.asked.Sub(c.cluster.at) < referenceReviewSettle || t.asked.Sub(ns.at) < referenceReviewSettle {
		return
	}
	if el, ok := c.entries[t.key]; ok {
		c.remove(el)
	}
	// The TTL runs from when the review was asked, not from when its answer came.
	e := &referenceEntry{key: t.key, namespace: t.namespace, expires: t.asked.Add(c.ttl), clusterGen: t.clusterGen, nsGen: t.nsGen}
	c.entries[t.key] = c.order.PushBack(e)
	for c.order.Len() > referenceReviewMax {
		c.remove(c.order.Front())
	}
}

func (c *referenceReviews) remove(el *list.Element) {
	delete(c.entries, el.Value.(*referenceEntry).key)
	c.order.Remove(el)
}

// invalidateNamespace drops every allowance for Issuers of namespace: a Role or RoleBinding there
// changed.
func (c *referenceReviews) invalidateNamespace(namespace string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.namespaces[namespace] = rbacScope{gen: c.seq, at: c.clock.Now()}
	// One scope per namespace that ever had an RBAC change; past a bound, forgetting them all and
	// dropping every allowance keeps memory bounded and is always safe.
	if len(c.namespaces) > 4*referenceReviewMax {
		c.namespaces = map[string]rbacScope{}
		c.cluster = rbacScope{gen: c.seq, at: c.clock.Now()}
	}
	c.dropInvalid()
}

// invalidateAll drops every allowance: a ClusterRole or ClusterRoleBinding changed, or a change
// could not be placed in a namespace.
func (c *referenceReviews) invalidateAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.cluster = rbacScope{gen: c.seq, at: c.clock.Now()}
	c.dropInvalid()
}

// dropInvalid frees the entries that can no longer be used, so that memory follows what is good.
func (c *referenceReviews) dropInvalid() {
	for el := c.order.Front(); el != nil; {
		next := el.Next()
		e := el.Value.(*referenceEntry)
		if e.clusterGen != c.cluster.gen || e.nsGen != c.namespaces[e.namespace].gen {
			c.remove(el)
		}
		el = next
	}
}
