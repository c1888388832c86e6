package badinput

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// TestPolicyEdgeCases creates each SignerPolicy of the corpus exactly as written (unknown
// fields and all, as kubectl would send it). Refused policies must be refused by the CRD's
// schema or CEL rules with a message naming the field; accepted ones must be stored with only
// the documented fields pruned and reach the documented Ready reason, which also shows that the
// operator reconciled them without harm.
func TestPolicyEdgeCases(t *testing.T) {
	const edge = "badinput-edge"
	ensureNamespace(t, edge)
	root := testpki.NewRootCA(t, testpki.ECDSA, "edge CA")
	env.Create(t, root.Secret(edge, "edge"))
	env.Create(t, &cmapi.Issuer{ObjectMeta: metav1.ObjectMeta{Namespace: edge, Name: "edge"},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "edge"}}}})
	env.Create(t, root.Secret(clusterResourceNamespace, edge))
	env.Create(t, &cmapi.ClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: edge},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: edge}}}})

	var cases []policyCase
	load(t, "policies.yaml", &cases)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			submitted := &unstructured.Unstructured{Object: c.Policy}
			obj := submitted.DeepCopy()
			err := env.Admin.Create(context.Background(), obj)
			if c.Want.Outcome == refused {
				if err == nil {
					_ = env.Admin.Delete(context.Background(), obj)
					t.Fatalf("the API server accepted it, want refused (%s)", c.Want.Message)
				}
				expectMessage(t, "refusal", err.Error(), c.Want)
				t.Logf("refused: %s", tail(err.Error()))
				return
			}
			if c.Want.Outcome != accepted {
				t.Fatalf("unknown outcome %q for a policy", c.Want.Outcome)
			}
			if err != nil {
				t.Fatalf("the API server refused it: %v", err)
			}
			t.Cleanup(func() { _ = env.Admin.Delete(context.Background(), obj) })
			if got := pruned(submitted.Object, obj.Object, ""); !slices.Equal(got, c.Want.Pruned) {
				t.Errorf("the API server dropped %v, want %v", got, c.Want.Pruned)
			}
			p := waitReadyReason(t, obj.GetName())
			ready := meta.FindStatusCondition(p.Status.Conditions, policyv1alpha1.ConditionReady)
			if ready.Reason != c.Want.Reason || (ready.Status == metav1.ConditionTrue) != (c.Want.Reason == policyv1alpha1.ReasonReady) {
				t.Errorf("Ready %s/%s (%s), want reason %s", ready.Status, ready.Reason, ready.Message, c.Want.Reason)
			}
			t.Logf("accepted: Ready %s/%s, %d generated RBAC objects", ready.Status, ready.Reason, len(p.Status.RBAC))
		})
	}
}

// waitReadyReason waits for the operator to report on the policy's current generation.
func waitReadyReason(t *testing.T, name string) *policyv1alpha1.SignerPolicy {
	t.Helper()
	var p policyv1alpha1.SignerPolicy
	harness.Eventually(t, settle, func() error {
		if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: name}, &p); err != nil {
			return err
		}
		c := meta.FindStatusCondition(p.Status.Conditions, policyv1alpha1.ConditionReady)
		if c == nil || c.ObservedGeneration != p.Generation {
			return fmt.Errorf("policy %s has no Ready condition for generation %d: %+v", name, p.Generation, c)
		}
		// RBAC is applied before Ready is reported; a Ready policy also lists what it made.
		if c.Status == metav1.ConditionTrue && len(p.Status.RBAC) == 0 {
			return fmt.Errorf("policy %s is Ready without generated RBAC", name)
		}
		return nil
	})
	return &p
}

// pruned lists the paths present in submitted but absent from stored: the fields the API server
// dropped as unknown.
func pruned(submitted, stored map[string]any, prefix string) []string {
	var out []string
	for k, v := range submitted {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		got, ok := stored[k]
		if !ok {
			out = append(out, path)
			continue
		}
		if sub, isMap := v.(map[string]any); isMap {
			if gotMap, ok := got.(map[string]any); ok {
				out = append(out, pruned(sub, gotMap, path)...)
			}
		}
	}
	sort.Strings(out)
	return out
}
