package controllers

import (
	"context"
	"errors"
	"slices"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmexperimental "github.com/cert-manager/cert-manager/pkg/apis/experimental/v1alpha1"
	certificatesv1 "k8s.io/api/certificates/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// registerIndexes adds every field index the controllers rely on. Indexes are registered once per
// manager, whichever controllers run.
func registerIndexes(ctx context.Context, indexer client.FieldIndexer, clusterResourceNamespace string) error {
	indexes := []struct {
		obj   client.Object
		field string
		fn    client.IndexerFunc
	}{
		{&policyv1alpha1.SignerPolicy{}, policyBySignerNameIndex, indexPolicyBySignerName},
		{&policyv1alpha1.SignerPolicy{}, policyBySelectedKindIndex, indexPolicyBySelectedKind},
		{&certificatesv1.CertificateSigningRequest{}, csrBySignerNameIndex, indexCSRBySignerName},
		{&certificatesv1.CertificateSigningRequest{}, csrByPrivateKeySecretIndex, indexCSRByPrivateKeySecret(clusterResourceNamespace)},
		{&cmapi.Issuer{}, issuerBySecretIndex, indexIssuerBySecret("")},
		{&cmapi.ClusterIssuer{}, issuerBySecretIndex, indexIssuerBySecret(clusterResourceNamespace)},
	}
	for _, i := range indexes {
		if err := indexer.IndexField(ctx, i.obj, i.field, i.fn); err != nil {
			return err
		}
	}
	return nil
}

// policyBySignerNameIndex indexes SignerPolicies by the signer names they govern: the approval
// and signing controllers find a CSR's policies through it instead of scanning every policy, and
// an Issuer or ClusterIssuer event requeues only the policies naming it.
const policyBySignerNameIndex = "status.signerNames"

func indexPolicyBySignerName(obj client.Object) []string {
	return governedSignerNames(obj.(*policyv1alpha1.SignerPolicy))
}

// governedSignerNames are the signer names a policy governs: its issuerRef's, which holds whether
// or not the issuer exists, or those of the existing issuers its selection selects, which the
// policy controller keeps in status. They find a policy's neighbours and the CSRs a policy change
// wakes; a CSR's own policies are found with policiesForSigner, which does not depend on status.
func governedSignerNames(p *policyv1alpha1.SignerPolicy) []string {
	if len(p.Spec.SignerNames) > 0 {
		return p.Spec.SignerNames
	}
	if p.Spec.IssuerRef != nil {
		return []string{p.Spec.IssuerRef.SignerName()}
	}
	return p.Status.SignerNames
}

// policyBySelectedKindIndex indexes the policies that select issuers by the kind they select, so
// that every such policy is asked about a CSR of that kind, whatever its status lists yet.
const policyBySelectedKindIndex = "spec.issuers.kind"

func indexPolicyBySelectedKind(obj client.Object) []string {
	if s := obj.(*policyv1alpha1.SignerPolicy).Spec.Issuers; s != nil {
		return []string{string(s.Kind)}
	}
	return nil
}

// policiesForSigner lists the policies that may govern a signer: those whose issuerRef names it
// and every policy selecting issuers of its kind, each once. The evaluator decides which of them
// govern it, so a status that has not caught up with a new issuer neither hides a selection
// policy from its CSRs (and lets another policy deny them for good) nor widens one.
func policiesForSigner(ctx context.Context, c client.Reader, signerName string) (policy.Policies, error) {
	ref, err := csr.ParseSignerName(signerName)
	if errors.Is(err, csr.ErrNotCertManager) {
		policies, err := policiesForOtherSigner(ctx, c, signerName)
		return policy.Policies{Cluster: policies}, err
	}
	var byName, byKind policyv1alpha1.SignerPolicyList
	if err := c.List(ctx, &byName, client.MatchingFields{policyBySignerNameIndex: signerName}, readOnly); err != nil {
		return policy.Policies{}, err
	}
	if err != nil {
		return policy.Policies{Cluster: byName.Items}, nil
	}
	if err := c.List(ctx, &byKind, client.MatchingFields{policyBySelectedKindIndex: string(ref.Kind)}, readOnly); err != nil {
		return policy.Policies{}, err
	}
	policies := slices.Clone(byKind.Items)
	for _, p := range byName.Items {
		if p.Spec.Issuers == nil { // the selection policies are all in byKind already
			policies = append(policies, p)
		}
	}
	out := policy.Policies{Cluster: policies}
	if ref.Kind == policyv1alpha1.IssuerKindIssuer {
		// Tenants' policies govern only Issuers of their own namespace.
		var namespaced policyv1alpha1.NamespacedSignerPolicyList
		if err := c.List(ctx, &namespaced, client.InNamespace(ref.Namespace), readOnly); err != nil {
			return policy.Policies{}, err
		}
		out.Namespaced = namespaced.Items
	}
	return out, nil
}

// csrBySignerNameIndex indexes CSRs by signerName, and those of other signers than cert-manager's
// by their domain's wildcard too, so a policy change requeues only the CSRs of its signers, those
// of an example.com/* policy included.
const csrBySignerNameIndex = "spec.signerName"

func indexCSRBySignerName(obj client.Object) []string {
	return signerIndexKeys(obj.(*certificatesv1.CertificateSigningRequest).Spec.SignerName)
}

// issuerBySecretIndex indexes issuers by "<namespace>/<secret>" of every Secret they refer to
// (CA key pair, Vault, Venafi and ACME credentials, CA bundles), so a Secret event finds its
// issuers without scanning them all.
const issuerBySecretIndex = "spec.secretRefs"

// indexIssuerBySecret indexes Issuers in their own namespace, and ClusterIssuers in the
// cluster resource namespace given here.
func indexIssuerBySecret(clusterResourceNamespace string) client.IndexerFunc {
	return func(obj client.Object) []string {
		issuer := obj.(cmapi.GenericIssuer)
		ns := issuer.GetNamespace()
		if ns == "" {
			ns = clusterResourceNamespace
		}
		names := signer.ReferencedSecrets(issuer.GetSpec())
		keys := make([]string, 0, len(names))
		for _, name := range names {
			keys = append(keys, ns+"/"+name)
		}
		return keys
	}
}

// csrByPrivateKeySecretIndex indexes SelfSigned CSRs by "<namespace>/<secret>" of the Secret
// their private-key-secret-name annotation names.
const csrByPrivateKeySecretIndex = "metadata.annotations.private-key-secret-name"

func indexCSRByPrivateKeySecret(clusterResourceNamespace string) client.IndexerFunc {
	return func(obj client.Object) []string {
		c := obj.(*certificatesv1.CertificateSigningRequest)
		name := c.Annotations[cmexperimental.CertificateSigningRequestPrivateKeyAnnotationKey]
		if name == "" {
			return nil
		}
		ref, err := csr.ParseSignerName(c.Spec.SignerName)
		if err != nil {
			return nil
		}
		ns := ref.Namespace
		if ref.Kind == policyv1alpha1.IssuerKindClusterIssuer {
			ns = clusterResourceNamespace
		}
		return []string{ns + "/" + name}
	}
}

// readOnly lists objects from the cache without copying them. Only for callers that never
// modify what they get: with a thousand policies on one signer, copying them for every CSR
// would dominate the cost of deciding it.
const readOnly = client.UnsafeDisableDeepCopyOption(true)

// csrsOfPolicyWhere requests the CSRs of every signer a policy governs that keep accepts. An
// update maps the old and the new policy, so signers it stops governing are asked again too.
func csrsOfPolicyWhere(ctx context.Context, c client.Reader, obj client.Object, keep func(*certificatesv1.CertificateSigningRequest) bool) []reconcile.Request {
	var signerNames []string
	switch p := obj.(type) {
	case *policyv1alpha1.SignerPolicy:
		signerNames = governedSignerNames(p)
	case *policyv1alpha1.NamespacedSignerPolicy:
		// What it governs is no more than its status lists, or its issuerRef's Issuer.
		signerNames = p.Status.SignerNames
		if ref := policy.EffectiveSpec(p).IssuerRef; ref != nil {
			signerNames = append(signerNames, ref.SignerName())
		}
	}
	var reqs []reconcile.Request
	for _, name := range signerNames {
		reqs = append(reqs, csrsOfSignerWhere(ctx, c, name, keep)...)
	}
	return reqs
}

// csrsOfSignerWhere lists, from the cache, the CSRs of signerName that keep accepts, as requests
// to reconcile: what a policy's change wakes in each CSR controller.
func csrsOfSignerWhere(ctx context.Context, c client.Reader, signerName string, keep func(*certificatesv1.CertificateSigningRequest) bool) []reconcile.Request {
	var list certificatesv1.CertificateSigningRequestList
	if err := c.List(ctx, &list, client.MatchingFields{csrBySignerNameIndex: signerName}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing CSRs for signer", "signer", signerName)
		return nil
	}
	return requestsWhere(list.Items, keep)
}
