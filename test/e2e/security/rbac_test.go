package security

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/rbac"
)

// generated is every RBAC object the operator labelled as a policy's, keyed "Kind ns/name".
type generated struct {
	Rules    map[string][]rbacv1.PolicyRule
	Subjects map[string][]rbacv1.Subject
	RoleRefs map[string]rbacv1.RoleRef
}

// listGenerated lists, from the API server, the Roles, RoleBindings, ClusterRoles and
// ClusterRoleBindings carrying the policy's label: what is actually in force, not what the
// policy's status claims.
func listGenerated(t *testing.T, policyName string) generated {
	t.Helper()
	sel := client.MatchingLabels{rbac.PolicyLabel: rbac.PolicyLabelValue(policyName)}
	g := generated{Rules: map[string][]rbacv1.PolicyRule{}, Subjects: map[string][]rbacv1.Subject{}, RoleRefs: map[string]rbacv1.RoleRef{}}
	ctx := context.Background()
	var roles rbacv1.RoleList
	var bindings rbacv1.RoleBindingList
	var clusterRoles rbacv1.ClusterRoleList
	var clusterBindings rbacv1.ClusterRoleBindingList
	for _, l := range []client.ObjectList{&roles, &bindings, &clusterRoles, &clusterBindings} {
		if err := env.Admin.List(ctx, l, sel); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range roles.Items {
		g.Rules["Role "+r.Namespace+"/"+r.Name] = r.Rules
	}
	for _, r := range clusterRoles.Items {
		g.Rules["ClusterRole /"+r.Name] = r.Rules
	}
	for _, b := range bindings.Items {
		key := "RoleBinding " + b.Namespace + "/" + b.Name
		g.Subjects[key], g.RoleRefs[key] = b.Subjects, b.RoleRef
	}
	for _, b := range clusterBindings.Items {
		key := "ClusterRoleBinding /" + b.Name
		g.Subjects[key], g.RoleRefs[key] = b.Subjects, b.RoleRef
	}
	return g
}

func user(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
}

func group(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: name}
}

// expectedRBAC is, written out by hand rather than rendered by internal/rbac, what each of a
// tenant's policies may grant: a requester may reference that one Issuer in its namespace and
// create and read CSRs; an approver may read CSRs, update their approval, and approve for that
// one signerName. Nothing else.
func expectedRBAC(tn *tenant, policyName, issuer string, manual bool) generated {
	reference := "signerpolicy:" + policyName + ":reference"
	requester := "signerpolicy:" + policyName + ":requester"
	approver := "signerpolicy:" + policyName + ":approver"
	g := generated{
		Rules: map[string][]rbacv1.PolicyRule{
			"Role " + tn.ns + "/" + reference: {{APIGroups: []string{"cert-manager.io"}, Resources: []string{"signers"},
				Verbs: []string{"reference"}, ResourceNames: []string{issuer}}},
			"ClusterRole /" + requester: {{APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"certificatesigningrequests"},
				Verbs: []string{"create", "get", "list", "watch"}}},
		},
		Subjects: map[string][]rbacv1.Subject{
			"RoleBinding " + tn.ns + "/" + reference: {user(tn.requesterName)},
			"ClusterRoleBinding /" + requester:       {user(tn.requesterName)},
		},
		RoleRefs: map[string]rbacv1.RoleRef{
			"RoleBinding " + tn.ns + "/" + reference: {APIGroup: rbacv1.GroupName, Kind: "Role", Name: reference},
			"ClusterRoleBinding /" + requester:       {APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: requester},
		},
	}
	if manual {
		g.Rules["ClusterRole /"+approver] = []rbacv1.PolicyRule{
			{APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"certificatesigningrequests"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"certificatesigningrequests/approval"}, Verbs: []string{"update"}},
			{APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"signers"}, Verbs: []string{"approve"},
				ResourceNames: []string{"issuers.cert-manager.io/" + tn.ns + "." + issuer}},
		}
		g.Subjects["ClusterRoleBinding /"+approver] = []rbacv1.Subject{group(tn.approverGroup)}
		g.RoleRefs["ClusterRoleBinding /"+approver] = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: approver}
	}
	return g
}

// TestGeneratedRBACGrantsExactlyWhatThePolicyNames lists what the operator generated for each
// of both tenants' policies and compares it, object by object and rule by rule, with what the
// policy names; checks that the policy's status lists the same objects; and checks that no
// object the operator manages, for any policy, holds a wildcard or a verb that would let its
// subjects grant themselves more.
func TestGeneratedRBACGrantsExactlyWhatThePolicyNames(t *testing.T) {
	a, b := newTenants(t)
	for _, tn := range []*tenant{a, b} {
		for _, p := range []struct {
			name, issuer string
			manual       bool
		}{{tn.autoPolicy, "auto", false}, {tn.manualPolicy, "manual", true}} {
			got, want := listGenerated(t, p.name), expectedRBAC(tn, p.name, p.issuer, p.manual)
			if !equality.Semantic.DeepEqual(got, want) {
				t.Errorf("policy %s generated\n%+v\nwant exactly\n%+v", p.name, got, want)
			}
			var policy policyv1alpha1.SignerPolicy
			if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: p.name}, &policy); err != nil {
				t.Fatal(err)
			}
			var listed []string
			for _, o := range policy.Status.RBAC {
				listed = append(listed, o.Kind+" "+o.Namespace+"/"+o.Name)
			}
			var present []string
			for k := range got.Rules {
				present = append(present, k)
			}
			for k := range got.Subjects {
				present = append(present, k)
			}
			slices.Sort(listed)
			slices.Sort(present)
			if !slices.Equal(listed, present) {
				t.Errorf("policy %s status lists %v, the API server holds %v", p.name, listed, present)
			}
		}
	}
	noEscalation(t)
}

// noEscalation checks every object the operator manages, whichever policy it belongs to.
func noEscalation(t *testing.T) {
	t.Helper()
	sel := client.MatchingLabels{rbac.ManagedByLabel: rbac.ManagedByValue}
	var roles rbacv1.RoleList
	var clusterRoles rbacv1.ClusterRoleList
	for _, l := range []client.ObjectList{&roles, &clusterRoles} {
		if err := env.Admin.List(context.Background(), l, sel); err != nil {
			t.Fatal(err)
		}
	}
	check := func(kind, name string, rules []rbacv1.PolicyRule) {
		for _, r := range rules {
			for _, s := range slices.Concat(r.APIGroups, r.Resources, r.Verbs, r.ResourceNames, r.NonResourceURLs) {
				if strings.Contains(s, "*") {
					t.Errorf("%s %s grants a wildcard: %+v", kind, name, r)
				}
			}
			for _, v := range []string{"escalate", "bind", "impersonate", "sign"} {
				if slices.Contains(r.Verbs, v) {
					t.Errorf("%s %s grants %q: %+v", kind, name, v, r)
				}
			}
		}
	}
	for _, r := range roles.Items {
		check("Role", r.Namespace+"/"+r.Name, r.Rules)
	}
	for _, r := range clusterRoles.Items {
		check("ClusterRole", r.Name, r.Rules)
	}
}

// TestAuthorizerRefusesCrossTenantAccess asks the API server's authorizer, through
// SubjectAccessReviews, the questions the signing gate and the CertificateApproval admission
// ask: each tenant's people get their own tenant's powers and are refused the other's.
func TestAuthorizerRefusesCrossTenantAccess(t *testing.T) {
	a, b := newTenants(t)
	for _, pair := range [][2]*tenant{{a, b}, {b, a}} {
		from, to := pair[0], pair[1]
		requester := authorizationv1.SubjectAccessReviewSpec{User: from.requesterName, Groups: []string{"system:authenticated"}}
		approver := authorizationv1.SubjectAccessReviewSpec{User: from.approverName, Groups: []string{from.approverGroup, "system:authenticated"}}
		reference := func(ns, name string) *authorizationv1.ResourceAttributes {
			return &authorizationv1.ResourceAttributes{Group: "cert-manager.io", Resource: "signers", Verb: "reference", Namespace: ns, Name: name}
		}
		approve := func(signerName string) *authorizationv1.ResourceAttributes {
			return &authorizationv1.ResourceAttributes{Group: "certificates.k8s.io", Resource: "signers", Verb: "approve", Name: signerName}
		}
		for _, q := range []struct {
			what  string
			who   authorizationv1.SubjectAccessReviewSpec
			attrs *authorizationv1.ResourceAttributes
			want  bool
		}{
			{"requester references own Issuer", requester, reference(from.ns, "auto"), true},
			{"requester references the other tenant's Issuer", requester, reference(to.ns, "auto"), false},
			{"requester references the other tenant's Manual Issuer", requester, reference(to.ns, "manual"), false},
			{"requester references any Issuer of the other tenant", requester, reference(to.ns, "*"), false},
			{"requester references own Issuer not under a policy naming them", requester, reference(from.ns, "unlisted"), false},
			{"requester approves for own signer", requester, approve(from.manualSigner), false},
			{"requester updates CSR approval", requester, &authorizationv1.ResourceAttributes{
				Group: "certificates.k8s.io", Resource: "certificatesigningrequests", Subresource: "approval", Verb: "update"}, false},
			{"requester signs for the other tenant's signer", requester, &authorizationv1.ResourceAttributes{
				Group: "certificates.k8s.io", Resource: "signers", Verb: "sign", Name: to.autoSigner}, false},
			{"approver approves for own Manual signer", approver, approve(from.manualSigner), true},
			{"approver approves for own Automatic signer", approver, approve(from.autoSigner), false},
			{"approver approves for the other tenant's Manual signer", approver, approve(to.manualSigner), false},
			{"approver references own Issuer", approver, reference(from.ns, "manual"), false},
			{"approver creates SignerPolicies", approver, &authorizationv1.ResourceAttributes{
				Group: policyv1alpha1.GroupVersion.Group, Resource: "signerpolicies", Verb: "create"}, false},
		} {
			spec := q.who
			spec.ResourceAttributes = q.attrs
			sar := &authorizationv1.SubjectAccessReview{Spec: spec}
			if err := env.Admin.Create(context.Background(), sar); err != nil {
				t.Fatal(err)
			}
			if sar.Status.Allowed != q.want {
				t.Errorf("%s (%s): allowed = %t, want %t (%s)", q.what, describeSAR(q.who, q.attrs), sar.Status.Allowed, q.want, sar.Status.Reason)
			}
		}
	}
}

func describeSAR(who authorizationv1.SubjectAccessReviewSpec, a *authorizationv1.ResourceAttributes) string {
	return fmt.Sprintf("%s %s %s/%s %s.%s in %q", who.User, a.Verb, a.Resource, a.Subresource, a.Name, a.Group, a.Namespace)
}
