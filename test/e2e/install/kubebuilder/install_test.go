//go:build !unit

package kubebuilder

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

const crdName = "signerpolicies.policy.signerpolicy.dev"

func crd() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("apiextensions.k8s.io/v1")
	u.SetKind("CustomResourceDefinition")
	u.SetName(crdName)
	return u
}

// `make uninstall` removes the CRD (and would every SignerPolicy with it), refuses to remove one
// that is not there unless told ignore-not-found=true, and `make install` brings it back, serving
// policies.
func TestInstallAndUninstallTheCRD(t *testing.T) {
	restoreCRD(t)
	if !exists(t, crd()) {
		t.Fatal("the harness installed no SignerPolicy CRD to start from")
	}
	mustMake(t, "uninstall")
	if exists(t, crd()) {
		t.Fatal("the CRD is still there after make uninstall")
	}
	if out, err := runMake(t, "uninstall"); err == nil || !strings.Contains(out, "NotFound") {
		t.Errorf("make uninstall without a CRD gave %v, want kubectl's NotFound error:\n%s", err, out)
	}
	mustMake(t, "uninstall", "ignore-not-found=true")

	mustMake(t, "install")
	harness.Eventually(t, 30*time.Second, func() error {
		// A policy the CRD's schema accepts, created as a dry run so nothing is left behind.
		p := &policyv1alpha1.SignerPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "installed"},
			Spec: policyv1alpha1.SignerPolicySpec{
				IssuerRef:  &policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindClusterIssuer, Name: "ca"},
				Requesters: policyv1alpha1.Subjects{Users: []string{"dana"}},
			},
		}
		return env.Admin.Create(context.Background(), p, client.DryRunAll)
	})
	// Installing again is a no-op apply, as kubebuilder users run it after every API change.
	mustMake(t, "install")
}
