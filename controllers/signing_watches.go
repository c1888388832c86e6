package controllers

import (
	"context"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
)

// SetupWithManager watches CSRs, the issuers they name, the Secrets those issuers (and
// SelfSigned CSRs) read, and the SignerPolicies that govern them, so that a CSR waiting for any of
// them is retried as soon as it changes. Secrets are watched as metadata only: no Secret's data is
// cached but what a signer.SecretCache read for signing.
func (r *SigningReconciler) SetupWithManager(mgr ctrl.Manager, concurrency int) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("csr-signing").
		For(&certificatesv1.CertificateSigningRequest{}, builder.WithPredicates(unissued)).
		Watches(&cmapi.Issuer{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, obj client.Object) []reconcile.Request {
			return r.csrsOfSigner(ctx, policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: obj.GetNamespace(), Name: obj.GetName()}.SignerName())
		})).
		Watches(&cmapi.ClusterIssuer{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, obj client.Object) []reconcile.Request {
			return r.csrsOfSigner(ctx, policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindClusterIssuer, Name: obj.GetName()}.SignerName())
		})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.csrsReadingSecret), builder.OnlyMetadata).
		Watches(&policyv1alpha1.SignerPolicy{}, handler.EnqueueRequestsFromMapFunc(r.unsignedCSRsForPolicy)).
		Watches(&policyv1alpha1.NamespacedSignerPolicy{}, handler.EnqueueRequestsFromMapFunc(r.unsignedCSRsForPolicy)).
		WithOptions(queueOptions(concurrency)).
		Complete(r)
}

// unissued lets through only CSRs without a certificate. An issued CSR leaves this controller
// nothing to do (the records controller writes its record), so its own status write, which issues
// the CSR, does not send it round again, nor does every issued CSR at a start.
var unissued = predicate.NewPredicateFuncs(func(obj client.Object) bool {
	return !csr.IsIssued(obj.(*certificatesv1.CertificateSigningRequest))
})

func (r *SigningReconciler) csrsOfSigner(ctx context.Context, signerName string) []reconcile.Request {
	var list certificatesv1.CertificateSigningRequestList
	if err := r.Client.List(ctx, &list, client.MatchingFields{csrBySignerNameIndex: signerName}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing CSRs for signer", "signer", signerName)
		return nil
	}
	return requestsFor(list.Items)
}

// unsignedCSRsForPolicy finds the approved, undecided CSRs of a policy's signer: one a policy did
// not allow, or that no policy governed, is signed once a policy that allows it is in force.
func (r *SigningReconciler) unsignedCSRsForPolicy(ctx context.Context, obj client.Object) []reconcile.Request {
	return csrsOfPolicyWhere(ctx, r.Client, obj, needsSigning)
}

// csrsReadingSecret finds the CSRs a Secret matters to: those of the issuers that refer to it,
// and SelfSigned CSRs whose private key it holds.
func (r *SigningReconciler) csrsReadingSecret(ctx context.Context, secret client.Object) []reconcile.Request {
	key := secret.GetNamespace() + "/" + secret.GetName()
	var reqs []reconcile.Request
	var issuers cmapi.IssuerList
	if err := r.Client.List(ctx, &issuers, client.MatchingFields{issuerBySecretIndex: key}); err == nil {
		for _, i := range issuers.Items {
			reqs = append(reqs, r.csrsOfSigner(ctx, policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: i.Namespace, Name: i.Name}.SignerName())...)
		}
	}
	if secret.GetNamespace() == r.ClusterResourceNamespace {
		var cis cmapi.ClusterIssuerList
		if err := r.Client.List(ctx, &cis, client.MatchingFields{issuerBySecretIndex: key}); err == nil {
			for _, ci := range cis.Items {
				reqs = append(reqs, r.csrsOfSigner(ctx, policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindClusterIssuer, Name: ci.Name}.SignerName())...)
			}
		}
	}
	var csrs certificatesv1.CertificateSigningRequestList
	if err := r.Client.List(ctx, &csrs, client.MatchingFields{csrByPrivateKeySecretIndex: key}); err == nil {
		reqs = append(reqs, requestsFor(csrs.Items)...)
	}
	return reqs
}

func requestsFor(csrs []certificatesv1.CertificateSigningRequest) []reconcile.Request {
	return requestsWhere(csrs, nil)
}
