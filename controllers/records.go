package controllers

import (
	"context"
	"errors"
	"slices"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/signerpolicy/signer-policy-operator/internal/approvers"
	"github.com/signerpolicy/signer-policy-operator/internal/audit"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// RecordsReconciler writes every governance record still owed for the CSRs of cert-manager
// signers: a person's approval or denial (the operator sees the condition, and its webhook saw
// who wrote it), and anything a stop cut off between an API write and its record. The approval and
// signing controllers write the records of their own writes at once, with what they knew at the
// time; this controller writes what they did not, reconstructing it from the CSR, its issuer and
// its policies as they are now.
type RecordsReconciler struct {
	Client    client.Client
	Audit     *audit.Logger
	Ledger    *recordLedger
	Evaluator *policy.Evaluator
	// Approvers is what the observing webhook saw; nil when no webhook runs in this process.
	Approvers *approvers.Observations
	// Events are the record events this process owes (see approvalEvents and signingEvents).
	Events []string
	// Requests parses CSRs' requests, shared by the controllers; nil parses each anew.
	Requests *csr.Requests
}

// Reconcile writes the CSR's owed records.
func (r *RecordsReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var c certificatesv1.CertificateSigningRequest
	if err := r.Client.Get(ctx, req.NamespacedName, &c); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	events, err := governedEvents(ctx, r.Client, &c, owedEvents(&c))
	if err != nil {
		return ctrl.Result{}, err
	}
	var result ctrl.Result
	for _, event := range events {
		if !slices.Contains(r.Events, event) {
			continue
		}
		switch r.Ledger.state(c.UID, event) {
		case recordWritten:
			continue
		case recordInFlight:
			// Its writer writes it, or gives the claim up if its write did not land after all;
			// look again, so that a given-up record is written here.
			result.RequeueAfter = inFlightRecheck
			continue
		}
		if !r.Ledger.claim(c.UID, event) {
			result.RequeueAfter = inFlightRecheck
			continue
		}
		rec, err := r.reconstruct(ctx, &c, event)
		if err != nil {
			r.Ledger.release(c.UID, event)
			return ctrl.Result{}, err
		}
		r.Audit.Write(rec)
		r.Ledger.written(c.UID, event, rec.Approver)
	}
	return result, nil
}

// inFlightRecheck is how soon a record another writer of this process claimed is looked at again.
const inFlightRecheck = 2 * time.Second

// owedEvents are the records a CSR's state calls for.
func owedEvents(c *certificatesv1.CertificateSigningRequest) []string {
	var events []string
	if csr.IsApproved(c) {
		events = append(events, audit.EventApproved)
	}
	if csr.IsDenied(c) {
		events = append(events, audit.EventDenied)
	}
	if cond := csr.Condition(c, csr.ConditionWaiting); cond != nil && cond.Reason == ReasonEvaluated {
		events = append(events, audit.EventManualReview)
	}
	if csr.IsFailed(c) {
		events = append(events, audit.EventFailed)
	}
	if csr.IsIssued(c) {
		events = append(events, audit.EventIssued)
	}
	return events
}

// reconstruct builds a record from the CSR as it is now: the condition's reason and message, the
// approver the webhook saw, and the policy that concerns the request now, whose RBAC the record
// carries (the policy may have changed since the decision, which the record's time tells).
func (r *RecordsReconciler) reconstruct(ctx context.Context, c *certificatesv1.CertificateSigningRequest, event string) (audit.Record, error) {
	policies, err := policiesForSigner(ctx, r.Client, c.Spec.SignerName)
	if err != nil {
		return audit.Record{}, err
	}
	namespaces, err := readNamespaceFacts(ctx, r.Client, c)
	if err != nil {
		return audit.Record{}, err
	}
	req := requestFor(c, r.Requests)
	namespaces.into(&req)
	if err := readNodeFacts(ctx, r.Client, r.Client, c, policies.Cluster, &req); err != nil {
		return audit.Record{}, err
	}
	if event == audit.EventIssued {
		return r.issuedRecord(ctx, c, policies, req)
	}
	rec := audit.ForCSR(event, c)
	rec.IsCA = req.IsCA
	if req.Duration > 0 {
		rec.RequestedLifetime = req.Duration.String()
	}
	typ := map[string]certificatesv1.RequestConditionType{
		audit.EventApproved: certificatesv1.CertificateApproved, audit.EventDenied: certificatesv1.CertificateDenied,
		audit.EventFailed: certificatesv1.CertificateFailed, audit.EventManualReview: csr.ConditionWaiting,
	}[event]
	if cond := csr.Condition(c, typ); cond != nil {
		rec.Reason, rec.Message = cond.Reason, cond.Message
	}
	d := r.Evaluator.Evaluate(policies, req)
	switch event {
	case audit.EventFailed:
		d = r.Evaluator.EvaluateForSigning(policies, req)
	case audit.EventApproved, audit.EventDenied:
		if rec.Approver, err = credibleApprover(ctx, r.Client, c.Spec.SignerName, r.Approvers.Approver(c, typ)); err != nil {
			return audit.Record{}, err
		}
	}
	if p := policies.Named(d.Responsible()); p != nil {
		rec.Policy, rec.RBAC = p.Name, p.Status.RBAC
	}
	return rec, nil
}

// issuedRecord describes an issued CSR from its certificate, its issuer (a placeholder naming it
// when it has been deleted since) and the policy that allows it now.
func (r *RecordsReconciler) issuedRecord(ctx context.Context, c *certificatesv1.CertificateSigningRequest, policies policy.Policies,
	req policy.Request) (audit.Record, error) {
	leaf, err := leafOf(c.Status.Certificate)
	if err != nil {
		// Not a certificate this operator could have written: the record says what can be said.
		rec := audit.ForCSR(audit.EventIssued, c)
		rec.Message = "status.certificate holds no readable certificate: " + err.Error()
		return rec, nil
	}
	var issuer cmapi.GenericIssuer
	if ref, err := csr.ParseSignerName(c.Spec.SignerName); err == nil {
		if issuer, err = signer.GetIssuer(ctx, r.Client, ref); apierrors.IsNotFound(err) {
			issuer = signer.PlaceholderIssuer(ref)
		} else if err != nil {
			return audit.Record{}, err
		}
	}
	g := grant{requested: req.Duration, isCA: req.IsCA}
	if issuer != nil {
		g.typ, _ = signer.TypeOf(issuer.GetSpec())
	}
	g.policy = policies.Named(r.Evaluator.EvaluateForSigning(policies, req).Responsible())
	rec := issuanceRecord(c, issuer, &g, leaf)
	if rec.Approver = r.Ledger.approver(c.UID); rec.Approver == nil {
		if rec.Approver, err = credibleApprover(ctx, r.Client, c.Spec.SignerName, r.Approvers.Approver(c, certificatesv1.CertificateApproved)); err != nil {
			return audit.Record{}, err
		}
	}
	return rec, nil
}

// SetupWithManager watches CSRs that carry a decision, a failure or a certificate.
func (r *RecordsReconciler) SetupWithManager(mgr ctrl.Manager) error {
	decided := predicate.NewPredicateFuncs(func(obj client.Object) bool {
		c := obj.(*certificatesv1.CertificateSigningRequest)
		if _, err := csr.ParseSignerName(c.Spec.SignerName); err != nil && !errors.Is(err, csr.ErrNotCertManager) {
			return false // a malformed cert-manager signer name: nothing was decided
		}
		return len(owedEvents(c)) > 0
	})
	// A deleted CSR is forgotten by UID, which a request by name could not tell from a new CSR of
	// the same name.
	forget := handler.Funcs{DeleteFunc: func(_ context.Context, e event.TypedDeleteEvent[client.Object], _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		r.Ledger.forget(e.Object.GetUID())
		r.Approvers.Forget(e.Object.GetUID())
	}}
	return ctrl.NewControllerManagedBy(mgr).
		Named("csr-records").
		For(&certificatesv1.CertificateSigningRequest{}, builder.WithPredicates(decided)).
		Watches(&certificatesv1.CertificateSigningRequest{}, forget).
		WithOptions(queueOptions(1)).
		Complete(r)
}
