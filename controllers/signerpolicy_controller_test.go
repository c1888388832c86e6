//go:build !unit

package controllers_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

const wait = 20 * time.Second

func policyFor(name string, ref policyv1alpha1.IssuerReference) *policyv1alpha1.SignerPolicy {
	return &policyv1alpha1.SignerPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: policyv1alpha1.SignerPolicySpec{
			IssuerRef:  &ref,
			Requesters: policyv1alpha1.Subjects{Users: []string{"alice"}},
		},
	}
}

func caIssuer(ns, name string) *cmapi.Issuer {
	return &cmapi.Issuer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: name}}},
	}
}

// policyName gives each test its own cluster-scoped policy name.
func policyName(t testing.TB) string {
	n := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(n) > 60 {
		n = n[:60]
	}
	return strings.Trim(n, "-")
}

// readyStatus waits until the policy's Ready condition has the wanted status for its current
// generation, and returns the policy as last read.
func readyStatus(t testing.TB, name string, want metav1.ConditionStatus) *policyv1alpha1.SignerPolicy {
	t.Helper()
	var p policyv1alpha1.SignerPolicy
	harness.Eventually(t, wait, func() error {
		if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: name}, &p); err != nil {
			return err
		}
		c := meta.FindStatusCondition(p.Status.Conditions, policyv1alpha1.ConditionReady)
		if c == nil || c.Status != want || c.ObservedGeneration != p.Generation {
			return fmt.Errorf("Ready condition is %+v, want %s at generation %d", c, want, p.Generation)
		}
		// GitOps tools read the policy's own observedGeneration, not the condition's.
		if p.Status.ObservedGeneration != p.Generation {
			return fmt.Errorf("status.observedGeneration is %d, want %d", p.Status.ObservedGeneration, p.Generation)
		}
		return nil
	})
	return &p
}

func TestPolicyForIssuerBecomesReadyWithSignerName(t *testing.T) {
	ns := env.Namespace(t)
	env.Create(t, caIssuer(ns, "my.ca"))
	name := policyName(t)
	env.Create(t, policyFor(name, policyv1alpha1.IssuerReference{Kind: "Issuer", Namespace: ns, Name: "my.ca"}))

	p := readyStatus(t, name, metav1.ConditionTrue)
	if want := "issuers.cert-manager.io/" + ns + ".my.ca"; p.Status.SignerName != want {
		t.Errorf("status.signerName = %q, want %q", p.Status.SignerName, want)
	}
	if p.Spec.Approval.Mode != policyv1alpha1.ApprovalAutomatic {
		t.Errorf("spec.approval.mode defaulted to %q, want Automatic", p.Spec.Approval.Mode)
	}
}

func TestPolicyForClusterIssuerBecomesReadyWithSignerName(t *testing.T) {
	issuerName := policyName(t) + ".example"
	env.Create(t, &cmapi.ClusterIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: issuerName},
		Spec:       cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{SelfSigned: &cmapi.SelfSignedIssuer{}}},
	})
	name := policyName(t)
	env.Create(t, policyFor(name, policyv1alpha1.IssuerReference{Kind: "ClusterIssuer", Name: issuerName}))

	p := readyStatus(t, name, metav1.ConditionTrue)
	if want := "clusterissuers.cert-manager.io/" + issuerName; p.Status.SignerName != want {
		t.Errorf("status.signerName = %q, want %q", p.Status.SignerName, want)
	}
}

func TestPolicyWithMissingIssuerBecomesReadyWhenIssuerIsCreated(t *testing.T) {
	ns := env.Namespace(t)
	name := policyName(t)
	env.Create(t, policyFor(name, policyv1alpha1.IssuerReference{Kind: "Issuer", Namespace: ns, Name: "late"}))

	p := readyStatus(t, name, metav1.ConditionFalse)
	c := meta.FindStatusCondition(p.Status.Conditions, policyv1alpha1.ConditionReady)
	if c.Reason != policyv1alpha1.ReasonIssuerNotFound || !strings.Contains(c.Message, "spec.issuerRef") {
		t.Errorf("Ready condition = %s: %s, want reason IssuerNotFound naming spec.issuerRef", c.Reason, c.Message)
	}
	if p.Status.SignerName == "" {
		t.Error("status.signerName is empty while the issuer is missing; requesters need it to prepare CSRs")
	}

	env.Create(t, caIssuer(ns, "late"))
	readyStatus(t, name, metav1.ConditionTrue)
}

func TestPolicyStopsBeingReadyWhenIssuerIsDeleted(t *testing.T) {
	ns := env.Namespace(t)
	issuer := caIssuer(ns, "ca")
	env.Create(t, issuer)
	name := policyName(t)
	env.Create(t, policyFor(name, policyv1alpha1.IssuerReference{Kind: "Issuer", Namespace: ns, Name: "ca"}))
	readyStatus(t, name, metav1.ConditionTrue)

	if err := env.Admin.Delete(context.Background(), issuer); err != nil {
		t.Fatal(err)
	}
	readyStatus(t, name, metav1.ConditionFalse)
}

func TestPolicyForIssuerOfNoKnownTypeIsNotReady(t *testing.T) {
	ns := env.Namespace(t)
	// cert-manager's schema accepts an Issuer that configures no type (external issuers use
	// their own kinds, but nothing stops this); the operator cannot sign for it.
	env.Create(t, &cmapi.Issuer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "empty"}})
	name := policyName(t)
	env.Create(t, policyFor(name, policyv1alpha1.IssuerReference{Kind: "Issuer", Namespace: ns, Name: "empty"}))

	p := readyStatus(t, name, metav1.ConditionFalse)
	if c := meta.FindStatusCondition(p.Status.Conditions, policyv1alpha1.ConditionReady); c.Reason != policyv1alpha1.ReasonUnsupportedIssuerType {
		t.Errorf("Ready reason = %s, want UnsupportedIssuerType", c.Reason)
	}
}

func TestPolicyReadyFollowsSpecChanges(t *testing.T) {
	ns := env.Namespace(t)
	env.Create(t, caIssuer(ns, "first"))
	name := policyName(t)
	p := policyFor(name, policyv1alpha1.IssuerReference{Kind: "Issuer", Namespace: ns, Name: "first"})
	env.Create(t, p)
	readyStatus(t, name, metav1.ConditionTrue)

	// Pointing the policy at an issuer that does not exist must withdraw Ready for the new
	// generation and move the signerName with it.
	p = readyStatus(t, name, metav1.ConditionTrue)
	p.Spec.IssuerRef.Name = "second"
	if err := env.Admin.Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	p = readyStatus(t, name, metav1.ConditionFalse)
	if want := "issuers.cert-manager.io/" + ns + ".second"; p.Status.SignerName != want {
		t.Errorf("status.signerName = %q, want %q", p.Status.SignerName, want)
	}
}

func TestSamplesApplyAndBecomeReady(t *testing.T) {
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "config", "samples", "*_*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples found: %v", err)
	}
	var policies []string
	for _, f := range files {
		objs, err := harness.ReadObjects(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := harness.Apply(context.Background(), env.Admin, objs); err != nil {
			t.Fatalf("%s does not apply: %v", filepath.Base(f), err)
		}
		for _, o := range objs {
			t.Cleanup(func() { _ = env.Admin.Delete(context.Background(), o) })
			if o.GetKind() == "SignerPolicy" {
				policies = append(policies, o.GetName())
			}
		}
	}
	if len(policies) < 2 {
		t.Fatalf("samples hold %d SignerPolicies, want one per approval mode", len(policies))
	}
	generations := map[string]int64{}
	for _, name := range policies {
		generations[name] = readyStatus(t, name, metav1.ConditionTrue).Generation
	}

	// GitOps applies the same files again and again: nothing the operator writes or the API
	// server defaults may fight with them, so a second server-side apply changes no spec.
	for _, f := range files {
		objs, err := harness.ReadObjects(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := harness.Apply(context.Background(), env.Admin, objs); err != nil {
			t.Fatalf("%s does not apply a second time: %v", filepath.Base(f), err)
		}
	}
	for _, name := range policies {
		if p := readyStatus(t, name, metav1.ConditionTrue); p.Generation != generations[name] {
			t.Errorf("applying %s again moved its generation from %d to %d", name, generations[name], p.Generation)
		}
	}
}
