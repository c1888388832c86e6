package controllers

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// policyByIssuerIndex indexes SignerPolicies by the issuer they reference, so that an Issuer or
// ClusterIssuer event requeues only the policies naming it rather than every policy.
const policyByIssuerIndex = "spec.issuerRef"

// issuerKey is the value policyByIssuerIndex stores for an issuer reference.
func issuerKey(kind policyv1alpha1.IssuerKind, namespace, name string) string {
	return string(kind) + "/" + namespace + "/" + name
}

func indexPolicyByIssuer(obj client.Object) []string {
	ref := obj.(*policyv1alpha1.SignerPolicy).Spec.IssuerRef
	return []string{issuerKey(ref.Kind, ref.Namespace, ref.Name)}
}

// registerIndexes adds every field index the controllers rely on. Indexes are registered once per
// manager, whichever controllers run.
func registerIndexes(ctx context.Context, indexer client.FieldIndexer) error {
	return indexer.IndexField(ctx, &policyv1alpha1.SignerPolicy{}, policyByIssuerIndex, indexPolicyByIssuer)
}
