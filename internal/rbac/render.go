// Package rbac renders the RBAC a SignerPolicy implies. It is pure: the SignerPolicy controller
// applies what it returns and deletes what it no longer returns.
package rbac

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/utils/ptr"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// Labels on every generated object. ManagedByLabel lets the operator cache only its own RBAC
// objects; PolicyLabel finds the objects of one policy.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "signer-policy-operator"
	PolicyLabel    = "policy.signerpolicy.dev/policy"
)

const (
	certManagerGroup  = "cert-manager.io"
	certificatesGroup = "certificates.k8s.io"
)

// ReferenceRoleName, RequesterRoleName and ApproverRoleName name the objects of a policy; each
// Role or ClusterRole has a binding of the same name. The "signerpolicy:" prefix keeps them apart
// from hand-made RBAC, and the suffix says which power they grant.
func ReferenceRoleName(p *policyv1alpha1.SignerPolicy) string {
	return "signerpolicy:" + p.Name + ":reference"
}
func RequesterRoleName(p *policyv1alpha1.SignerPolicy) string {
	return "signerpolicy:" + p.Name + ":requester"
}
func ApproverRoleName(p *policyv1alpha1.SignerPolicy) string {
	return "signerpolicy:" + p.Name + ":approver"
}

// Object is one object a policy implies, as the server-side apply configuration that makes it so.
type Object struct {
	Kind      string
	Name      string
	Namespace string
	// Apply is a *Role, *RoleBinding, *ClusterRole or *ClusterRoleBinding apply configuration
	// of k8s.io/client-go/applyconfigurations/rbac/v1.
	Apply runtime.ApplyConfiguration
	// Meta is Apply's own metadata: after an apply it holds what the API server stored.
	Meta *metav1ac.ObjectMetaApplyConfiguration
}

// ForPolicy returns every RBAC object the policy implies, in a fixed order:
//   - for each namespace of the Issuers it governs, a Role and RoleBinding there granting the
//     requesters `reference` on cert-manager.io `signers` named after those issuers: the
//     SubjectAccessReview the signer performs;
//   - a ClusterRole and ClusterRoleBinding letting the requesters create and read CSRs;
//   - when the policy names approvers and governs any issuer or signer name, a ClusterRole and
//     ClusterRoleBinding letting them approve or deny CSRs for those signer names only (for
//     spec.signerNames, the names and domain/* patterns as written).
//
// Requesting and approving stay separate powers: requesters never get approval rights.
//
// issuers are the issuers the policy governs: its issuerRef, or the existing issuers its
// selection selects. selected are the namespaces the requesters' service account selectors
// select now: their system:serviceaccounts:<namespace> groups are requesters too. A selector's
// name patterns are left to the evaluator, since RBAC cannot grant by name pattern, and every
// other service account of those namespaces may then create CSRs that are denied.
func ForPolicy(p *policyv1alpha1.SignerPolicy, issuers []policyv1alpha1.IssuerReference, selected []string) []Object {
	var objs []Object
	requesters := subjects(p.Spec.Requesters)
	for _, ns := range selected {
		requesters = append(requesters, rbacv1ac.Subject().WithKind(rbacv1.GroupKind).WithAPIGroup(rbacv1.GroupName).
			WithName(serviceaccount.MakeNamespaceGroupName(ns)))
	}
	namespaces, signerNames := map[string][]string{}, make([]string, 0, len(issuers))
	for _, ref := range issuers {
		if ref.Kind == policyv1alpha1.IssuerKindIssuer {
			namespaces[ref.Namespace] = append(namespaces[ref.Namespace], ref.Name)
		}
		signerNames = append(signerNames, ref.SignerName())
	}
	// Signer names a policy governs directly have no issuer to reference; a pattern such as
	// example.com/* is already the wildcard form the API server's approval check accepts.
	signerNames = append(signerNames, p.Spec.SignerNames...)
	slices.Sort(signerNames)
	signerNames = slices.Compact(signerNames)
	name := ReferenceRoleName(p)
	for _, ns := range slices.Sorted(maps.Keys(namespaces)) {
		role := rbacv1ac.Role(name, ns).WithRules(rbacv1ac.PolicyRule().
			WithAPIGroups(certManagerGroup).WithResources("signers").WithVerbs("reference").WithResourceNames(slices.Sorted(slices.Values(namespaces[ns]))...))
		binding := rbacv1ac.RoleBinding(name, ns).WithRoleRef(roleRef("Role", name)).WithSubjects(requesters...)
		objs = append(objs,
			generated(p, "Role", role, role.ObjectMetaApplyConfiguration),
			generated(p, "RoleBinding", binding, binding.ObjectMetaApplyConfiguration))
	}
	objs = append(objs, clusterRoleAndBinding(p, RequesterRoleName(p), requesters, rbacv1ac.PolicyRule().
		WithAPIGroups(certificatesGroup).WithResources("certificatesigningrequests").WithVerbs("create", "get", "list", "watch"))...)
	// Without a signer name to grant, an approve rule would have none, which RBAC reads as every
	// signer: approvers get nothing until the policy governs an issuer.
	if a := p.Spec.Approval.Approvers; a != nil && len(signerNames) > 0 {
		if approvers := subjects(*a); len(approvers) > 0 {
			objs = append(objs, clusterRoleAndBinding(p, ApproverRoleName(p), approvers,
				rbacv1ac.PolicyRule().WithAPIGroups(certificatesGroup).WithResources("certificatesigningrequests").WithVerbs("get", "list", "watch"),
				rbacv1ac.PolicyRule().WithAPIGroups(certificatesGroup).WithResources("certificatesigningrequests/approval").WithVerbs("update"),
				// The API server's CertificateApproval admission checks this verb for the CSR's
				// signerName, which is what confines approvers to this policy's issuers.
				rbacv1ac.PolicyRule().WithAPIGroups(certificatesGroup).WithResources("signers").WithVerbs("approve").
					WithResourceNames(signerNames...),
			)...)
		}
	}
	return objs
}

func clusterRoleAndBinding(p *policyv1alpha1.SignerPolicy, name string, subjects []*rbacv1ac.SubjectApplyConfiguration,
	rules ...*rbacv1ac.PolicyRuleApplyConfiguration) []Object {
	role := rbacv1ac.ClusterRole(name).WithRules(rules...)
	binding := rbacv1ac.ClusterRoleBinding(name).WithRoleRef(roleRef("ClusterRole", name)).WithSubjects(subjects...)
	return []Object{
		generated(p, "ClusterRole", role, role.ObjectMetaApplyConfiguration),
		generated(p, "ClusterRoleBinding", binding, binding.ObjectMetaApplyConfiguration),
	}
}

func roleRef(kind, name string) *rbacv1ac.RoleRefApplyConfiguration {
	return rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind(kind).WithName(name)
}

// generated labels an object for the policy and makes the policy its owner, so that deleting the
// policy lets the garbage collector remove what it implied.
func generated(p *policyv1alpha1.SignerPolicy, kind string, apply runtime.ApplyConfiguration, meta *metav1ac.ObjectMetaApplyConfiguration) Object {
	meta.WithLabels(Labels(p.Name)).WithOwnerReferences(metav1ac.OwnerReference().
		WithAPIVersion(policyv1alpha1.GroupVersion.String()).WithKind("SignerPolicy").
		WithName(p.Name).WithUID(p.UID).WithController(true))
	return Object{Kind: kind, Name: *meta.Name, Namespace: ptr.Deref(meta.Namespace, ""), Apply: apply, Meta: meta}
}

// subjects turns a policy's Subjects into RBAC subjects, users first, then groups, then service
// accounts, each in policy order so that the rendering is deterministic.
func subjects(s policyv1alpha1.Subjects) []*rbacv1ac.SubjectApplyConfiguration {
	out := make([]*rbacv1ac.SubjectApplyConfiguration, 0, len(s.Users)+len(s.Groups)+len(s.ServiceAccounts))
	for _, u := range s.Users {
		out = append(out, rbacv1ac.Subject().WithKind(rbacv1.UserKind).WithAPIGroup(rbacv1.GroupName).WithName(u))
	}
	for _, g := range s.Groups {
		out = append(out, rbacv1ac.Subject().WithKind(rbacv1.GroupKind).WithAPIGroup(rbacv1.GroupName).WithName(g))
	}
	for _, sa := range s.ServiceAccounts {
		out = append(out, rbacv1ac.Subject().WithKind(rbacv1.ServiceAccountKind).WithNamespace(sa.Namespace).WithName(sa.Name))
	}
	return out
}

// Labels are the labels of every object generated for the named policy.
func Labels(policyName string) map[string]string {
	return map[string]string{ManagedByLabel: ManagedByValue, PolicyLabel: PolicyLabelValue(policyName)}
}

// PolicyLabelValue is the policy's name when it fits a label value, else a digest of it: policy
// names may be 253 characters long, label values only 63.
func PolicyLabelValue(policyName string) string {
	if len(validation.IsValidLabelValue(policyName)) == 0 {
		return policyName
	}
	sum := sha256.Sum256([]byte(policyName))
	return "sha256-" + hex.EncodeToString(sum[:])[:56]
}
