package signer

import (
	"context"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// GetIssuer reads the Issuer or ClusterIssuer ref names: the one lookup of an issuer by
// reference, for the controllers and the signers alike.
func GetIssuer(ctx context.Context, c client.Reader, ref policyv1alpha1.IssuerReference) (cmapi.GenericIssuer, error) {
	issuer := emptyIssuer(ref)
	return issuer, c.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, issuer)
}

// PlaceholderIssuer stands for an issuer that no longer exists, so that a record written late
// still names it.
func PlaceholderIssuer(ref policyv1alpha1.IssuerReference) cmapi.GenericIssuer {
	issuer := emptyIssuer(ref)
	issuer.SetNamespace(ref.Namespace)
	issuer.SetName(ref.Name)
	return issuer
}

// ReferenceTo is the reference naming issuer.
func ReferenceTo(issuer cmapi.GenericIssuer) policyv1alpha1.IssuerReference {
	if issuer.GetNamespace() == "" {
		return policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindClusterIssuer, Name: issuer.GetName()}
	}
	return policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: issuer.GetNamespace(), Name: issuer.GetName()}
}

func emptyIssuer(ref policyv1alpha1.IssuerReference) cmapi.GenericIssuer {
	if ref.Kind == policyv1alpha1.IssuerKindClusterIssuer {
		return &cmapi.ClusterIssuer{}
	}
	return &cmapi.Issuer{}
}
