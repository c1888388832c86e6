package controllers

import (
	"context"
	"fmt"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
)

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// namespaceFacts are the labels of the namespaces a CSR's policies may select on: its requesting
// service account's and its Issuer's, each nil when there is none or it is gone.
type namespaceFacts struct {
	serviceAccount, issuer map[string]string
}

// readNamespaceFacts reads a CSR's namespace facts from the cache.
func readNamespaceFacts(ctx context.Context, reader client.Reader, c *certificatesv1.CertificateSigningRequest) (namespaceFacts, error) {
	var facts namespaceFacts
	var err error
	if facts.serviceAccount, err = serviceAccountNamespaceLabels(ctx, reader, c.Spec.Username); err != nil {
		return facts, err
	}
	facts.issuer, err = issuerNamespaceLabels(ctx, reader, c.Spec.SignerName)
	return facts, err
}

// into gives the evaluator the facts.
func (f namespaceFacts) into(req *policy.Request) {
	req.ServiceAccountNamespaceLabels, req.IssuerNamespaceLabels = f.serviceAccount, f.issuer
}

// serviceAccountNamespaceLabels reads the labels of the namespace of the service account named by
// username, for the evaluator's service account selectors: nil when username names no service
// account or its namespace is gone, so that no selector selects it.
func serviceAccountNamespaceLabels(ctx context.Context, reader client.Reader, username string) (map[string]string, error) {
	name, ok := policy.ServiceAccountNamespace(username)
	if !ok {
		return nil, nil
	}
	return namespaceLabels(ctx, reader, name)
}

// issuerNamespaceLabels reads the labels of the namespace of the Issuer a signer name names, for
// the evaluator's issuers.namespaceSelector: nil for a ClusterIssuer, a signer name that names no
// issuer, or a namespace that is gone.
func issuerNamespaceLabels(ctx context.Context, reader client.Reader, signerName string) (map[string]string, error) {
	ref, err := csr.ParseSignerName(signerName)
	if err != nil || ref.Kind != policyv1alpha1.IssuerKindIssuer {
		return nil, nil
	}
	return namespaceLabels(ctx, reader, ref.Namespace)
}

// namespaceLabels reads a namespace's labels from the cache: nil when it is gone, never nil when
// it exists, so that "no labels" and "no namespace" stay apart.
func namespaceLabels(ctx context.Context, reader client.Reader, name string) (map[string]string, error) {
	var ns corev1.Namespace
	if err := reader.Get(ctx, client.ObjectKey{Name: name}, &ns); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading the labels of namespace %s: %w", name, err)
	}
	if ns.Labels == nil {
		return map[string]string{}, nil
	}
	return ns.Labels, nil
}
