package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/signerpolicy/signer-policy-operator/internal/policy"
)

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// serviceAccountNamespaceLabels reads the labels of the namespace of the service account named by
// username, for the evaluator's service account selectors: nil when username names no service
// account or its namespace is gone, so that no selector selects it.
func serviceAccountNamespaceLabels(ctx context.Context, reader client.Reader, username string) (map[string]string, error) {
	name, ok := policy.ServiceAccountNamespace(username)
	if !ok {
		return nil, nil
	}
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
