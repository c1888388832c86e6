// Package approvers tells who approved or denied a CSR. A CSR's Approved and Denied conditions do
// not say who wrote them, and the API server's audit log is not the operator's to read, so the
// operator serves a validating admission webhook on certificatesigningrequests/approval that never
// refuses anything: it only remembers who asked the API server to write each condition, for the
// governance record of that decision.
package approvers

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/signerpolicy/signer-policy-operator/internal/audit"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
)

// Path is where the webhook is served; config/webhook names it.
const Path = "/observe-csr-approval"

// keep is how long an observation is kept: kube-controller-manager deletes a decided CSR after an
// hour, so a record is owed well within that, unless the operator restarts, and then the
// observation is gone anyway.
const keep = 2 * time.Hour

// maxObservations bounds memory if approvals arrive faster than they age out (about 300 bytes
// each, so 30 MiB); the oldest are dropped first, and their records say the approver is unknown.
const maxObservations = 100_000

// Observations remembers who asked to write each Approved and Denied condition. It is safe for
// concurrent use by the webhook and the controllers.
type Observations struct {
	clock clock.PassiveClock

	mu sync.Mutex
	// byCSR holds each CSR's observations in the order they came.
	byCSR map[types.UID][]observation
	count int
}

type observation struct {
	typ       certificatesv1.RequestConditionType
	condition string // what identifies the condition written: reason, message and update time
	who       audit.Identity
	at        time.Time
}

// NewObservations returns an empty store.
func NewObservations(c clock.PassiveClock) *Observations {
	return &Observations{clock: c, byCSR: map[types.UID][]observation{}}
}

func conditionKey(c *certificatesv1.CertificateSigningRequestCondition) string {
	return c.Reason + "\x00" + c.Message + "\x00" + c.LastUpdateTime.UTC().Format(time.RFC3339)
}

func (o *Observations) add(uid types.UID, c *certificatesv1.CertificateSigningRequestCondition, who audit.Identity) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.clock.Now()
	if o.count >= maxObservations {
		o.pruneLocked(now)
	}
	o.byCSR[uid] = append(o.byCSR[uid], observation{typ: c.Type, condition: conditionKey(c), who: who, at: now})
	o.count++
}

// pruneLocked drops what has aged out and, if that is not enough, the oldest tenth.
func (o *Observations) pruneLocked(now time.Time) {
	cutoff := now.Add(-keep)
	if o.count >= maxObservations {
		var ats []time.Time
		for _, obs := range o.byCSR {
			for _, ob := range obs {
				ats = append(ats, ob.at)
			}
		}
		slices.SortFunc(ats, time.Time.Compare)
		cutoff = ats[len(ats)/10]
	}
	for uid, obs := range o.byCSR {
		kept := slices.DeleteFunc(obs, func(ob observation) bool { return !ob.at.After(cutoff) })
		o.count -= len(obs) - len(kept)
		if len(kept) == 0 {
			delete(o.byCSR, uid)
		} else {
			o.byCSR[uid] = kept
		}
	}
}

// Approver says who wrote the CSR's condition of type typ, as far as the webhook saw. Only an
// observation of that very condition (same type, reason, message and update time) counts, so a
// request that was refused after the webhook saw it, or another approver's different condition,
// is not taken for the one that landed.
func (o *Observations) Approver(c *certificatesv1.CertificateSigningRequest, typ certificatesv1.RequestConditionType) *audit.Approver {
	cond := csr.Condition(c, typ)
	if o == nil || cond == nil {
		return &audit.Approver{Source: audit.ApproverUnknown}
	}
	key := conditionKey(cond)
	o.mu.Lock()
	defer o.mu.Unlock()
	var seen []audit.Identity
	for _, ob := range o.byCSR[c.UID] {
		if ob.typ == typ && ob.condition == key && !slices.ContainsFunc(seen, func(id audit.Identity) bool { return sameIdentity(id, ob.who) }) {
			seen = append(seen, ob.who)
		}
	}
	switch len(seen) {
	case 0:
		return &audit.Approver{Source: audit.ApproverUnknown}
	case 1:
		return &audit.Approver{Source: audit.ApproverWebhook, Identity: &seen[0]}
	}
	return &audit.Approver{Source: audit.ApproverAmbiguous, Candidates: seen}
}

// Forget drops what is known of a CSR once every record of its decision is written or the CSR is
// gone.
func (o *Observations) Forget(uid types.UID) {
	if o == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.count -= len(o.byCSR[uid])
	delete(o.byCSR, uid)
}

func sameIdentity(a, b audit.Identity) bool {
	return a.Username == b.Username && a.UID == b.UID && slices.Equal(a.Groups, b.Groups)
}

// IdentityOf converts the API server's user info.
func IdentityOf(u authenticationv1.UserInfo) audit.Identity {
	id := audit.Identity{Username: u.Username, UID: u.UID, Groups: slices.Clone(u.Groups)}
	if len(u.Extra) > 0 {
		id.Extra = make(map[string][]string, len(u.Extra))
		for k, v := range u.Extra {
			id.Extra[k] = slices.Clone(v)
		}
	}
	return id
}

// Webhook observes updates of the approval subresource. It allows every request, whatever it
// carries: approvals must never depend on it (it is also registered with failurePolicy Ignore).
type Webhook struct {
	Observations *Observations
}

var _ admission.Handler = (*Webhook)(nil)

// Handle remembers who added an Approved or Denied condition. A dry run writes nothing, so it is
// not remembered.
func (w *Webhook) Handle(_ context.Context, req admission.Request) admission.Response {
	allowed := admission.Allowed("")
	if req.DryRun != nil && *req.DryRun {
		return allowed
	}
	var now, old certificatesv1.CertificateSigningRequest
	if json.Unmarshal(req.Object.Raw, &now) != nil || json.Unmarshal(req.OldObject.Raw, &old) != nil {
		return allowed
	}
	for _, typ := range []certificatesv1.RequestConditionType{certificatesv1.CertificateApproved, certificatesv1.CertificateDenied} {
		if cond := csr.Condition(&now, typ); cond != nil && !sameCondition(csr.Condition(&old, typ), cond) {
			w.Observations.add(now.UID, cond, IdentityOf(req.UserInfo))
		}
	}
	return allowed
}

func sameCondition(a, b *certificatesv1.CertificateSigningRequestCondition) bool {
	return a != nil && conditionKey(a) == conditionKey(b)
}

// Handler is the webhook as an http.Handler, for the manager's webhook server.
func (w *Webhook) Handler() http.Handler {
	return &admission.Webhook{Handler: w}
}
