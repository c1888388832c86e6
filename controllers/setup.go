package controllers

import (
	"context"
	"fmt"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// Options configure the operator's controllers. main.go and the test harness build the manager
// through the same Setup so that tests run exactly the wiring that ships.
type Options struct {
	// SupportedTypes are the issuer types the operator signs for.
	SupportedTypes []signer.IssuerType
}

// Setup registers the field indexes and every controller with the manager.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	if err := registerIndexes(ctx, mgr.GetFieldIndexer()); err != nil {
		return fmt.Errorf("registering field indexes: %w", err)
	}
	supported := make(map[signer.IssuerType]bool, len(opts.SupportedTypes))
	for _, t := range opts.SupportedTypes {
		supported[t] = true
	}
	policies := &SignerPolicyReconciler{Client: mgr.GetClient(), SupportedTypes: supported}
	if err := policies.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the SignerPolicy controller: %w", err)
	}
	return nil
}

// NewScheme knows the built-in kinds, cert-manager's issuers and our SignerPolicy.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, cmapi.AddToScheme, policyv1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("building scheme: %w", err)
		}
	}
	return s, nil
}
