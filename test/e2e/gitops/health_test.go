//go:build !unit

package gitops

import (
	"context"
	"fmt"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/controllers"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/ca"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

const wait = 30 * time.Second

var env *harness.Env

// options run only the policy controller, which writes the status these tools read; CA is the
// one issuer type it knows, so a policy over another type is not Ready.
var options = controllers.Options{
	Signers: func(mgr ctrl.Manager) (*signer.Registry, error) {
		return signer.NewRegistry(signer.Entry{Type: signer.TypeCA, Signer: ca.New(mgr.GetAPIReader())})
	},
	ClusterResourceNamespace: "signer-policy-system",
	Controllers:              []string{controllers.ControllerPolicy},
}

// health is how both tools should read one policy.
type health struct {
	policy  string
	kstatus status.Status
	argo    string
}

// Policies in each state a GitOps tool meets, made by the operator itself rather than written
// by hand: Ready (beside the informational conditions at their least reassuring: its signer
// shared, no approvers named), waiting for an issuer that does not exist yet, invalid, stale
// (the spec changed while the operator was away) and not yet seen at all.
func TestKstatusAndArgoCDReadThePoliciesTheOperatorReportsOn(t *testing.T) {
	script := healthScript(t)
	ns := env.Namespace(t)
	env.Create(t, &cmapi.Issuer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ca"},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "ca"}}}})
	issuer := policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: ns, Name: "ca"}
	notYet := policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: ns, Name: "not-yet"}

	ready := newPolicy("ready-"+ns, issuer, policyv1alpha1.ApprovalManual)
	neighbour := newPolicy("neighbour-"+ns, issuer, policyv1alpha1.ApprovalAutomatic)
	waiting := newPolicy("waiting-"+ns, notYet, policyv1alpha1.ApprovalAutomatic)
	invalid := newPolicy("invalid-"+ns, issuer, policyv1alpha1.ApprovalAutomatic)
	invalid.Spec.Validations = []policyv1alpha1.Validation{{Rule: "request.dnsNames.all(n, "}}
	for _, p := range []*policyv1alpha1.SignerPolicy{ready, neighbour, waiting, invalid} {
		env.Create(t, p)
	}
	waitForReport(t, ready.Name, "Ready", metav1.ConditionTrue, policyv1alpha1.ReasonReady)
	waitForReport(t, ready.Name, policyv1alpha1.ConditionSignerShared, metav1.ConditionTrue, "")
	waitForReport(t, ready.Name, policyv1alpha1.ConditionApproversNamed, metav1.ConditionFalse, policyv1alpha1.ReasonNoApprovers)
	waitForReport(t, waiting.Name, "Ready", metav1.ConditionFalse, policyv1alpha1.ReasonIssuerNotFound)
	waitForReport(t, invalid.Name, "Ready", metav1.ConditionFalse, policyv1alpha1.ReasonInvalidPolicy)
	expect(t, script,
		health{ready.Name, status.CurrentStatus, "Healthy"},
		// The issuer may yet come (a policy synced before its issuer): waiting, not failed.
		health{waiting.Name, status.InProgressStatus, "Progressing"},
		// Only a change to the policy helps: the Stalled condition says so to kstatus.
		health{invalid.Name, status.FailedStatus, "Degraded"},
	)

	// With the operator stopped, the spec of the Ready policy changes and a new policy arrives.
	if err := env.StopManager(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = env.StartManager(options)
		}
	})
	var changed policyv1alpha1.SignerPolicy
	if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: ready.Name}, &changed); err != nil {
		t.Fatal(err)
	}
	changed.Spec.Allowed.DNSNames = append(changed.Spec.Allowed.DNSNames, "*.example.org")
	if err := env.Admin.Update(context.Background(), &changed); err != nil {
		t.Fatal(err)
	}
	unseen := newPolicy("unseen-"+ns, issuer, policyv1alpha1.ApprovalAutomatic)
	env.Create(t, unseen)
	expect(t, script,
		// The Ready condition still says True, for generation 1.
		health{ready.Name, status.InProgressStatus, "Progressing"},
		// The schema defaults status.observedGeneration to 0, so a policy the operator has not
		// reported on is behind its generation 1.
		health{unseen.Name, status.InProgressStatus, "Progressing"},
	)

	if err := env.StartManager(options); err != nil {
		t.Fatal(err)
	}
	restarted = true
	harness.Eventually(t, wait, func() error {
		return check(script, health{ready.Name, status.CurrentStatus, "Healthy"}, health{unseen.Name, status.CurrentStatus, "Healthy"})
	})
}

func newPolicy(name string, ref policyv1alpha1.IssuerReference, mode policyv1alpha1.ApprovalMode) *policyv1alpha1.SignerPolicy {
	return &policyv1alpha1.SignerPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: policyv1alpha1.SignerPolicySpec{
			IssuerRef:  &ref,
			Requesters: policyv1alpha1.Subjects{Users: []string{"dana"}},
			Approval:   policyv1alpha1.Approval{Mode: mode},
			Allowed:    policyv1alpha1.Allowed{DNSNames: []string{"*.example.com"}},
		},
	}
}

// waitForReport waits until the operator reports the condition for the policy's generation
// (an empty reason matches any).
func waitForReport(t *testing.T, name, conditionType string, want metav1.ConditionStatus, reason string) {
	t.Helper()
	harness.Eventually(t, wait, func() error {
		u, err := live(name)
		if err != nil {
			return err
		}
		observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
		if observed != u.GetGeneration() {
			return fmt.Errorf("%s: status.observedGeneration %d, generation %d", name, observed, u.GetGeneration())
		}
		conditions, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conditions {
			c := c.(map[string]any)
			if c["type"] == conditionType && c["status"] == string(want) && (reason == "" || c["reason"] == reason) {
				return nil
			}
		}
		return fmt.Errorf("%s: no %s=%s (%s) among %v", name, conditionType, want, reason, conditions)
	})
}

// live reads the policy as a GitOps tool does: the whole object from the API server, untyped.
func live(name string) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(policyv1alpha1.GroupVersion.WithKind("SignerPolicy"))
	return u, env.Admin.Get(context.Background(), client.ObjectKey{Name: name}, u)
}

func expect(t *testing.T, script string, want ...health) {
	t.Helper()
	if err := check(script, want...); err != nil {
		t.Error(err)
	}
}

// check reads each policy with kstatus and with the Argo CD health script.
func check(script string, want ...health) error {
	for _, w := range want {
		u, err := live(w.policy)
		if err != nil {
			return err
		}
		res, err := status.Compute(u)
		if err != nil {
			return fmt.Errorf("kstatus on %s: %w", w.policy, err)
		}
		if res.Status != w.kstatus {
			return fmt.Errorf("kstatus reads %s as %s (%s), want %s", w.policy, res.Status, res.Message, w.kstatus)
		}
		h, err := runHealthScript(script, u)
		if err != nil {
			return fmt.Errorf("Argo CD health of %s: %w", w.policy, err)
		}
		if h.Status != w.argo {
			return fmt.Errorf("Argo CD reads %s as %s (%s), want %s", w.policy, h.Status, h.Message, w.argo)
		}
	}
	return nil
}
