//go:build !unit

package controllers_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/rbac"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// mayReference asks the API server the exact question the signing controller asks before
// signing for a namespaced Issuer, for the user in groups.
func mayReference(t *testing.T, user, ns, issuer string, groups ...string) bool {
	t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user, Groups: groups,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Group: "cert-manager.io", Resource: "signers", Verb: "reference", Namespace: ns, Name: issuer,
		},
	}}
	if err := env.Admin.Create(context.Background(), sar); err != nil {
		t.Fatal(err)
	}
	return sar.Status.Allowed
}

func waitForReference(t *testing.T, user, ns, issuer string, want bool) {
	t.Helper()
	harness.Eventually(t, wait, func() error {
		if got := mayReference(t, user, ns, issuer); got != want {
			return fmt.Errorf("reference allowed for %s = %v, want %v", user, got, want)
		}
		return nil
	})
}

func TestReferenceIsGrantedToRequestersOnly(t *testing.T) {
	tn := newTenant(t)
	waitForReference(t, tn.user, tn.ns, "ca", true)
	if mayReference(t, "mallory-"+tn.ns, tn.ns, "ca") {
		t.Error("a user the policy does not name may reference the issuer")
	}
	if mayReference(t, tn.user, tn.ns, "other-issuer") {
		t.Error("the requester may reference an issuer the policy does not name")
	}
}

func TestRemovingTheRequesterWithdrawsReference(t *testing.T) {
	tn := newTenant(t)
	waitForReference(t, tn.user, tn.ns, "ca", true)

	var p policyv1alpha1.SignerPolicy
	if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: tn.policy}, &p); err != nil {
		t.Fatal(err)
	}
	p.Spec.Requesters.Users = []string{"someone-else"}
	if err := env.Admin.Update(context.Background(), &p); err != nil {
		t.Fatal(err)
	}
	waitForReference(t, tn.user, tn.ns, "ca", false)
	waitForReference(t, "someone-else", tn.ns, "ca", true)
}

func TestDeletingThePolicyWithdrawsEveryGrant(t *testing.T) {
	tn := newTenant(t)
	waitForReference(t, tn.user, tn.ns, "ca", true)

	if err := env.Admin.Delete(context.Background(), &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: tn.policy}}); err != nil {
		t.Fatal(err)
	}
	waitForReference(t, tn.user, tn.ns, "ca", false)
	harness.Eventually(t, wait, func() error {
		var roles rbacv1.ClusterRoleList
		if err := env.Admin.List(context.Background(), &roles, client.MatchingLabels{rbac.PolicyLabel: tn.policy}); err != nil {
			return err
		}
		if len(roles.Items) > 0 {
			return fmt.Errorf("%d ClusterRoles of the deleted policy remain", len(roles.Items))
		}
		return nil
	})
}

func TestStatusListsTheGeneratedObjectsAndThePolicyOwnsThem(t *testing.T) {
	tn := newTenant(t)
	p := readyStatus(t, tn.policy, metav1.ConditionTrue)
	want := []policyv1alpha1.GeneratedObject{
		{Kind: "Role", Name: "signerpolicy:" + tn.policy + ":reference", Namespace: tn.ns},
		{Kind: "RoleBinding", Name: "signerpolicy:" + tn.policy + ":reference", Namespace: tn.ns},
		{Kind: "ClusterRole", Name: "signerpolicy:" + tn.policy + ":requester"},
		{Kind: "ClusterRoleBinding", Name: "signerpolicy:" + tn.policy + ":requester"},
	}
	if fmt.Sprint(p.Status.RBAC) != fmt.Sprint(want) {
		t.Fatalf("status.rbac = %v\nwant          %v", p.Status.RBAC, want)
	}
	var role rbacv1.Role
	if err := env.Admin.Get(context.Background(), client.ObjectKey{Namespace: tn.ns, Name: want[0].Name}, &role); err != nil {
		t.Fatal(err)
	}
	refs := role.OwnerReferences
	if len(refs) != 1 || refs[0].UID != p.UID || refs[0].Kind != "SignerPolicy" || refs[0].Controller == nil || !*refs[0].Controller {
		t.Errorf("Role owner references = %+v, want the policy (uid %s) as controller, so the garbage collector removes it with the policy", refs, p.UID)
	}
}

func TestDriftInGeneratedRBACIsReverted(t *testing.T) {
	tn := newTenant(t)
	readyStatus(t, tn.policy, metav1.ConditionTrue)
	key := client.ObjectKey{Namespace: tn.ns, Name: "signerpolicy:" + tn.policy + ":reference"}

	var role rbacv1.Role
	if err := env.Admin.Get(context.Background(), key, &role); err != nil {
		t.Fatal(err)
	}
	role.Rules[0].ResourceNames = []string{"ca", "someone-elses-issuer"}
	if err := env.Admin.Update(context.Background(), &role); err != nil {
		t.Fatal(err)
	}
	var binding rbacv1.RoleBinding
	if err := env.Admin.Get(context.Background(), key, &binding); err != nil {
		t.Fatal(err)
	}
	if err := env.Admin.Delete(context.Background(), &binding); err != nil {
		t.Fatal(err)
	}

	harness.Eventually(t, wait, func() error {
		if err := env.Admin.Get(context.Background(), key, &role); err != nil {
			return err
		}
		if names := role.Rules[0].ResourceNames; len(names) != 1 || names[0] != "ca" {
			return fmt.Errorf("edited Role still names %v", names)
		}
		return env.Admin.Get(context.Background(), key, &binding)
	})
	waitForReference(t, tn.user, tn.ns, "ca", true)
}

func TestObjectsNoLongerImpliedAreDeleted(t *testing.T) {
	tn := newTenant(t, func(p *policyv1alpha1.SignerPolicy) {
		p.Spec.Approval.Approvers = &policyv1alpha1.Subjects{Users: []string{"approver"}}
	})
	approverRole := client.ObjectKey{Name: "signerpolicy:" + tn.policy + ":approver"}
	if err := env.Admin.Get(context.Background(), approverRole, &rbacv1.ClusterRole{}); err != nil {
		t.Fatalf("approver ClusterRole not generated: %v", err)
	}

	// Moving the policy to an issuer in another namespace and dropping its approvers leaves
	// nothing behind in the old namespace and no approver role.
	other := env.Namespace(t)
	env.Create(t, caIssuer(other, "ca"))
	var p policyv1alpha1.SignerPolicy
	if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: tn.policy}, &p); err != nil {
		t.Fatal(err)
	}
	p.Spec.IssuerRef.Namespace = other
	p.Spec.Approval.Approvers = nil
	if err := env.Admin.Update(context.Background(), &p); err != nil {
		t.Fatal(err)
	}
	waitForReference(t, tn.user, other, "ca", true)
	waitForReference(t, tn.user, tn.ns, "ca", false)
	harness.Eventually(t, wait, func() error {
		err := env.Admin.Get(context.Background(), approverRole, &rbacv1.ClusterRole{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("approver ClusterRole still there (err %v)", err)
		}
		return nil
	})
}

// The operator may only grant what it holds: without escalate or bind, the API server refuses
// to let it create a Role granting more. This applies a policy's objects as a user bound to
// exactly the ClusterRole that `make manifests` generates for the operator.
func TestOperatorRoleHoldsEveryPermissionItGrants(t *testing.T) {
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := harness.ReadObjects(filepath.Join(root, "config", "rbac", "role.yaml"))
	if err != nil || len(objs) != 1 {
		t.Fatalf("reading the operator's ClusterRole: %v", err)
	}
	var role rbacv1.ClusterRole
	if err := runtimeFromUnstructured(objs[0].Object, &role); err != nil {
		t.Fatal(err)
	}
	for _, r := range role.Rules {
		for _, v := range r.Verbs {
			if v == "escalate" || v == "bind" || v == "*" {
				t.Fatalf("the operator's ClusterRole holds %q: %+v", v, r)
			}
		}
	}
	operator := "operator-" + policyName(t)
	role.ObjectMeta = metav1.ObjectMeta{Name: "test:" + operator}
	env.Create(t, &role)
	env.Create(t, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "test:" + operator},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: operator}},
	})
	as := env.User(t, operator)

	ns := env.Namespace(t)
	p := policyFor(policyName(t), policyv1alpha1.IssuerReference{Kind: "Issuer", Namespace: ns, Name: "ca"})
	p.UID = "00000000-0000-0000-0000-000000000000"
	p.Spec.Approval.Approvers = &policyv1alpha1.Subjects{Groups: []string{"approvers"}}
	for _, obj := range rbac.ForPolicy(p, []policyv1alpha1.IssuerReference{*p.Spec.IssuerRef}, nil) {
		obj.Meta.OwnerReferences = nil // the owner does not exist; ownership is not what is tested
		harness.Eventually(t, wait, func() error {
			return as.Apply(context.Background(), obj.Apply, client.FieldOwner("test"), client.ForceOwnership)
		})
		generated := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: obj.Namespace, Name: obj.Name}}
		generated.SetGroupVersionKind(rbacv1.SchemeGroupVersion.WithKind(obj.Kind))
		t.Cleanup(func() { _ = env.Admin.Delete(context.Background(), generated) })
	}
}

func runtimeFromUnstructured(u map[string]any, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u, into)
}
