// Package rbac renders the RBAC a SignerPolicy implies. It is pure: the SignerPolicy controller
// applies what it returns and deletes what it no longer returns.
package rbac

import (
	"crypto/sha256"
	"encoding/hex"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

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

// ForPolicy returns every RBAC object the policy implies, in a fixed order:
//   - for an Issuer, a Role and RoleBinding in its namespace granting the requesters `reference` on
//     cert-manager.io `signers` named after the issuer: the SubjectAccessReview the signer performs;
//   - a ClusterRole and ClusterRoleBinding letting the requesters create and read CSRs;
//   - when the policy names approvers, a ClusterRole and ClusterRoleBinding letting them approve
//     or deny CSRs for the policy's signerName only.
//
// Requesting and approving stay separate powers: requesters never get approval rights.
func ForPolicy(p *policyv1alpha1.SignerPolicy) []client.Object {
	var objs []client.Object
	requesters := subjects(p.Spec.Requesters)
	if ref := p.Spec.IssuerRef; ref.Kind == policyv1alpha1.IssuerKindIssuer {
		name := ReferenceRoleName(p)
		objs = append(objs,
			&rbacv1.Role{
				TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "Role"},
				ObjectMeta: objectMeta(p, name, ref.Namespace),
				Rules: []rbacv1.PolicyRule{{
					APIGroups: []string{certManagerGroup}, Resources: []string{"signers"},
					Verbs: []string{"reference"}, ResourceNames: []string{ref.Name},
				}},
			},
			&rbacv1.RoleBinding{
				TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "RoleBinding"},
				ObjectMeta: objectMeta(p, name, ref.Namespace),
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
				Subjects:   requesters,
			})
	}
	objs = append(objs, clusterRoleAndBinding(p, RequesterRoleName(p), requesters, []rbacv1.PolicyRule{{
		APIGroups: []string{certificatesGroup}, Resources: []string{"certificatesigningrequests"},
		Verbs: []string{"create", "get", "list", "watch"},
	}})...)
	if a := p.Spec.Approval.Approvers; a != nil {
		if approvers := subjects(*a); len(approvers) > 0 {
			objs = append(objs, clusterRoleAndBinding(p, ApproverRoleName(p), approvers, []rbacv1.PolicyRule{
				{APIGroups: []string{certificatesGroup}, Resources: []string{"certificatesigningrequests"}, Verbs: []string{"get", "list", "watch"}},
				{APIGroups: []string{certificatesGroup}, Resources: []string{"certificatesigningrequests/approval"}, Verbs: []string{"update"}},
				// The API server's CertificateApproval admission checks this verb for the CSR's
				// signerName, which is what confines approvers to this policy's issuer.
				{APIGroups: []string{certificatesGroup}, Resources: []string{"signers"}, Verbs: []string{"approve"},
					ResourceNames: []string{p.Spec.IssuerRef.SignerName()}},
			})...)
		}
	}
	return objs
}

func clusterRoleAndBinding(p *policyv1alpha1.SignerPolicy, name string, subjects []rbacv1.Subject, rules []rbacv1.PolicyRule) []client.Object {
	return []client.Object{
		&rbacv1.ClusterRole{
			TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRole"},
			ObjectMeta: objectMeta(p, name, ""),
			Rules:      rules,
		},
		&rbacv1.ClusterRoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRoleBinding"},
			ObjectMeta: objectMeta(p, name, ""),
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
			Subjects:   subjects,
		},
	}
}

// subjects turns a policy's Subjects into RBAC subjects, users first, then groups, then service
// accounts, each in policy order so that the rendering is deterministic.
func subjects(s policyv1alpha1.Subjects) []rbacv1.Subject {
	out := make([]rbacv1.Subject, 0, len(s.Users)+len(s.Groups)+len(s.ServiceAccounts))
	for _, u := range s.Users {
		out = append(out, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: u})
	}
	for _, g := range s.Groups {
		out = append(out, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: g})
	}
	for _, sa := range s.ServiceAccounts {
		out = append(out, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: sa.Namespace, Name: sa.Name})
	}
	return out
}

func objectMeta(p *policyv1alpha1.SignerPolicy, name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:      name,
		Namespace: namespace,
		Labels:    Labels(p.Name),
		// The policy owns what it implies: deleting it lets the garbage collector remove them.
		OwnerReferences: []metav1.OwnerReference{{
			APIVersion: policyv1alpha1.GroupVersion.String(), Kind: "SignerPolicy",
			Name: p.Name, UID: p.UID, Controller: ptr.To(true),
		}},
	}
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
