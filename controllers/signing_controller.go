package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/audit"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
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
	// ClusterResourceNamespace is where ClusterIssuers' Secrets live.
	ClusterResourceNamespace string
	// Metrics may be nil.
	Metrics *Metrics
}

// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests/status,verbs=update;patch
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=signers,verbs=sign,resourceNames=issuers.cert-manager.io/*;clusterissuers.cert-manager.io/*
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch

// Reconcile runs one approved CSR through the gate and, if it passes, signs it.
func (r *SigningReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var c certificatesv1.CertificateSigningRequest
	if err := r.Client.Get(ctx, req.NamespacedName, &c); err != nil {
		if apierrors.IsNotFound(err) {
			r.Metrics.waiting(req.Name, "")
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	ref, err := csr.ParseSignerName(c.Spec.SignerName)
	if errors.Is(err, csr.ErrNotCertManager) {
		return ctrl.Result{}, nil
	}
	if err != nil {
		if !csr.IsFailed(&c) && !csr.IsDenied(&c) && !csr.IsIssued(&c) {
			r.Events.Eventf(&c, corev1.EventTypeWarning, ReasonInvalidSignerName, "%s", err)
		}
		return ctrl.Result{}, nil
	}
	switch {
	case csr.IsIssued(&c):
		return ctrl.Result{}, r.recordLateIssuance(ctx, &c, ref)
	case csr.IsFailed(&c), csr.IsDenied(&c):
		r.Metrics.waiting(c.Name, "")
		return ctrl.Result{}, nil
	case !csr.IsApproved(&c):
		r.Metrics.waiting(c.Name, ReasonWaitingApproval)
		r.Events.Eventf(&c, corev1.EventTypeNormal, ReasonWaitingApproval, "waiting for the CSR to be approved")
		return ctrl.Result{}, nil
	}
	issuer, err := r.issuer(ctx, ref)
	if apierrors.IsNotFound(err) {
		// The issuer watch brings the CSR back when the issuer appears.
		r.Metrics.waiting(c.Name, ReasonIssuerNotFound)
		r.Events.Eventf(&c, corev1.EventTypeWarning, ReasonIssuerNotFound, "%s %q not found", ref.Kind, issuerKey(policyv1alpha1.IssuerKind(ref.Kind), ref.Namespace, ref.Name))
		return ctrl.Result{}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	return r.gateAndSign(ctx, &c, ref, issuer)
}

// gateAndSign runs the rest of the shared gate, in the design's order, then dispatches.
func (r *SigningReconciler) gateAndSign(ctx context.Context, c *certificatesv1.CertificateSigningRequest, ref csr.SignerRef, issuer cmapi.GenericIssuer) (ctrl.Result, error) {
	if ref.Kind == csr.KindIssuer {
		allowed, err := r.mayReference(ctx, c, ref)
		if err != nil {
			return ctrl.Result{}, err
		}
		if !allowed {
			return ctrl.Result{}, r.fail(ctx, c, nil, ReasonDeniedReference, fmt.Sprintf(
				"requester %q may not reference Issuer %s/%s: needs verb reference on signers.cert-manager.io", c.Spec.Username, ref.Namespace, ref.Name))
		}
	}
	var policies policyv1alpha1.SignerPolicyList
	if err := r.Client.List(ctx, &policies, client.MatchingFields{policyBySignerNameIndex: c.Spec.SignerName}, readOnly); err != nil {
		return ctrl.Result{}, err
	}
	b, failure := decideBounds(c, policies.Items)
	if failure != nil {
		return ctrl.Result{}, r.fail(ctx, c, nil, failure.reason, failure.message)
	}
	if cond := issuerReadyCondition(issuer); cond != nil && cond.Status == cmmeta.ConditionFalse {
		// cert-manager's own verdict on the issuer; its update wakes the CSR through the watch.
		r.Metrics.waiting(c.Name, ReasonIssuerNotReady)
		r.Events.Eventf(c, corev1.EventTypeNormal, ReasonIssuerNotReady, "issuer is not Ready: %s", cond.Message)
		return ctrl.Result{}, nil
	}
	typ, _ := signer.TypeOf(issuer.GetSpec())
	s, ok := r.Signers.Get(typ)
	if !ok {
		r.Metrics.waiting(c.Name, ReasonUnsupportedIssuerType)
		r.Events.Eventf(c, corev1.EventTypeWarning, ReasonUnsupportedIssuerType, "the issuer is configured for %q, which this operator does not sign for", typ)
		return ctrl.Result{}, nil
	}
	parsed, err := csr.ParseRequest(c)
	if err != nil {
		return ctrl.Result{}, r.fail(ctx, c, &b, ReasonInvalidRequest, err.Error())
	}
	chain, err := s.Sign(ctx, signer.Request{
		CSR: c, Parsed: parsed, Issuer: issuer, ResourceNamespace: r.resourceNamespace(ref),
		Duration: b.duration, IsCA: b.isCA, Usages: c.Spec.Usages, Progress: csrAnnotator{r.Client, c},
	})
	return r.handleSignResult(ctx, c, issuer, typ, b, chain, err)
}

func (r *SigningReconciler) handleSignResult(ctx context.Context, c *certificatesv1.CertificateSigningRequest, issuer cmapi.GenericIssuer,
	typ signer.IssuerType, b bounds, chain signer.PEMChain, err error) (ctrl.Result, error) {
	if pending, ok := signer.AsPending(err); ok {
		r.Metrics.waiting(c.Name, pending.Reason)
		r.Metrics.signed(string(typ), "pending")
		r.Events.Eventf(c, corev1.EventTypeNormal, pending.Reason, "%s", pending.Message)
		after := pending.RequeueAfter
		if after <= 0 {
			after = pendingRetry
		}
		return ctrl.Result{RequeueAfter: after}, nil
	}
	if permanent, ok := signer.AsPermanent(err); ok {
		r.Metrics.signed(string(typ), "failed")
		return ctrl.Result{}, r.fail(ctx, c, &b, permanent.Reason, permanent.Message)
	}
	if err != nil {
		r.Metrics.signed(string(typ), "error")
		r.Events.Eventf(c, corev1.EventTypeWarning, ReasonSigningRetry, "signing failed and will be retried: %s", err)
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.issue(ctx, c, issuer, typ, b, chain)
}

func (r *SigningReconciler) issuer(ctx context.Context, ref csr.SignerRef) (cmapi.GenericIssuer, error) {
	if ref.Kind == csr.KindClusterIssuer {
		var ci cmapi.ClusterIssuer
		return &ci, r.Client.Get(ctx, types.NamespacedName{Name: ref.Name}, &ci)
	}
	var i cmapi.Issuer
	return &i, r.Client.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &i)
}

// mayReference asks the API server whether the CSR's requester may use the namespaced Issuer:
// the check cert-manager documents, first for the issuer's name and then for any issuer in the
// namespace. It is asked with the requester's full identity as recorded on the CSR.
func (r *SigningReconciler) mayReference(ctx context.Context, c *certificatesv1.CertificateSigningRequest, ref csr.SignerRef) (bool, error) {
	username, uid, groups, extra := csr.Requester(c)
	sarExtra := make(map[string]authorizationv1.ExtraValue, len(extra))
	for k, v := range extra {
		sarExtra[k] = v
	}
	for _, name := range []string{ref.Name, "*"} {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: username, UID: uid, Groups: groups, Extra: sarExtra,
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Group: "cert-manager.io", Resource: "signers", Verb: "reference", Namespace: ref.Namespace, Name: name,
			},
		}}
		if err := r.Client.Create(ctx, sar); err != nil {
			return false, fmt.Errorf("asking whether %q may reference the issuer: %w", username, err)
		}
		if sar.Status.Allowed {
			return true, nil
		}
	}
	return false, nil
}

func (r *SigningReconciler) resourceNamespace(ref csr.SignerRef) string {
	if ref.Kind == csr.KindClusterIssuer {
		return r.ClusterResourceNamespace
	}
	return ref.Namespace
}

func issuerReadyCondition(issuer cmapi.GenericIssuer) *cmapi.IssuerCondition {
	for i, c := range issuer.GetStatus().Conditions {
		if c.Type == cmapi.IssuerConditionReady {
			return &issuer.GetStatus().Conditions[i]
		}
	}
	return nil
}

// csrAnnotator lets a long-running signer persist its progress (an order URL, a pickup ID) on
// the CSR before reporting pending, so a restarted operator resumes instead of starting over.
type csrAnnotator struct {
	client client.Client
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
	if err := a.client.Patch(ctx, updated, client.MergeFrom(a.csr)); err != nil {
		return err
	}
	*a.csr = *updated
	return nil
}
