package harness

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Grants made by hand. A SignerPolicy generates the RBAC its requesters need, but tests about
// signing, approval or a backend want a requester whose rights do not depend on the policy
// controller, and tests about strangers want a user who may create CSRs although no policy names
// them, so that what the operator decides, not the API server's refusal, is what they observe.
// Every grant is deleted when the test ends; the names carry "test-" so that they never collide
// with what the operator generates.

// UserSubject is the RBAC subject of the named user.
func UserSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
}

// GrantCSRCreate lets user create and read CertificateSigningRequests, which is all a requester
// needs of the API server before the operator has its say: SubmitCSR creates, WaitForCSR reads.
func (e *Env) GrantCSRCreate(t testing.TB, user string) {
	t.Helper()
	name := "test-csr-create:" + user
	e.Create(t, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"certificatesigningrequests"}, Verbs: []string{"create", "get"}}},
	})
	e.Create(t, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{UserSubject(user)},
	})
}

// GrantReference gives subject `reference` on the Issuer named issuer in namespace: the permission
// the signing gate asks the API server about, with a SubjectAccessReview, before it signs for a
// namespaced Issuer. A ClusterIssuer needs no such grant.
func (e *Env) GrantReference(t testing.TB, namespace, issuer string, subject rbacv1.Subject) {
	t.Helper()
	name := "test-reference:" + issuer + ":" + subject.Name
	e.Create(t, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"cert-manager.io"}, Resources: []string{"signers"}, Verbs: []string{"reference"}, ResourceNames: []string{issuer}}},
	})
	e.Create(t, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{subject},
	})
}
