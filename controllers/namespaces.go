package controllers

import (
	"context"
	"fmt"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

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
	serviceAccount, issuer := policy.LabelledNamespaces(c.Spec.Username, c.Spec.SignerName)
	if facts.serviceAccount, err = namespaceLabels(ctx, reader, serviceAccount); err != nil {
		return facts, err
	}
	facts.issuer, err = namespaceLabels(ctx, reader, issuer)
	return facts, err
}

// into gives the evaluator the facts.
func (f namespaceFacts) into(req *policy.Request) {
	req.ServiceAccountNamespaceLabels, req.IssuerNamespaceLabels = f.serviceAccount, f.issuer
}

// namespaceLabels reads a namespace's labels from the cache as policy.NamespaceLabels gives them
// to the evaluator: nil for "" or a namespace that is gone, never nil for one that exists.
func namespaceLabels(ctx context.Context, reader client.Reader, name string) (map[string]string, error) {
	if name == "" {
		return nil, nil
	}
	var ns corev1.Namespace
	if err := reader.Get(ctx, client.ObjectKey{Name: name}, &ns); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading the labels of namespace %s: %w", name, err)
	}
	return policy.NamespaceLabels(&ns), nil
}
