package controllers

import (
	"context"
	"fmt"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/approvers"
	"github.com/signerpolicy/signer-policy-operator/internal/audit"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// Event reasons of the signing controller that are not Failed reasons.
const (
	ReasonWaitingApproval       = "WaitingApproval"
	ReasonIssuerNotFound        = "IssuerNotFound"
	ReasonIssuerNotReady        = "IssuerNotReady"
	ReasonInvalidSignerName     = "InvalidSignerName"
	ReasonUnsupportedIssuerType = "UnsupportedIssuerType"
	ReasonCertificateIssued     = "CertificateIssued"
	ReasonSigningRetry          = "SigningRetry"
)

// approvalGrace is how long a new CSR may wait for its approval before the WaitingApproval event.
const approvalGrace = 10 * time.Second

// pendingRetry is how soon a pending signer is asked again when it names no interval. Watches
// on issuers and Secrets usually wake the CSR sooner.
const pendingRetry = 30 * time.Second

// SigningReconciler signs approved CSRs addressed to cert-manager issuers. It runs the shared
// gate, hands the request to the signer for the issuer's type, and is the only writer of the
// CSR's status, conditions and events.
type SigningReconciler struct {
	Client client.Client
	// APIReader reads past the cache, to check whether a write whose response was lost landed.
	APIReader client.Reader
	// Events is the core/v1 recorder: it drops events when its queue is full rather than
	// block a reconcile, which the events.k8s.io recorder would do under a flood of CSRs.
	Events record.EventRecorder
	Audit  *audit.Logger
	Clock  clock.PassiveClock
	// Signers holds one signer per issuer type.
	Signers *signer.Registry
	// Evaluator holds signing to the requester's own policy.
	Evaluator *policy.Evaluator
	// ClusterResourceNamespace is where ClusterIssuers' Secrets live.
	ClusterResourceNamespace string
	// Metrics may be nil.
	Metrics *Metrics
	// Ledger is shared with the records controller, so that each record is written once per
	// process; nil writes every record.
	Ledger *recordLedger
	// Approvers is what the observing webhook saw, for the approver on Issued records; may be nil.
	Approvers *approvers.Observations
	// Requests parses CSRs' requests, shared by the controllers; nil parses each anew.
	Requests *csr.Requests
	// References keeps allowed reference checks for a short time; nil asks for every CSR.
	References *referenceReviews
}

// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests/status,verbs=update;patch
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=signers,verbs=sign,resourceNames=issuers.cert-manager.io/*;clusterissuers.cert-manager.io/*
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch

// Reconcile reads a CSR and what its signing depends on, lets the gate decide, and carries out
// the verdict: the gate computes, and carryOut is the one place that writes.
func (r *SigningReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var c certificatesv1.CertificateSigningRequest
	if err := r.Client.Get(ctx, req.NamespacedName, &c); err != nil {
		if apierrors.IsNotFound(err) {
			r.Metrics.waiting(req.Name, "")
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if csr.IsIssued(&c) {
		r.Metrics.waiting(c.Name, "")
		return ctrl.Result{}, nil // its record, if still owed, is the records controller's
	}
	in, err := r.read(ctx, &c)
	if err != nil {
		return ctrl.Result{}, err
	}
	return r.carryOut(ctx, in, gate(in))
}

// read gathers the gate's inputs in the gate's order, stopping where the gate will stop, so a
// CSR that is not approved costs no SubjectAccessReview.
func (r *SigningReconciler) read(ctx context.Context, c *certificatesv1.CertificateSigningRequest) (*signingInputs, error) {
	in := &signingInputs{csr: c, signers: r.Signers, evaluator: r.Evaluator, requests: r.Requests}
	in.ref, in.refErr = csr.ParseSignerName(c.Spec.SignerName)
	if in.refErr != nil || !needsSigning(c) {
		return in, nil
	}
	issuer, err := signer.GetIssuer(ctx, r.Client, in.ref)
	if apierrors.IsNotFound(err) {
		return in, nil // the issuer watch brings the CSR back when it appears
	}
	if err != nil {
		return nil, err
	}
	in.issuer = issuer
	if in.ref.Kind == policyv1alpha1.IssuerKindIssuer {
		if in.mayReference, err = r.mayReference(ctx, c, in.ref); err != nil || !in.mayReference {
			return in, err
		}
	}
	if in.namespaces, err = readNamespaceFacts(ctx, r.Client, c); err != nil {
		return nil, err
	}
	in.policies, err = r.policiesOf(ctx, c.Spec.SignerName)
	return in, err
}

// carryOut does what the verdict says.
func (r *SigningReconciler) carryOut(ctx context.Context, in *signingInputs, v verdict) (ctrl.Result, error) {
	// At debug verbosity, every gate decision explains itself: the CSR is in the logger's context.
	ctrl.LoggerFrom(ctx).V(1).Info("signing gate", "signer", in.csr.Spec.SignerName, "verdict", v.kind, "reason", v.reason, "message", v.message)
	switch v.kind {
	case verdictWait:
		if v.reason == ReasonWaitingApproval {
			// An approval usually follows within moments (a policy's, or its creator's own), and
			// saying so now would only say what the approval says next: the CSR is told once it
			// has waited, and only then does that cost an API write.
			if wait := approvalGrace - r.Clock.Since(in.csr.CreationTimestamp.Time); wait > 0 {
				r.Metrics.waiting(in.csr.Name, v.reason)
				return ctrl.Result{RequeueAfter: wait}, nil
			}
			if csr.Condition(in.csr, csr.ConditionWaiting) != nil {
				return ctrl.Result{}, nil // the approval controller says why a decision waits
			}
			if policies, err := r.policiesOf(ctx, in.csr.Spec.SignerName); err == nil && len(policies.Cluster) == 0 {
				v = verdict{kind: verdictWait, warning: true, reason: ReasonNoSignerPolicy, message: fmt.Sprintf(
					"no SignerPolicy governs signer %s, so no policy decides this CSR and this operator signs nothing for it", in.csr.Spec.SignerName)}
			}
		}
		r.Metrics.waiting(in.csr.Name, v.reason)
		return ctrl.Result{}, r.sayWaiting(ctx, in.csr, v)
	case verdictFail:
		return ctrl.Result{}, r.fail(ctx, in.csr, &v.grant, v.reason, v.message)
	case verdictSign:
		return r.sign(ctx, in, &v.grant)
	default:
		r.Metrics.waiting(in.csr.Name, "")
	}
	return ctrl.Result{}, nil
}

// sayWaiting tells the requester, on the CSR itself, why it waits (the Waiting condition, through
// the /status subresource), and says it as an event too; both only when the reason changes.
func (r *SigningReconciler) sayWaiting(ctx context.Context, c *certificatesv1.CertificateSigningRequest, v verdict) error {
	if !csr.SetWaiting(c, v.reason, truncate(v.message), metav1.NewTime(r.Clock.Now())) {
		return nil
	}
	if err := r.Client.Status().Update(ctx, c); err != nil {
		return fmt.Errorf("saying why the CSR waits: %w", err)
	}
	eventType := corev1.EventTypeNormal
	if v.warning {
		eventType = corev1.EventTypeWarning
	}
	r.Events.Eventf(c, eventType, v.reason, "%s", truncate(v.message))
	return nil
}

// sign dispatches to the issuer type's signer and delivers the chain it returns only if the
// certificate is what the gate decided.
func (r *SigningReconciler) sign(ctx context.Context, in *signingInputs, g *grant) (ctrl.Result, error) {
	s, _ := r.Signers.Get(g.typ) // the gate checked that there is one
	chain, err := s.Sign(ctx, signer.Request{
		CSR: in.csr, Parsed: g.parsed, Issuer: in.issuer, ResourceNamespace: r.resourceNamespace(in.ref),
		Duration: g.lifetime, IsCA: g.isCA, Usages: g.usages, Progress: csrAnnotator{r.Client, r.APIReader, in.csr},
	})
	if err != nil {
		return r.signerFailed(ctx, in.csr, g, err)
	}
	leaf, err := leafOf(chain)
	if err != nil {
		// A signer returned something that is not a certificate: retrying may help (a transient
		// upstream fault); writing it would hand the requester garbage.
		return ctrl.Result{}, fmt.Errorf("signer for %s returned an unusable chain: %w", g.typ, err)
	}
	if mismatch := checkIssued(g, leaf, r.Clock.Now()); mismatch != "" {
		return ctrl.Result{}, r.fail(ctx, in.csr, g, ReasonIssuedCertificateMismatch, mismatch)
	}
	return ctrl.Result{}, r.issue(ctx, in.csr, in.issuer, g, chain)
}

// signerFailed follows the signer contract: pending is an event and a requeue, permanent is a
// Failed condition, anything else is retried with backoff.
func (r *SigningReconciler) signerFailed(ctx context.Context, c *certificatesv1.CertificateSigningRequest, g *grant, err error) (ctrl.Result, error) {
	if pending, ok := signer.AsPending(err); ok {
		r.Metrics.waiting(c.Name, pending.Reason)
		r.Metrics.signed(c, g, "pending", pending.Reason)
		r.Events.Eventf(c, corev1.EventTypeNormal, pending.Reason, "%s", truncate(pending.Message))
		after := pending.RequeueAfter
		if after <= 0 {
			after = pendingRetry
		}
		return ctrl.Result{RequeueAfter: after}, nil
	}
	if permanent, ok := signer.AsPermanent(err); ok {
		return ctrl.Result{}, r.fail(ctx, c, g, permanent.Reason, permanent.Message)
	}
	r.Metrics.signed(c, g, "error", ReasonSigningRetry)
	r.Events.Eventf(c, corev1.EventTypeWarning, ReasonSigningRetry, "%s", truncate("signing failed and will be retried: "+err.Error()))
	return ctrl.Result{}, err
}

func (r *SigningReconciler) policiesOf(ctx context.Context, signerName string) (policy.Policies, error) {
	return policiesForSigner(ctx, r.Client, signerName)
}

// mayReference asks the API server whether the CSR's requester may use the namespaced Issuer:
// the check cert-manager documents, first for the issuer's name and then for any issuer in the
// namespace. It is asked with the requester's full identity as recorded on the CSR. An allowance
// is reused from References, for that whole identity and that Issuer only, while it is good
// (see referenceReviews); a denial is always asked afresh.
func (r *SigningReconciler) mayReference(ctx context.Context, c *certificatesv1.CertificateSigningRequest, ref policyv1alpha1.IssuerReference) (bool, error) {
	username, uid, groups, extra := csr.Requester(c)
	sarExtra := make(map[string]authorizationv1.ExtraValue, len(extra))
	for k, v := range extra {
		sarExtra[k] = v
	}
	identity := authorizationv1.SubjectAccessReviewSpec{User: username, UID: uid, Groups: groups, Extra: sarExtra}
	var ticket referenceTicket
	if r.References != nil {
		key := keyOf(&identity, ref.Namespace, ref.Name)
		if r.References.allowed(key) {
			return true, nil
		}
		ticket = r.References.ask(key, ref.Namespace)
	}
	for _, name := range []string{ref.Name, "*"} {
		sar := &authorizationv1.SubjectAccessReview{Spec: *identity.DeepCopy()}
		sar.Spec.ResourceAttributes = &authorizationv1.ResourceAttributes{
			Group: "cert-manager.io", Resource: "signers", Verb: "reference", Namespace: ref.Namespace, Name: name,
		}
		if err := r.Client.Create(ctx, sar); err != nil {
			return false, fmt.Errorf("asking whether %q may reference the issuer: %w", username, err)
		}
		if sar.Status.Allowed {
			if r.References != nil {
				r.References.keepAllowed(ticket)
			}
			return true, nil
		}
	}
	return false, nil
}

func (r *SigningReconciler) resourceNamespace(ref policyv1alpha1.IssuerReference) string {
	if ref.Kind == policyv1alpha1.IssuerKindClusterIssuer {
		return r.ClusterResourceNamespace
	}
	return ref.Namespace
}

// csrAnnotator lets a long-running signer persist its progress (an order URL, a pickup ID) on
// the CSR before reporting pending, so a restarted operator resumes instead of starting over.
type csrAnnotator struct {
	client client.Client
	reader client.Reader
	csr    *certificatesv1.CertificateSigningRequest
}

func (a csrAnnotator) Annotate(ctx context.Context, key, value string) error {
	// The patch is built on a copy and only adopted once written, so a failed write leaves the
	// CSR as it was and a retry sends the annotation again.
	updated := a.csr.DeepCopy()
	if updated.Annotations == nil {
		updated.Annotations = map[string]string{}
	}
	updated.Annotations[key] = value
	got, err := writeCSR(ctx, a.reader, updated, csrWrite{
		what:   "annotating the CSR with " + key,
		send:   func(ctx context.Context) error { return a.client.Patch(ctx, updated, client.MergeFrom(a.csr)) },
		landed: func(got *certificatesv1.CertificateSigningRequest) bool { return got.Annotations[key] == value },
	})
	if err != nil {
		return err
	}
	*a.csr = *got
	return nil
}
