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
	"k8s.io/apimachinery/pkg/types"
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
	// NamespacedPolicyAnnotation holds namespace/name of the namespaced policy a cluster-scoped
	// object was generated for.
	NamespacedPolicyAnnotation = "policy.signerpolicy.dev/namespaced-policy"
)

const (
	certManagerGroup  = "cert-manager.io"
	certificatesGroup = "certificates.k8s.io"
)

// ReferenceRoleName, RequesterRoleName and ApproverRoleName name the objects of a policy; each
// Role or ClusterRole has a binding of the same name. The "signerpolicy:" prefix keeps them apart
// from hand-made RBAC, and the suffix says which power they grant.
func ReferenceRoleName(p *policyv1alpha1.SignerPolicy) string {
	return clusterOwner(p).referenceName()
}
func RequesterRoleName(p *policyv1alpha1.SignerPolicy) string {
	return clusterOwner(p).clusterName("requester")
}
func ApproverRoleName(p *policyv1alpha1.SignerPolicy) string {
	return clusterOwner(p).clusterName("approver")
}

// owner is the policy generated objects belong to: a SignerPolicy, or a NamespacedSignerPolicy
// with the delegating SignerPolicies that put it in force.
type owner struct {
	kind, name, namespace string
	uid                   types.UID
	// delegations own a namespaced policy's cluster-scoped objects, which the namespaced policy
	// cannot own (an owner reference cannot cross from cluster scope to a namespace): when the
	// last delegation goes, the garbage collector removes them even if the operator is down.
	delegations []*policyv1alpha1.SignerPolicy
}

func clusterOwner(p *policyv1alpha1.SignerPolicy) owner {
	return owner{kind: "SignerPolicy", name: p.Name, uid: p.UID}
}

// key is the policy's name as labels and decisions know it: namespace/name for a namespaced one.
func (o owner) key() string {
	if o.namespace == "" {
		return o.name
	}
	return o.namespace + "/" + o.name
}

// referenceName names the Roles granting `reference`: signerpolicy:<name>:reference, or, in a
// tenant's namespace, namespacedsignerpolicy:<name>:reference.
func (o owner) referenceName() string {
	if o.namespace == "" {
		return "signerpolicy:" + o.name + ":reference"
	}
	return "namespacedsignerpolicy:" + o.name + ":reference"
}

// clusterName names a ClusterRole: the namespace is part of a namespaced policy's, since
// policies of the same name in two namespaces must not share one.
func (o owner) clusterName(power string) string {
	if o.namespace == "" {
		return "signerpolicy:" + o.name + ":" + power
	}
	return "namespacedsignerpolicy:" + o.namespace + ":" + o.name + ":" + power
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
	return render(clusterOwner(p), &p.Spec, issuers, selected)
}

// ForNamespacedPolicy returns the RBAC a namespaced policy in force implies, as ForPolicy does
// for a SignerPolicy: issuers are the Issuers of its namespace that delegations cover, spec is
// what it is evaluated as (policy.EffectiveSpec), and delegations are the delegating policies that
// permit it. Its Roles and RoleBindings live in its own namespace, owned by it; what must be
// cluster-wide (creating CSRs, approving for its Issuers' signer names) is owned by the
// delegations and granted only to the subjects it names, which the delegations permit.
func ForNamespacedPolicy(p *policyv1alpha1.NamespacedSignerPolicy, spec *policyv1alpha1.SignerPolicySpec, issuers []policyv1alpha1.IssuerReference,
	delegations []*policyv1alpha1.SignerPolicy) []Object {
	o := owner{kind: "NamespacedSignerPolicy", name: p.Name, namespace: p.Namespace, uid: p.UID, delegations: delegations}
	return render(o, spec, issuers, nil)
}

func render(o owner, spec *policyv1alpha1.SignerPolicySpec, issuers []policyv1alpha1.IssuerReference, selected []string) []Object {
	var objs []Object
	requesters := subjects(spec.Requesters)
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
	signerNames = append(signerNames, spec.SignerNames...)
	slices.Sort(signerNames)
	signerNames = slices.Compact(signerNames)
	if len(requesters) == 0 {
		// A delegating policy may name no requesters of its own. It then writes nothing into its
		// tenants' namespaces, where their admins could make a write of it fail and with it the
		// delegation every tenant relies on.
		return approverObjects(o, spec, signerNames)
	}
	name := o.referenceName()
	for _, ns := range slices.Sorted(maps.Keys(namespaces)) {
		role := rbacv1ac.Role(name, ns).WithRules(rbacv1ac.PolicyRule().
			WithAPIGroups(certManagerGroup).WithResources("signers").WithVerbs("reference").WithResourceNames(slices.Sorted(slices.Values(namespaces[ns]))...))
		binding := rbacv1ac.RoleBinding(name, ns).WithRoleRef(roleRef("Role", name)).WithSubjects(requesters...)
		objs = append(objs,
			o.generated("Role", role, role.ObjectMetaApplyConfiguration),
			o.generated("RoleBinding", binding, binding.ObjectMetaApplyConfiguration))
	}
	// A tenant's requesters may create CSRs and read one they know the name of, but not list or
	// watch them: that would show them every other tenant's CSRs, requesters and certificates.
	verbs := []string{"create", "get", "list", "watch"}
	if o.namespace != "" {
		verbs = []string{"create", "get"}
	}
	objs = append(objs, clusterRoleAndBinding(o, o.clusterName("requester"), requesters, rbacv1ac.PolicyRule().
		WithAPIGroups(certificatesGroup).WithResources("certificatesigningrequests").WithVerbs(verbs...))...)
	return append(objs, approverObjects(o, spec, signerNames)...)
}

// approverObjects lets the policy's approvers approve or deny CSRs of signerNames.
func approverObjects(o owner, spec *policyv1alpha1.SignerPolicySpec, signerNames []string) []Object {
	var objs []Object
	// Without a signer name to grant, an approve rule would have none, which RBAC reads as every
	// signer: approvers get nothing until the policy governs an issuer.
	if a := spec.Approval.Approvers; a != nil && len(signerNames) > 0 {
		if approvers := subjects(*a); len(approvers) > 0 {
			objs = append(objs, clusterRoleAndBinding(o, o.clusterName("approver"), approvers,
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

func clusterRoleAndBinding(o owner, name string, subjects []*rbacv1ac.SubjectApplyConfiguration,
	rules ...*rbacv1ac.PolicyRuleApplyConfiguration) []Object {
	role := rbacv1ac.ClusterRole(name).WithRules(rules...)
	binding := rbacv1ac.ClusterRoleBinding(name).WithRoleRef(roleRef("ClusterRole", name)).WithSubjects(subjects...)
	return []Object{
		o.generated("ClusterRole", role, role.ObjectMetaApplyConfiguration),
		o.generated("ClusterRoleBinding", binding, binding.ObjectMetaApplyConfiguration),
	}
}

func roleRef(kind, name string) *rbacv1ac.RoleRefApplyConfiguration {
	return rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind(kind).WithName(name)
}

// generated labels an object for the policy and sets its owners, so that deleting the policy (or,
// for a namespaced policy's cluster-scoped objects, every delegation) lets the garbage collector
// remove what it implied. A namespaced policy's cluster-scoped objects carry its
// namespace/name in NamespacedPolicyAnnotation, so the operator finds their policy.
func (o owner) generated(kind string, apply runtime.ApplyConfiguration, meta *metav1ac.ObjectMetaApplyConfiguration) Object {
	meta.WithLabels(Labels(o.key()))
	switch {
	case meta.Namespace != nil || o.namespace == "":
		meta.WithOwnerReferences(metav1ac.OwnerReference().
			WithAPIVersion(policyv1alpha1.GroupVersion.String()).WithKind(o.kind).
			WithName(o.name).WithUID(o.uid).WithController(true))
	default:
		meta.WithAnnotations(map[string]string{NamespacedPolicyAnnotation: o.key()})
		for _, d := range o.delegations {
			meta.WithOwnerReferences(metav1ac.OwnerReference().
				WithAPIVersion(policyv1alpha1.GroupVersion.String()).WithKind("SignerPolicy").
				WithName(d.Name).WithUID(d.UID))
		}
	}
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
