package rbac

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// governed is what the policy controller passes for a policy with an issuerRef: that issuer.
func governed(p *policyv1alpha1.SignerPolicy) []policyv1alpha1.IssuerReference {
	return []policyv1alpha1.IssuerReference{*p.Spec.IssuerRef}
}

func policy(ref policyv1alpha1.IssuerReference) *policyv1alpha1.SignerPolicy {
	return &policyv1alpha1.SignerPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "web", UID: types.UID("uid-1")},
		Spec: policyv1alpha1.SignerPolicySpec{
			IssuerRef: &ref,
			Requesters: policyv1alpha1.Subjects{
				Users: []string{"alice"}, Groups: []string{"devs"},
				ServiceAccounts: []policyv1alpha1.ServiceAccountReference{{Namespace: "team-a", Name: "web"}},
			},
		},
	}
}

var (
	issuerRef  = policyv1alpha1.IssuerReference{Kind: "Issuer", Namespace: "team-a", Name: "ca"}
	clusterRef = policyv1alpha1.IssuerReference{Kind: "ClusterIssuer", Name: "root"}
)

func kinds(objs []Object) string {
	var k []string
	for _, o := range objs {
		k = append(k, o.Kind+" "+o.Namespace+"/"+o.Name)
	}
	return strings.Join(k, ", ")
}

// decode reads an apply configuration as the API server will: as the JSON it is sent as.
func decode[T any](t *testing.T, o Object) *T {
	t.Helper()
	body, err := json.Marshal(o.Apply)
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

func TestForIssuerPolicyGrantsReferenceInTheIssuerNamespace(t *testing.T) {
	objs := ForPolicy(policy(issuerRef), governed(policy(issuerRef)), nil)
	want := "Role team-a/signerpolicy:web:reference, RoleBinding team-a/signerpolicy:web:reference, " +
		"ClusterRole /signerpolicy:web:requester, ClusterRoleBinding /signerpolicy:web:requester"
	if got := kinds(objs); got != want {
		t.Fatalf("objects = %s\nwant      %s", got, want)
	}
	role := decode[rbacv1.Role](t, objs[0])
	wantRule := rbacv1.PolicyRule{APIGroups: []string{"cert-manager.io"}, Resources: []string{"signers"}, Verbs: []string{"reference"}, ResourceNames: []string{"ca"}}
	if len(role.Rules) != 1 || !equality.Semantic.DeepEqual(role.Rules[0], wantRule) {
		t.Errorf("reference Role rules = %+v, want exactly %+v", role.Rules, wantRule)
	}
	binding := decode[rbacv1.RoleBinding](t, objs[1])
	if binding.RoleRef != (rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "signerpolicy:web:reference"}) {
		t.Errorf("RoleBinding roleRef = %+v", binding.RoleRef)
	}
	wantSubjects := []rbacv1.Subject{
		{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "alice"},
		{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "devs"},
		{Kind: "ServiceAccount", Namespace: "team-a", Name: "web"},
	}
	if !equality.Semantic.DeepEqual(binding.Subjects, wantSubjects) {
		t.Errorf("RoleBinding subjects = %+v, want %+v", binding.Subjects, wantSubjects)
	}
}

func TestRequesterRoleOnlyCreatesAndReadsCSRs(t *testing.T) {
	objs := ForPolicy(policy(clusterRef), governed(policy(clusterRef)), nil)
	if got, want := kinds(objs), "ClusterRole /signerpolicy:web:requester, ClusterRoleBinding /signerpolicy:web:requester"; got != want {
		t.Fatalf("a ClusterIssuer policy renders %s, want %s (ClusterIssuers have no reference check)", got, want)
	}
	role := decode[rbacv1.ClusterRole](t, objs[0])
	want := []rbacv1.PolicyRule{{APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"certificatesigningrequests"}, Verbs: []string{"create", "get", "list", "watch"}}}
	if !equality.Semantic.DeepEqual(role.Rules, want) {
		t.Errorf("requester rules = %+v, want %+v", role.Rules, want)
	}
}

func TestApproversGetApproveForTheSignerNameOnly(t *testing.T) {
	p := policy(issuerRef)
	p.Spec.Approval = policyv1alpha1.Approval{Mode: policyv1alpha1.ApprovalManual, Approvers: &policyv1alpha1.Subjects{Groups: []string{"security"}}}
	objs := ForPolicy(p, governed(p), nil)
	if len(objs) != 6 {
		t.Fatalf("objects = %s, want reference, requester and approver roles with bindings", kinds(objs))
	}
	role := decode[rbacv1.ClusterRole](t, objs[4])
	if role.Name != "signerpolicy:web:approver" {
		t.Fatalf("fifth object is %s, want the approver ClusterRole", role.Name)
	}
	var approve *rbacv1.PolicyRule
	for i, r := range role.Rules {
		for _, v := range r.Verbs {
			if v == "approve" {
				approve = &role.Rules[i]
			}
		}
	}
	if approve == nil || len(approve.ResourceNames) != 1 || approve.ResourceNames[0] != "issuers.cert-manager.io/team-a.ca" {
		t.Errorf("approve rule = %+v, want resourceNames [issuers.cert-manager.io/team-a.ca]", approve)
	}
	binding := decode[rbacv1.ClusterRoleBinding](t, objs[5])
	if len(binding.Subjects) != 1 || binding.Subjects[0].Name != "security" {
		t.Errorf("approver binding subjects = %+v, want only the approvers", binding.Subjects)
	}
	for _, o := range objs[:4] {
		if o.Kind == "ClusterRole" || o.Kind == "Role" {
			r := decode[rbacv1.ClusterRole](t, o)
			for _, rule := range r.Rules {
				if strings.Contains(strings.Join(rule.Verbs, ","), "approve") || strings.Contains(strings.Join(rule.Resources, ","), "approval") {
					t.Errorf("requester role %s grants approval: %+v", r.Name, rule)
				}
			}
		}
	}
}

func TestEmptyApproversRenderNoApproverRole(t *testing.T) {
	p := policy(clusterRef)
	p.Spec.Approval.Approvers = &policyv1alpha1.Subjects{}
	if objs := ForPolicy(p, governed(p), nil); len(objs) != 2 {
		t.Errorf("objects = %s, want no approver role for an empty approvers list", kinds(objs))
	}
}

func TestGeneratedObjectsAreLabelledAndOwnedByThePolicy(t *testing.T) {
	p := policy(issuerRef)
	for _, generated := range ForPolicy(p, governed(p), nil) {
		o := decode[metav1.PartialObjectMetadata](t, generated)
		// An apply claims every field it sends: a null creationTimestamp would be one.
		if body, _ := json.Marshal(generated.Apply); strings.Contains(string(body), "creationTimestamp") || o.Kind != generated.Kind || o.APIVersion != "rbac.authorization.k8s.io/v1" {
			t.Errorf("%s applies %s", generated.Name, body)
		}
		if o.GetLabels()[PolicyLabel] != "web" || o.GetLabels()[ManagedByLabel] != ManagedByValue {
			t.Errorf("%s labels = %v", o.GetName(), o.GetLabels())
		}
		refs := o.GetOwnerReferences()
		if len(refs) != 1 || refs[0].Kind != "SignerPolicy" || refs[0].Name != "web" || refs[0].UID != "uid-1" || refs[0].Controller == nil || !*refs[0].Controller {
			t.Errorf("%s owner references = %+v, want the policy as controller", o.GetName(), refs)
		}
	}
}

func TestRenderingIsDeterministic(t *testing.T) {
	a, b := ForPolicy(policy(issuerRef), governed(policy(issuerRef)), nil), ForPolicy(policy(issuerRef), governed(policy(issuerRef)), nil)
	if !equality.Semantic.DeepEqual(a, b) {
		t.Error("two renderings of one policy differ")
	}
}

func TestLongPolicyNamesGetAValidLabelValue(t *testing.T) {
	long := strings.Repeat("a", 200)
	v := PolicyLabelValue(long)
	if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
		t.Fatalf("label value %q is invalid: %v", v, errs)
	}
	if v == PolicyLabelValue(long+"b") {
		t.Error("two long policy names share a label value")
	}
	if PolicyLabelValue("short") != "short" {
		t.Error("a short name is not used as its own label value")
	}
}

// The namespaces a selector selects become requesters through their service accounts' group, in
// the reference RoleBinding and the requester ClusterRoleBinding alike; approvers never do.
func TestSelectedNamespacesAreRequestersThroughTheirServiceAccountGroup(t *testing.T) {
	p := policy(issuerRef)
	p.Spec.Approval = policyv1alpha1.Approval{Mode: policyv1alpha1.ApprovalManual, Approvers: &policyv1alpha1.Subjects{Groups: []string{"security"}}}
	objs := ForPolicy(p, governed(p), []string{"shop", "tools"})
	groups := []rbacv1.Subject{
		{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "system:serviceaccounts:shop"},
		{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "system:serviceaccounts:tools"},
	}
	if subjects := decode[rbacv1.RoleBinding](t, objs[1]).Subjects; !equality.Semantic.DeepEqual(subjects[len(subjects)-2:], groups) {
		t.Errorf("reference RoleBinding subjects = %+v, want them to end with %+v", subjects, groups)
	}
	if subjects := decode[rbacv1.ClusterRoleBinding](t, objs[3]).Subjects; !equality.Semantic.DeepEqual(subjects[len(subjects)-2:], groups) {
		t.Errorf("requester ClusterRoleBinding subjects = %+v, want them to end with %+v", subjects, groups)
	}
	approvers := decode[rbacv1.ClusterRoleBinding](t, objs[5]).Subjects
	if want := []rbacv1.Subject{{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "security"}}; !equality.Semantic.DeepEqual(approvers, want) {
		t.Errorf("approver subjects = %+v, want only %+v", approvers, want)
	}
}

// A policy selecting issuers gets a reference Role in each namespace of the Issuers it governs,
// naming them, and its approvers may approve for those issuers' signer names only.
func TestSelectedIssuersGetReferenceRolesPerNamespaceAndApproveNamesEach(t *testing.T) {
	p := policy(issuerRef)
	p.Spec.IssuerRef = nil
	p.Spec.Issuers = &policyv1alpha1.IssuerSelector{Kind: policyv1alpha1.IssuerKindIssuer, Names: []string{"ca*"}, Namespaces: []string{"team-*"}}
	p.Spec.Approval = policyv1alpha1.Approval{Mode: policyv1alpha1.ApprovalManual, Approvers: &policyv1alpha1.Subjects{Groups: []string{"security"}}}
	issuers := []policyv1alpha1.IssuerReference{
		{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: "team-b", Name: "ca"},
		{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: "team-a", Name: "ca-two"},
		{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: "team-a", Name: "ca"},
	}
	objs := ForPolicy(p, issuers, nil)
	want := "Role team-a/signerpolicy:web:reference, RoleBinding team-a/signerpolicy:web:reference, " +
		"Role team-b/signerpolicy:web:reference, RoleBinding team-b/signerpolicy:web:reference, " +
		"ClusterRole /signerpolicy:web:requester, ClusterRoleBinding /signerpolicy:web:requester, " +
		"ClusterRole /signerpolicy:web:approver, ClusterRoleBinding /signerpolicy:web:approver"
	if got := kinds(objs); got != want {
		t.Fatalf("objects = %s\nwant      %s", got, want)
	}
	if names := decode[rbacv1.Role](t, objs[0]).Rules[0].ResourceNames; !slices.Equal(names, []string{"ca", "ca-two"}) {
		t.Errorf("team-a reference names %v, want ca and ca-two", names)
	}
	approve := decode[rbacv1.ClusterRole](t, objs[6]).Rules[2]
	wantNames := []string{"issuers.cert-manager.io/team-a.ca", "issuers.cert-manager.io/team-a.ca-two", "issuers.cert-manager.io/team-b.ca"}
	if !slices.Equal(approve.ResourceNames, wantNames) {
		t.Errorf("approve names %v, want %v", approve.ResourceNames, wantNames)
	}
}

// An approve rule without resource names would grant approval on every signer in the cluster, so a
// policy that governs no issuer yet gives its approvers nothing at all.
func TestApproversOfAPolicyGoverningNoIssuerGetNothing(t *testing.T) {
	p := policy(issuerRef)
	p.Spec.IssuerRef = nil
	p.Spec.Issuers = &policyv1alpha1.IssuerSelector{Kind: policyv1alpha1.IssuerKindClusterIssuer, Names: []string{"corp-*"}}
	p.Spec.Approval = policyv1alpha1.Approval{Mode: policyv1alpha1.ApprovalManual, Approvers: &policyv1alpha1.Subjects{Groups: []string{"security"}}}
	if got, want := kinds(ForPolicy(p, nil, nil)), "ClusterRole /signerpolicy:web:requester, ClusterRoleBinding /signerpolicy:web:requester"; got != want {
		t.Errorf("objects = %s, want only %s", got, want)
	}
}

// A policy on signer names has no issuer to reference: requesters may create CSRs, and approvers
// may approve for exactly the names and domain/* patterns it lists.
func TestSignerNamesPolicyGrantsCreateAndApproveOnTheNamesOnly(t *testing.T) {
	p := policy(issuerRef)
	p.Spec.IssuerRef = nil
	p.Spec.SignerNames = []string{"kubernetes.io/kube-apiserver-client", "example.com/*"}
	p.Spec.Approval = policyv1alpha1.Approval{Mode: policyv1alpha1.ApprovalManual, Approvers: &policyv1alpha1.Subjects{Groups: []string{"security"}}}
	objs := ForPolicy(p, nil, nil)
	if got, want := kinds(objs), "ClusterRole /signerpolicy:web:requester, ClusterRoleBinding /signerpolicy:web:requester, "+
		"ClusterRole /signerpolicy:web:approver, ClusterRoleBinding /signerpolicy:web:approver"; got != want {
		t.Fatalf("objects = %s\nwant %s (no reference Role: there is no issuer)", got, want)
	}
	role := decode[rbacv1.ClusterRole](t, objs[2])
	var approve []string
	for _, r := range role.Rules {
		if slices.Contains(r.Verbs, "approve") {
			if !slices.Equal(r.Resources, []string{"signers"}) || !slices.Equal(r.APIGroups, []string{"certificates.k8s.io"}) {
				t.Errorf("approve rule %+v is not on certificates.k8s.io signers", r)
			}
			approve = append(approve, r.ResourceNames...)
		}
	}
	if want := []string{"example.com/*", "kubernetes.io/kube-apiserver-client"}; !slices.Equal(approve, want) {
		t.Errorf("approve resourceNames = %q, want %q", approve, want)
	}
}
