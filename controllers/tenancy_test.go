//go:build !unit

package controllers_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/rbac"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// tenancy is one tenant: a namespace with a CA Issuer "ca", whose administrator holds only what a
// namespace admin holds there: the admin ClusterRole and the NamespacedSignerPolicy rights shipped for
// aggregation into it, bound by a RoleBinding in the namespace.
type tenancy struct {
	ns    string
	admin client.Client
	ca    *testpki.CA
}

func (tn tenancy) signerName() string { return "issuers.cert-manager.io/" + tn.ns + ".ca" }

// serviceAccount is a client authenticating as the namespace's service account name, with the
// groups the API server gives service accounts.
func (tn tenancy) serviceAccount(t *testing.T, name string) client.Client {
	return env.User(t, "system:serviceaccount:"+tn.ns+":"+name, "system:serviceaccounts", "system:serviceaccounts:"+tn.ns, "system:authenticated")
}

// tenantRoles installs the shipped tenant ClusterRoles. Kubernetes aggregates them into
// admin, edit and view through kube-controller-manager, which envtest does not run, so tenants'
// RoleBindings below bind what aggregation would put into admin.
func tenantRoles(t *testing.T) {
	t.Helper()
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := harness.ReadObjects(filepath.Join(root, "config", "rbac", "tenants", "namespacedsignerpolicy_roles.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := harness.Apply(context.Background(), env.Admin, objs); err != nil {
		t.Fatal(err)
	}
}

func newTenancy(t *testing.T) tenancy {
	t.Helper()
	tenantRoles(t)
	tn := tenancy{ns: env.Namespace(t), ca: testpki.NewRootCA(t, testpki.ECDSA, "Tenant CA")}
	env.Create(t, tn.ca.Secret(tn.ns, "ca"))
	env.Create(t, caIssuer(tn.ns, "ca"))
	user := "admin-of-" + tn.ns
	// The rules kube-controller-manager aggregates into admin are the bootstrap
	// system:aggregate-to-* roles plus ours: bound one by one, they are a real namespace admin's.
	for _, role := range []string{"system:aggregate-to-admin", "system:aggregate-to-edit", "system:aggregate-to-view", "namespacedsignerpolicies-edit"} {
		env.Create(t, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: tn.ns, Name: "test-tenant-" + strings.ReplaceAll(role, ":", "-")},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{harness.UserSubject(user)},
		})
	}
	tn.admin = env.User(t, user)
	return tn
}

// delegate makes a Ready SignerPolicy that governs the "ca" Issuers of the tenants' namespaces,
// names no requesters of its own, and delegates them within its rules: lifetimes up to a day,
// TLS server usages, and DNS names of the Issuer's own namespace only.
func delegate(t *testing.T, name string, tenants []tenancy, mutate ...func(*policyv1alpha1.SignerPolicy)) *policyv1alpha1.SignerPolicy {
	t.Helper()
	var namespaces []string
	for _, tn := range tenants {
		namespaces = append(namespaces, tn.ns)
	}
	p := &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: policyv1alpha1.SignerPolicySpec{
		Issuers:    &policyv1alpha1.IssuerSelector{Kind: policyv1alpha1.IssuerKindIssuer, Names: []string{"ca"}, Namespaces: namespaces},
		Delegation: &policyv1alpha1.Delegation{},
		Duration:   &policyv1alpha1.DurationBounds{Max: &metav1.Duration{Duration: 24 * time.Hour}},
		Usages:     []policyv1alpha1.KeyUsage{"digital signature", "key encipherment", "server auth"},
		Allowed:    policyv1alpha1.Allowed{DNSNames: []string{"*.$(issuer.namespace).svc"}},
	}}
	for _, m := range mutate {
		m(p)
	}
	env.GovernWithPolicy(t, p)
	return p
}

// tenantPolicy is a namespaced policy for the tenant's "ca" Issuer and its service account "web",
// allowing dnsNames.
func tenantPolicy(tn tenancy, name string, dnsNames ...string) *policyv1alpha1.NamespacedSignerPolicy {
	return &policyv1alpha1.NamespacedSignerPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: tn.ns, Name: name}, Spec: policyv1alpha1.NamespacedSignerPolicySpec{
		IssuerRef:  &policyv1alpha1.LocalIssuerReference{Name: "ca"},
		Requesters: policyv1alpha1.Subjects{ServiceAccounts: []policyv1alpha1.ServiceAccountReference{{Namespace: tn.ns, Name: "web"}}},
		Allowed:    policyv1alpha1.Allowed{DNSNames: dnsNames},
	}}
}

// writeAsTenant creates the policy with the tenant admin's own rights.
func writeAsTenant(t *testing.T, tn tenancy, p *policyv1alpha1.NamespacedSignerPolicy) {
	t.Helper()
	if err := tn.admin.Create(context.Background(), p); err != nil {
		t.Fatalf("tenant admin creating NamespacedSignerPolicy %s/%s: %v", p.Namespace, p.Name, err)
	}
	t.Cleanup(func() { _ = env.Admin.Delete(context.Background(), p) })
}

// namespacedReady waits until the namespaced policy's Ready condition, for its current generation,
// has the wanted status and reason, and returns the policy.
func namespacedReady(t *testing.T, ns, name string, want metav1.ConditionStatus, reason string) *policyv1alpha1.NamespacedSignerPolicy {
	t.Helper()
	var p policyv1alpha1.NamespacedSignerPolicy
	harness.Eventually(t, wait, func() error {
		if err := env.Admin.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &p); err != nil {
			return err
		}
		c := meta.FindStatusCondition(p.Status.Conditions, policyv1alpha1.ConditionReady)
		if c == nil || c.Status != want || c.Reason != reason || c.ObservedGeneration != p.Generation {
			return fmt.Errorf("Ready condition is %+v, want %s %s at generation %d", c, want, reason, p.Generation)
		}
		return nil
	})
	return &p
}

// A platform delegates to two tenants; each tenant admin writes a policy for its own Issuer and
// its workload gets a certificate of its own namespace's names, for no longer than the
// delegation's max, while the status says which delegation holds and with what bounds.
func TestTenantsGetCertificatesWithinTheirDelegation(t *testing.T) {
	a, b := newTenancy(t), newTenancy(t)
	platform := delegate(t, policyName(t), []tenancy{a, b})
	for _, tn := range []tenancy{a, b} {
		writeAsTenant(t, tn, tenantPolicy(tn, "web", "web.$(issuer.namespace).svc"))
	}
	for _, tn := range []tenancy{a, b} {
		p := namespacedReady(t, tn.ns, "web", metav1.ConditionTrue, policyv1alpha1.ReasonReady)
		if len(p.Status.Delegations) != 1 || p.Status.Delegations[0].Policy != platform.Name {
			t.Fatalf("status.delegations = %+v, want one by %s", p.Status.Delegations, platform.Name)
		}
		if d := p.Status.Delegations[0]; d.MaxDuration == nil || d.MaxDuration.Duration != 24*time.Hour || d.AllowCA ||
			!slices.Equal(d.Usages, []policyv1alpha1.KeyUsage{"digital signature", "key encipherment", "server auth"}) {
			t.Errorf("effective bounds = %+v, want max 24h, no CA, the delegation's three usages", d)
		}
		if !slices.Equal(p.Status.SignerNames, []string{tn.signerName()}) {
			t.Errorf("status.signerNames = %v, want [%s]", p.Status.SignerNames, tn.signerName())
		}

		c := env.SubmitCSR(t, tn.serviceAccount(t, "web"), harness.CSR{SignerName: tn.signerName(), Request: dnsCSR(t, "web."+tn.ns+".svc")})
		issued := env.WaitForCSR(t, c.Name, wait, harness.Issued)
		approved := harness.Condition(issued, certificatesv1.CertificateApproved)
		if want := fmt.Sprintf("approved by NamespacedSignerPolicy %q", tn.ns+"/web"); approved == nil || approved.Message != want {
			t.Errorf("Approved condition %+v, want message %q", approved, want)
		}
		leaf := testpki.ParseChain(t, issued.Status.Certificate)[0]
		if lifetime := leaf.NotAfter.Sub(leaf.NotBefore); lifetime > 24*time.Hour+time.Minute {
			t.Errorf("certificate lives %s, longer than the delegation's max of 24h", lifetime)
		}
		if err := leaf.CheckSignatureFrom(tn.ca.Cert); err != nil {
			t.Errorf("certificate not signed by the tenant's own CA: %v", err)
		}
	}
}

// A tenancy cannot reach another tenant's Issuer: not by writing a policy in the other namespace
// (RBAC refuses), nor by requesting from it (no policy there names its workload), nor by naming
// the other namespace's service accounts in its own policy.
func TestTenantCannotReachAnotherTenantsIssuer(t *testing.T) {
	a, b := newTenancy(t), newTenancy(t)
	delegate(t, policyName(t), []tenancy{a, b})
	writeAsTenant(t, a, tenantPolicy(a, "web", "web.$(issuer.namespace).svc"))
	writeAsTenant(t, b, tenantPolicy(b, "web", "web.$(issuer.namespace).svc"))
	namespacedReady(t, a.ns, "web", metav1.ConditionTrue, policyv1alpha1.ReasonReady)
	namespacedReady(t, b.ns, "web", metav1.ConditionTrue, policyv1alpha1.ReasonReady)

	intoB := tenantPolicy(b, "from-a", "*.$(issuer.namespace).svc")
	intoB.Spec.Requesters.ServiceAccounts[0].Namespace = a.ns
	if err := a.admin.Create(context.Background(), intoB); !apierrors.IsForbidden(err) {
		t.Fatalf("tenancy A creating a policy in B's namespace: %v, want Forbidden", err)
	}

	// A's workload asks B's Issuer for B's name.
	c := env.SubmitCSR(t, crossRequester(t, a, "web"), harness.CSR{SignerName: b.signerName(), Request: dnsCSR(t, "web."+b.ns+".svc")})
	denied := env.WaitForCSR(t, c.Name, wait, harness.HasCondition(certificatesv1.CertificateDenied))
	if msg := harness.Condition(denied, certificatesv1.CertificateDenied).Message; !strings.Contains(msg, `policy "`+b.ns+`/web": spec.requesters`) {
		t.Errorf("denial does not say B's policy does not name A's workload:\n%s", msg)
	}

	// A's policy naming B's service account is out of force, grants B's account nothing, and says why.
	stealer := tenantPolicy(a, "names-b", "*.$(issuer.namespace).svc")
	stealer.Spec.Requesters.ServiceAccounts[0].Namespace = b.ns
	writeAsTenant(t, a, stealer)
	p := namespacedReady(t, a.ns, "names-b", metav1.ConditionFalse, policyv1alpha1.ReasonBeyondDelegation)
	if msg := meta.FindStatusCondition(p.Status.Conditions, policyv1alpha1.ConditionReady).Message; !strings.Contains(msg, "spec.requesters.serviceAccounts[0].namespace") {
		t.Errorf("Ready message does not name the field: %s", msg)
	}
	if len(p.Status.RBAC) != 0 {
		t.Errorf("a policy out of force generated RBAC: %+v", p.Status.RBAC)
	}
	c = env.SubmitCSR(t, crossRequester(t, b, "web"), harness.CSR{SignerName: a.signerName(), Request: dnsCSR(t, "web."+a.ns+".svc")})
	denied = env.WaitForCSR(t, c.Name, wait, harness.HasCondition(certificatesv1.CertificateDenied))
	if msg := harness.Condition(denied, certificatesv1.CertificateDenied).Message; !strings.Contains(msg, "spec.requesters.serviceAccounts[0].namespace") {
		t.Errorf("denial does not say why A's policy naming B's workload refuses:\n%s", msg)
	}
}

// crossRequester is tn's service account with the right to create CSRs granted by hand, so that a
// request to another tenant's Issuer reaches the operator rather than the API server's refusal.
func crossRequester(t *testing.T, tn tenancy, name string) client.Client {
	t.Helper()
	env.GrantCSRCreate(t, "system:serviceaccount:"+tn.ns+":"+name)
	return tn.serviceAccount(t, name)
}

// A tenant's policy cannot get more than its delegation: a name the delegation does not allow is
// denied naming the delegating policy's field, a person's approval of it is not signed, and a
// Manual policy's approval is re-checked against the delegation at signing.
func TestTenantCannotExceedItsDelegation(t *testing.T) {
	a := newTenancy(t)
	platform := delegate(t, policyName(t), []tenancy{a})
	writeAsTenant(t, a, tenantPolicy(a, "wide", "web.$(issuer.namespace).svc", "*.example.com"))
	namespacedReady(t, a.ns, "wide", metav1.ConditionTrue, policyv1alpha1.ReasonReady)
	web := a.serviceAccount(t, "web")

	c := env.SubmitCSR(t, web, harness.CSR{SignerName: a.signerName(), Request: dnsCSR(t, "api.example.com")})
	denied := env.WaitForCSR(t, c.Name, wait, harness.HasCondition(certificatesv1.CertificateDenied))
	want := fmt.Sprintf(`policy %q: SignerPolicy %q spec.allowed.dnsNames`, a.ns+"/wide", platform.Name)
	if msg := harness.Condition(denied, certificatesv1.CertificateDenied).Message; !strings.Contains(msg, want) {
		t.Errorf("denial does not name the delegation's field (%s):\n%s", want, msg)
	}

	// A lifetime over the delegation's max is refused at approval too.
	long := int32((48 * time.Hour).Seconds())
	c = env.SubmitCSR(t, web, harness.CSR{SignerName: a.signerName(), Request: dnsCSR(t, "web."+a.ns+".svc"), ExpirationSeconds: &long})
	denied = env.WaitForCSR(t, c.Name, wait, harness.HasCondition(certificatesv1.CertificateDenied))
	if msg := harness.Condition(denied, certificatesv1.CertificateDenied).Message; !strings.Contains(msg, fmt.Sprintf("SignerPolicy %q spec.duration.max", platform.Name)) {
		t.Errorf("denial does not name the delegation's max:\n%s", msg)
	}

	// Manual now: an approver's approval beyond the delegation is refused when signing.
	manual := tenantPolicy(a, "manual", "*.example.com")
	manual.Spec.Approval.Mode = policyv1alpha1.ApprovalManual
	writeAsTenant(t, a, manual)
	namespacedReady(t, a.ns, "manual", metav1.ConditionTrue, policyv1alpha1.ReasonReady)
	c = env.SubmitCSR(t, web, harness.CSR{SignerName: a.signerName(), Request: dnsCSR(t, "db.example.com")})
	harness.ApproveEventually(t, wait, env.Admin, c.Name)
	env.WaitForCSR(t, c.Name, wait, harness.FailedWith("PolicyViolation", fmt.Sprintf("SignerPolicy %q spec.allowed.dnsNames", platform.Name)))
}

// A tenant's policy grants only what its delegation permits: users it may not name get no
// binding, system: identities are refused by the API server, the operator's bindings name only
// the policy's own subjects, and the tenancy cannot write the status that says a policy is in
// force.
func TestTenantPolicyRBACStaysWithinTheDelegation(t *testing.T) {
	a := newTenancy(t)
	delegate(t, policyName(t), []tenancy{a})

	masters := tenantPolicy(a, "masters", "web.$(issuer.namespace).svc")
	masters.Spec.Requesters.Groups = []string{"system:masters"}
	if err := a.admin.Create(context.Background(), masters); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "system: groups") {
		t.Fatalf("creating a policy naming system:masters: %v, want Invalid naming system: groups", err)
	}

	bob := tenantPolicy(a, "bob", "web.$(issuer.namespace).svc")
	bob.Spec.Requesters.Users = []string{"bob"}
	writeAsTenant(t, a, bob)
	p := namespacedReady(t, a.ns, "bob", metav1.ConditionFalse, policyv1alpha1.ReasonBeyondDelegation)
	if msg := meta.FindStatusCondition(p.Status.Conditions, policyv1alpha1.ConditionReady).Message; !strings.Contains(msg, "spec.delegation.users") {
		t.Errorf("Ready message does not say the delegation forbids users: %s", msg)
	}
	if generated := generatedFor(t, a.ns+"/bob"); len(generated) != 0 {
		t.Errorf("a policy beyond its delegation has RBAC: %v", generated)
	}

	writeAsTenant(t, a, tenantPolicy(a, "web", "web.$(issuer.namespace).svc"))
	p = namespacedReady(t, a.ns, "web", metav1.ConditionTrue, policyv1alpha1.ReasonReady)
	wantSubject := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: a.ns, Name: "web"}
	var clusterWide, inNamespace int
	for _, ref := range p.Status.RBAC {
		switch ref.Kind {
		case "ClusterRoleBinding":
			clusterWide++
			var crb rbacv1.ClusterRoleBinding
			if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: ref.Name}, &crb); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(crb.Subjects, []rbacv1.Subject{wantSubject}) {
				t.Errorf("ClusterRoleBinding %s binds %+v, want only %+v", ref.Name, crb.Subjects, wantSubject)
			}
		case "ClusterRole":
			var cr rbacv1.ClusterRole
			if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: ref.Name}, &cr); err != nil {
				t.Fatal(err)
			}
			// Creating CSRs and reading one by name; listing them would show every tenant's.
			for _, rule := range cr.Rules {
				if !slices.Equal(rule.APIGroups, []string{"certificates.k8s.io"}) || !slices.Equal(rule.Resources, []string{"certificatesigningrequests"}) ||
					!slices.Equal(rule.Verbs, []string{"create", "get"}) {
					t.Errorf("ClusterRole %s grants %+v beyond creating CSRs and reading one by name", ref.Name, rule)
				}
			}
		case "Role", "RoleBinding":
			inNamespace++
			if ref.Namespace != a.ns {
				t.Errorf("%s %s/%s is outside the tenant's namespace", ref.Kind, ref.Namespace, ref.Name)
			}
		}
	}
	if clusterWide != 1 || inNamespace != 2 {
		t.Errorf("generated %+v, want a reference Role and RoleBinding in %s and one ClusterRoleBinding to create CSRs", p.Status.RBAC, a.ns)
	}

	forged := p.DeepCopy()
	forged.Status.Conditions = nil
	if err := a.admin.Status().Update(context.Background(), forged); !apierrors.IsForbidden(err) {
		t.Errorf("tenant admin writing status: %v, want Forbidden", err)
	}
}

// generatedFor lists the RBAC objects labelled for the policy called key.
func generatedFor(t *testing.T, key string) []string {
	t.Helper()
	selector := client.MatchingLabels(rbac.Labels(key))
	var out []string
	var roles rbacv1.RoleList
	var bindings rbacv1.RoleBindingList
	var clusterRoles rbacv1.ClusterRoleList
	var clusterBindings rbacv1.ClusterRoleBindingList
	for _, l := range []client.ObjectList{&roles, &bindings, &clusterRoles, &clusterBindings} {
		if err := env.Admin.List(context.Background(), l, selector); err != nil {
			t.Fatal(err)
		}
		items, _ := meta.ExtractList(l)
		for _, item := range items {
			o := item.(client.Object)
			out = append(out, fmt.Sprintf("%T %s/%s", o, o.GetNamespace(), o.GetName()))
		}
	}
	return out
}

// Removing the delegation takes the tenants' policies out of force: they say so, their RBAC is
// gone, and a CSR of their Issuer is neither approved nor signed.
func TestRemovingTheDelegationTakesTenantPoliciesOutOfForce(t *testing.T) {
	a := newTenancy(t)
	platform := delegate(t, policyName(t), []tenancy{a})
	writeAsTenant(t, a, tenantPolicy(a, "web", "web.$(issuer.namespace).svc"))
	namespacedReady(t, a.ns, "web", metav1.ConditionTrue, policyv1alpha1.ReasonReady)
	harness.Eventually(t, wait, func() error {
		if len(generatedFor(t, a.ns+"/web")) == 0 {
			return fmt.Errorf("no RBAC generated yet")
		}
		return nil
	})

	if err := env.Admin.Delete(context.Background(), platform); err != nil {
		t.Fatal(err)
	}
	p := namespacedReady(t, a.ns, "web", metav1.ConditionFalse, policyv1alpha1.ReasonNotDelegated)
	if len(p.Status.Delegations) != 0 {
		t.Errorf("status.delegations = %+v after the delegation went", p.Status.Delegations)
	}
	harness.Eventually(t, wait, func() error {
		if g := generatedFor(t, a.ns+"/web"); len(g) > 0 {
			return fmt.Errorf("RBAC still there: %v", g)
		}
		return nil
	})

	// Nothing governs the Issuer now: the operator leaves the CSR to others, and an approval by
	// someone else is not signed, since the workload may no longer reference the Issuer.
	c := env.SubmitCSR(t, crossRequester(t, a, "web"), harness.CSR{SignerName: a.signerName(), Request: dnsCSR(t, "web."+a.ns+".svc")})
	harness.ApproveEventually(t, wait, env.Admin, c.Name)
	failed := env.WaitForCSR(t, c.Name, wait, harness.FailedWith("DeniedReference"))
	if len(failed.Status.Certificate) > 0 || harness.Condition(failed, certificatesv1.CertificateDenied) != nil {
		t.Fatalf("the operator decided or signed a CSR no policy in force governs: %+v", failed.Status)
	}
}

// A tenant admin cannot take the delegation out of force for every tenant by breaking what the
// delegating policy writes into its namespace: a binding remade with another roleRef is replaced,
// and one the operator cannot write (held by a finalizer the tenant added) leaves the policy in
// force, with a warning, while the other tenants keep their certificates.
func TestATenantCannotTakeTheDelegationOutOfForce(t *testing.T) {
	a, b := newTenancy(t), newTenancy(t)
	// The platform's own requester makes the delegating policy write reference RoleBindings into
	// the tenants' namespaces.
	platform := delegate(t, policyName(t), []tenancy{a, b}, func(p *policyv1alpha1.SignerPolicy) {
		p.Spec.Requesters = policyv1alpha1.Subjects{Users: []string{"platform-bot"}}
	})
	writeAsTenant(t, b, tenantPolicy(b, "web", "web.$(issuer.namespace).svc"))
	namespacedReady(t, b.ns, "web", metav1.ConditionTrue, policyv1alpha1.ReasonReady)

	key := client.ObjectKey{Namespace: a.ns, Name: rbac.ReferenceRoleName(platform)}
	var binding rbacv1.RoleBinding
	harness.Eventually(t, wait, func() error { return env.Admin.Get(context.Background(), key, &binding) })
	// The tenant deletes the binding and makes its own under the name, until it wins the race
	// against the operator putting the binding back.
	hijack := func(finalizers ...string) {
		t.Helper()
		harness.Eventually(t, wait, func() error {
			old := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: key.Name}}
			if err := a.admin.Delete(context.Background(), old); client.IgnoreNotFound(err) != nil {
				t.Fatalf("tenant admin deleting the platform's binding: %v", err)
			}
			binding = rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: key.Name, Finalizers: finalizers},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
				Subjects:   []rbacv1.Subject{harness.UserSubject("mallory")},
			}
			return a.admin.Create(context.Background(), &binding)
		})
	}

	hijack()
	harness.Eventually(t, wait, func() error {
		if err := env.Admin.Get(context.Background(), key, &binding); err != nil {
			return err
		}
		if binding.RoleRef.Kind != "Role" || binding.RoleRef.Name != key.Name {
			return fmt.Errorf("roleRef is still %+v", binding.RoleRef)
		}
		return nil
	})

	hijack("example.com/keep")
	t.Cleanup(func() {
		var held rbacv1.RoleBinding
		if env.Admin.Get(context.Background(), key, &held) == nil {
			held.Finalizers = nil
			_ = env.Admin.Update(context.Background(), &held)
		}
	})
	env.WaitForEvent(t, platform, policyv1alpha1.ReasonRBACFailed)
	p := readyStatus(t, platform.Name, metav1.ConditionTrue)
	if c := meta.FindStatusCondition(p.Status.Conditions, policyv1alpha1.ConditionReady); c.Reason != policyv1alpha1.ReasonReady {
		t.Errorf("the delegating policy is %s: %s", c.Reason, c.Message)
	}
	namespacedReady(t, b.ns, "web", metav1.ConditionTrue, policyv1alpha1.ReasonReady)
	c := env.SubmitCSR(t, b.serviceAccount(t, "web"), harness.CSR{SignerName: b.signerName(), Request: dnsCSR(t, "web."+b.ns+".svc")})
	env.WaitForCSR(t, c.Name, wait, harness.Issued)
}

// An edit after approval counts: a CSR approved while the delegation allowed it, but signed only
// after the platform narrowed the delegation, is refused at signing under the bounds of then.
func TestDelegationNarrowedAfterApprovalBoundsTheSigning(t *testing.T) {
	a := newTenancy(t)
	platform := delegate(t, policyName(t), []tenancy{a})
	manual := tenantPolicy(a, "manual", "*.$(issuer.namespace).svc")
	manual.Spec.Approval.Mode = policyv1alpha1.ApprovalManual
	writeAsTenant(t, a, manual)
	namespacedReady(t, a.ns, "manual", metav1.ConditionTrue, policyv1alpha1.ReasonReady)

	// Without its CA keypair the Issuer cannot sign yet, so the approved CSR waits.
	caSecret := a.ca.Secret(a.ns, "ca")
	if err := env.Admin.Delete(context.Background(), caSecret); err != nil {
		t.Fatal(err)
	}
	c := env.SubmitCSR(t, a.serviceAccount(t, "web"), harness.CSR{SignerName: a.signerName(), Request: dnsCSR(t, "db."+a.ns+".svc")})
	harness.ApproveEventually(t, wait, env.Admin, c.Name)
	env.WaitForEvent(t, c, signer.ReasonSecretMissing)

	harness.Eventually(t, wait, func() error {
		var p policyv1alpha1.SignerPolicy
		if err := env.Admin.Get(context.Background(), client.ObjectKeyFromObject(platform), &p); err != nil {
			return err
		}
		p.Spec.Allowed.DNSNames = []string{"web.$(issuer.namespace).svc"}
		return env.Admin.Update(context.Background(), &p)
	})
	readyStatus(t, platform.Name, metav1.ConditionTrue)
	env.Create(t, a.ca.Secret(a.ns, "ca"))
	env.WaitForCSR(t, c.Name, wait, harness.FailedWith("PolicyViolation", fmt.Sprintf("SignerPolicy %q spec.allowed.dnsNames", platform.Name)))
}
