//go:build !unit

package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/rbac"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// governedNow waits until the policy's status lists exactly the signer names of namespaces' "ca"
// Issuers and each of those namespaces, and no other, holds its reference Role.
func governedNow(t *testing.T, p *policyv1alpha1.SignerPolicy, all []string, namespaces ...string) {
	t.Helper()
	var want []string
	for _, ns := range namespaces {
		want = append(want, policyv1alpha1.IssuerReference{Kind: "Issuer", Namespace: ns, Name: "ca"}.SignerName())
	}
	slices.Sort(want)
	harness.Eventually(t, wait, func() error {
		var got policyv1alpha1.SignerPolicy
		if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: p.Name}, &got); err != nil {
			return err
		}
		if !slices.Equal(got.Status.SignerNames, want) {
			return fmt.Errorf("status.signerNames %v, want %v", got.Status.SignerNames, want)
		}
		for _, ns := range all {
			err := env.Admin.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: rbac.ReferenceRoleName(p)}, &rbacv1.Role{})
			if governed := slices.Contains(namespaces, ns); governed != !apierrors.IsNotFound(err) {
				return fmt.Errorf("reference Role in %s: %v, want it present: %t", ns, err, governed)
			}
		}
		return nil
	})
}

// A policy selecting Issuers by name and namespace label governs each one in a labelled
// namespace: its status and reference Roles follow the labels, and a CSR for an Issuer it comes
// to govern is decided as soon as it does.
func TestIssuerSelectionFollowsNamespaceLabels(t *testing.T) {
	label := "issuers-" + policyName(t)[len(policyName(t))-8:]
	a, b := env.Namespace(t), env.Namespace(t)
	setLabel(t, a, label, "yes")
	env.Create(t, caIssuer(a, "ca"))
	env.Create(t, caIssuer(b, "ca"))
	p := &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: policyName(t)}, Spec: policyv1alpha1.SignerPolicySpec{
		Issuers: &policyv1alpha1.IssuerSelector{Kind: policyv1alpha1.IssuerKindIssuer, Names: []string{"ca"},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{label: "yes"}}},
		Requesters: policyv1alpha1.Subjects{Users: []string{"alice-" + a}},
		Allowed:    policyv1alpha1.Allowed{DNSNames: []string{"*.example.com"}},
	}}
	env.Create(t, p)
	readyStatus(t, p.Name, metav1.ConditionTrue)
	governedNow(t, p, []string{a, b}, a)

	alice := env.User(t, "alice-"+a)
	inA := env.SubmitCSR(t, alice, harness.CSR{SignerName: "issuers.cert-manager.io/" + a + ".ca", Request: dnsCSR(t, "web.example.com")})
	env.WaitForCSR(t, inA.Name, wait, approvedBy(p.Name))
	inB := env.SubmitCSR(t, alice, harness.CSR{SignerName: "issuers.cert-manager.io/" + b + ".ca", Request: dnsCSR(t, "web.example.com")})

	// b is not selected yet: its CSR is left to whoever else approves for it.
	setLabel(t, b, label, "yes")
	governedNow(t, p, []string{a, b}, a, b)
	env.WaitForCSR(t, inB.Name, wait, approvedBy(p.Name))

	setLabel(t, a, label, "")
	governedNow(t, p, []string{a, b}, b)
}

// Until it is selected, a CSR for an Issuer the selection leaves out gets no decision from it.
func TestIssuerSelectionLeavesOthersUndecided(t *testing.T) {
	ns := env.Namespace(t)
	env.Create(t, caIssuer(ns, "ca"))
	env.Create(t, caIssuer(ns, "vault"))
	p := &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: policyName(t)}, Spec: policyv1alpha1.SignerPolicySpec{
		Issuers:    &policyv1alpha1.IssuerSelector{Kind: policyv1alpha1.IssuerKindIssuer, Names: []string{"c*"}, Namespaces: []string{ns}},
		Requesters: policyv1alpha1.Subjects{Users: []string{"alice-" + ns}},
		Allowed:    policyv1alpha1.Allowed{DNSNames: []string{"*.example.com"}},
	}}
	env.Create(t, p)
	readyStatus(t, p.Name, metav1.ConditionTrue)
	user := "alice-" + ns
	env.GrantCSRCreate(t, user)
	c := env.SubmitCSR(t, env.User(t, user), harness.CSR{SignerName: "issuers.cert-manager.io/" + ns + ".vault", Request: dnsCSR(t, "web.example.com")})
	selected := env.SubmitCSR(t, env.User(t, user), harness.CSR{SignerName: "issuers.cert-manager.io/" + ns + ".ca", Request: dnsCSR(t, "web.example.com")})
	env.WaitForCSR(t, selected.Name, wait, approvedBy(p.Name))
	var got certificatesv1.CertificateSigningRequest
	if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: c.Name}, &got); err != nil {
		t.Fatal(err)
	}
	if !csr.IsPending(&got) {
		t.Errorf("a CSR for an Issuer the selection leaves out was decided: %+v", got.Status.Conditions)
	}
}

// A CSR for an issuer that appears after it was submitted is asked of every selection of its kind
// at once, not only of those whose status lists the issuer yet: another policy on the signer that
// becomes Ready first must not get to deny, for good, what the selection allows.
func TestASelectionDecidesBeforeItsStatusListsTheIssuer(t *testing.T) {
	ns := env.Namespace(t)
	ref := &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: policyName(t) + "-ref"}, Spec: policyv1alpha1.SignerPolicySpec{
		IssuerRef:  &policyv1alpha1.IssuerReference{Kind: "Issuer", Namespace: ns, Name: "ca-new"},
		Requesters: policyv1alpha1.Subjects{Users: []string{"bob-" + ns}},
		Allowed:    policyv1alpha1.Allowed{DNSNames: []string{"*.example.com"}},
	}}
	sel := &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: policyName(t) + "-sel"}, Spec: policyv1alpha1.SignerPolicySpec{
		Issuers:    &policyv1alpha1.IssuerSelector{Kind: "Issuer", Names: []string{"ca-*"}, Namespaces: []string{ns}},
		Requesters: policyv1alpha1.Subjects{Users: []string{"alice-" + ns}},
		Allowed:    policyv1alpha1.Allowed{DNSNames: []string{"*.example.com"}},
	}}
	env.Create(t, ref)
	env.Create(t, sel)
	readyStatus(t, ref.Name, metav1.ConditionFalse)
	alice := "alice-" + ns
	env.GrantCSRCreate(t, alice)
	c := env.SubmitCSR(t, env.User(t, alice), harness.CSR{SignerName: "issuers.cert-manager.io/" + ns + ".ca-new", Request: dnsCSR(t, "web.example.com")})
	env.Create(t, caIssuer(ns, "ca-new"))
	env.WaitForCSR(t, c.Name, wait, approvedBy(sel.Name))
}

// One governed namespace that cannot take a reference Role (it is being deleted) neither keeps the
// policy out of force nor keeps a namespace it no longer governs holding its grant.
func TestASelectionSurvivesATerminatingNamespace(t *testing.T) {
	label := "term-" + policyName(t)[len(policyName(t))-8:]
	a, b, going := env.Namespace(t), env.Namespace(t), env.Namespace(t)
	for _, ns := range []string{a, b, going} {
		setLabel(t, ns, label, "yes")
		env.Create(t, caIssuer(ns, "ca"))
	}
	p := &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: policyName(t)}, Spec: policyv1alpha1.SignerPolicySpec{
		Issuers: &policyv1alpha1.IssuerSelector{Kind: policyv1alpha1.IssuerKindIssuer, Names: []string{"ca"},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{label: "yes"}}},
		Requesters: policyv1alpha1.Subjects{Users: []string{"alice-" + a}},
		Allowed:    policyv1alpha1.Allowed{DNSNames: []string{"*.example.com"}},
	}}
	env.Create(t, p)
	readyStatus(t, p.Name, metav1.ConditionTrue)
	governedNow(t, p, []string{a, b, going}, a, b, going)

	// envtest runs no namespace controller, so the namespace stays Terminating with its Issuer,
	// as a finalizer on the Issuer would keep it in a real cluster; its Roles go as they would.
	if err := env.Admin.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: going}}); err != nil {
		t.Fatal(err)
	}
	if err := env.Admin.Delete(context.Background(), &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: going, Name: rbac.ReferenceRoleName(p)}}); err != nil {
		t.Fatal(err)
	}
	setLabel(t, b, label, "")
	governedNow(t, p, []string{a, b}, a)
	readyStatus(t, p.Name, metav1.ConditionTrue)
}
