package controllers

import (
	"context"
	"fmt"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/audit"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
)

// Approval condition reasons and event reasons of the approval controller.
const (
	ReasonApproved  = "SignerPolicyApproved"
	ReasonDenied    = "SignerPolicyDenied"
	ReasonEvaluated = "SignerPolicyEvaluated"
	ReasonWaiting   = "WaitingForSignerPolicy"
)

// ApprovalReconciler approves or denies pending CSRs whose signer is governed by SignerPolicies.
// CSRs of signers no policy governs are left to whoever else approves them.
type ApprovalReconciler struct {
	Client client.Client
	// APIReader reads past the cache, to check whether a write whose response was lost landed.
	APIReader client.Reader
	// Events is the core/v1 recorder: it drops events when its queue is full rather than
	// block a reconcile, which the events.k8s.io recorder would do under a flood of CSRs.
	Events record.EventRecorder
	Audit  *audit.Logger
	Clock  clock.PassiveClock
	// Evaluator decides CSRs against the policies.
	Evaluator *policy.Evaluator
	// Metrics may be nil.
	Metrics *Metrics
	// Ledger is shared with the records controller, so that each record is written once per
	// process; nil writes every record.
	Ledger *recordLedger
	// Self is who the operator runs as, the approver of its own decisions; nil when unknown.
	Self *audit.Identity
	// Requests parses CSRs' requests, shared by the controllers; nil parses each anew.
	Requests *csr.Requests
}

// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests,verbs=get;list;watch
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests/approval,verbs=update
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile decides one pending CSR.
func (r *ApprovalReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var c certificatesv1.CertificateSigningRequest
	if err := r.Client.Get(ctx, req.NamespacedName, &c); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !csr.IsPending(&c) {
		return ctrl.Result{}, nil
	}
	policies, err := policiesForSigner(ctx, r.Client, c.Spec.SignerName)
	if err != nil {
		return ctrl.Result{}, err
	}
	// The signing controller reports malformed cert-manager signer names, and other signers no
	// policy governs belong to someone else.
	if approvalSkips(c.Spec.SignerName, policies.Cluster) {
		return ctrl.Result{}, nil
	}
	request := requestFor(&c, r.Requests)
	namespaces, err := readNamespaceFacts(ctx, r.Client, &c)
	if err != nil {
		return ctrl.Result{}, err
	}
	namespaces.into(&request)
	if err := readNodeFacts(ctx, r.Client, r.APIReader, &c, policies.Cluster, &request); err != nil {
		return ctrl.Result{}, err
	}
	decision := r.Evaluator.Evaluate(policies, request)
	if decision.Result == policy.Manual && csr.Condition(&c, csr.ConditionWaiting) == nil {
		// People, or the CSR's creator itself, usually approve within moments; saying that an
		// approver decides would cost a write that races theirs. The CSR is told once it has
		// waited, before the signing side's own grace runs out, so only this says why.
		if wait := manualGrace - r.Clock.Since(c.CreationTimestamp.Time); wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, nil
		}
	}
	return ctrl.Result{}, r.act(ctx, &c, request, decision, policies)
}

// manualGrace is how long a CSR a Manual policy leaves to people goes without its Waiting
// condition; shorter than approvalGrace, after which the signing side would say it waits.
const manualGrace = approvalGrace / 2

// act carries out a decision: the only writes are through the /approval subresource.
func (r *ApprovalReconciler) act(ctx context.Context, c *certificatesv1.CertificateSigningRequest, req policy.Request, d policy.Decision, policies policy.Policies) error {
	// At debug verbosity, every evaluation explains itself: the CSR is in the logger's context.
	ctrl.LoggerFrom(ctx).V(1).Info("evaluated CSR", "signer", c.Spec.SignerName, "requester", c.Spec.Username,
		"result", d.Result, "policy", d.Policy, "message", d.Message())
	switch d.Result {
	case policy.Approve:
		return r.decide(ctx, c, req, d, certificatesv1.CertificateApproved, ReasonApproved, policies)
	case policy.Deny:
		return r.decide(ctx, c, req, d, certificatesv1.CertificateDenied, ReasonDenied, policies)
	case policy.Manual, policy.Wait:
		return r.sayWaiting(ctx, c, req, d, policies)
	}
	return nil // not governed: left to whoever else decides, untouched
}

// sayWaiting tells the requester, on the CSR itself, why a Manual or Wait decision leaves it
// pending (the Waiting condition, through the /approval subresource: the only one the approval
// controller writes), with an event and, for Manual, a governance record; all only when what is
// said changes, so that the controller's own write does not say it again.
func (r *ApprovalReconciler) sayWaiting(ctx context.Context, c *certificatesv1.CertificateSigningRequest, req policy.Request, d policy.Decision,
	policies policy.Policies) error {
	reason, note := ReasonWaiting, d.Message()
	if d.Result == policy.Manual {
		reason = ReasonEvaluated // the note says that approval is manual and what an approver would decide
	}
	if !csr.SetWaiting(c, reason, truncate(note), metav1.NewTime(r.Clock.Now())) {
		return nil
	}
	var claim recordClaim
	if d.Result == policy.Manual {
		claim = r.Ledger.claimFor(c, audit.EventManualReview)
	}
	if err := r.Client.SubResource("approval").Update(ctx, c); err != nil {
		claim.release()
		return fmt.Errorf("saying why the CSR waits: %w", err)
	}
	r.Metrics.decided(c, d)
	r.Events.Eventf(c, corev1.EventTypeNormal, reason, "%s", truncate(note))
	if claim.held {
		r.Audit.Write(decisionRecord(audit.EventManualReview, c, req, d, reason, note, policies))
		claim.written(nil)
	}
	return nil
}

func (r *ApprovalReconciler) decide(ctx context.Context, c *certificatesv1.CertificateSigningRequest, req policy.Request, d policy.Decision,
	typ certificatesv1.RequestConditionType, reason string, policies policy.Policies) error {
	now := metav1.NewTime(r.Clock.Now())
	msg := d.Message()
	c.Status.Conditions = append(c.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: typ, Status: corev1.ConditionTrue, Reason: reason, Message: msg, LastUpdateTime: now, LastTransitionTime: now,
	})
	event := audit.EventApproved
	if typ == certificatesv1.CertificateDenied {
		event = audit.EventDenied
	}
	claim := r.Ledger.claimFor(c, event)
	c, err := writeCSR(ctx, r.APIReader, c, csrWrite{
		what: fmt.Sprintf("writing %s condition", typ),
		send: func(ctx context.Context) error { return r.Client.SubResource("approval").Update(ctx, c) },
		landed: func(got *certificatesv1.CertificateSigningRequest) bool {
			cond := csr.Condition(got, typ)
			return cond != nil && cond.Reason == reason && cond.Message == msg
		},
	})
	if err != nil {
		claim.release()
		return err
	}
	// Counted only once the condition is written, so a write retried after a conflict is not
	// counted as a second decision.
	r.Metrics.decided(c, d)
	eventType := corev1.EventTypeNormal
	if typ == certificatesv1.CertificateDenied {
		eventType = corev1.EventTypeWarning
	}
	r.Events.Eventf(c, eventType, reason, "%s", truncate(msg))
	if claim.held {
		rec := decisionRecord(event, c, req, d, reason, msg, policies)
		rec.Approver = &audit.Approver{Source: audit.ApproverOperator, Identity: r.Self}
		r.Audit.Write(rec)
		claim.written(rec.Approver)
	}
	return nil
}

// decisionRecord is the governance record of a decision, with the RBAC of the policy it concerns:
// the deciding one, or for a denial the first that names the requester.
func decisionRecord(event string, c *certificatesv1.CertificateSigningRequest, req policy.Request, d policy.Decision,
	reason, msg string, policies policy.Policies) audit.Record {
	rec := audit.ForCSR(event, c)
	rec.Reason, rec.Message, rec.IsCA = reason, msg, req.IsCA
	if req.Duration > 0 {
		rec.RequestedLifetime = req.Duration.String()
	}
	if p := policies.Named(d.Responsible()); p != nil {
		rec.Policy, rec.RBAC = p.Name, p.Status.RBAC
	}
	return rec
}

func orNone(policy string) string {
	if policy == "" {
		return "none"
	}
	return policy
}

// SetupWithManager watches pending CSRs, and SignerPolicies so that a policy that appears,
// changes or becomes Ready re-evaluates the pending CSRs of its signer.
func (r *ApprovalReconciler) SetupWithManager(mgr ctrl.Manager, concurrency int) error {
	pending := predicate.NewPredicateFuncs(func(obj client.Object) bool {
		return csr.IsPending(obj.(*certificatesv1.CertificateSigningRequest))
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("csr-approval").
		For(&certificatesv1.CertificateSigningRequest{}, builder.WithPredicates(pending)).
		Watches(&policyv1alpha1.SignerPolicy{}, handler.EnqueueRequestsFromMapFunc(r.pendingCSRsForPolicy)).
		Watches(&policyv1alpha1.NamespacedSignerPolicy{}, handler.EnqueueRequestsFromMapFunc(r.pendingCSRsForPolicy)).
		WithOptions(queueOptions(concurrency)).
		Complete(r)
}

func (r *ApprovalReconciler) pendingCSRsForPolicy(ctx context.Context, obj client.Object) []reconcile.Request {
	return csrsOfPolicyWhere(ctx, r.Client, obj, csr.IsPending)
}
