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
	"github.com/signerpolicy/signer-policy-operator/internal/rbac"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// serviceAccount is a client authenticated as the named service account, with the groups the API
// server gives service accounts.
func serviceAccount(t *testing.T, ns, name string) client.Client {
	return env.User(t, "system:serviceaccount:"+ns+":"+name, "system:serviceaccounts", "system:serviceaccounts:"+ns, "system:authenticated")
}

// setLabel sets or, with an empty value, removes a label of a namespace.
func setLabel(t *testing.T, ns, key, value string) {
	t.Helper()
	var n corev1.Namespace
	if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: ns}, &n); err != nil {
		t.Fatal(err)
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	if value == "" {
		delete(n.Labels, key)
	} else {
		n.Labels[key] = value
	}
	if err := env.Admin.Update(context.Background(), &n); err != nil {
		t.Fatal(err)
	}
}

// requesterGroups waits until the policy's requester ClusterRoleBinding names exactly the
// service account groups of namespaces, which the operator lists by namespace name.
func requesterGroups(t *testing.T, p *policyv1alpha1.SignerPolicy, namespaces ...string) {
	t.Helper()
	var want []string
	for _, ns := range slices.Sorted(slices.Values(namespaces)) {
		want = append(want, "system:serviceaccounts:"+ns)
	}
	harness.Eventually(t, wait, func() error {
		var b rbacv1.ClusterRoleBinding
		if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: rbac.RequesterRoleName(p)}, &b); err != nil {
			return err
		}
		var got []string
		for _, s := range b.Subjects {
			if s.Kind == rbacv1.GroupKind {
				got = append(got, s.Name)
			}
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("requester groups %v, want %v", got, want)
		}
		return nil
	})
}

// Service accounts are requesters by their namespace's labels and their name: the evaluator
// decides from the service account that created the CSR, and the CSR-create binding follows
// namespaces as their labels change.
func TestServiceAccountSelectorsFollowNamespaceLabels(t *testing.T) {
	label := "selector-" + policyName(t)[len(policyName(t))-8:]
	shop, tools := env.Namespace(t), env.Namespace(t)
	setLabel(t, shop, label, "yes")
	env.Create(t, caIssuer(shop, "ca"))
	ref := policyv1alpha1.IssuerReference{Kind: "Issuer", Namespace: shop, Name: "ca"}
	p := policyFor(policyName(t), ref)
	p.Spec.Requesters = policyv1alpha1.Subjects{ServiceAccountSelectors: []policyv1alpha1.ServiceAccountSelector{{
		NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{label: "yes"}},
		Names:             []string{"web"},
	}}}
	p.Spec.Allowed.DNSNames = []string{"*.example.com"}
	env.Create(t, p)
	readyStatus(t, p.Name, metav1.ConditionTrue)
	requesterGroups(t, p, shop)
	signerName := ref.SignerName()

	web := env.SubmitCSR(t, serviceAccount(t, shop, "web"), harness.CSR{SignerName: signerName, Request: dnsCSR(t, "web.example.com")})
	env.WaitForCSR(t, web.Name, wait, approvedBy(p.Name))
	db := env.SubmitCSR(t, serviceAccount(t, shop, "db"), harness.CSR{SignerName: signerName, Request: dnsCSR(t, "db.example.com")})
	env.WaitForCSR(t, db.Name, wait, deniedNaming("spec.requesters"))

	// tools is not selected: its service accounts may not even create CSRs.
	toolsWeb := serviceAccount(t, tools, "web")
	err := toolsWeb.Create(context.Background(), &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "unselected-"},
		Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: signerName, Request: dnsCSR(t, "web.example.com"),
			Usages: []certificatesv1.KeyUsage{"digital signature", "server auth"}},
	})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("a service account of an unselected namespace created a CSR: %v", err)
	}

	// Labelled, it is selected: the binding follows and its CSR is approved.
	setLabel(t, tools, label, "yes")
	requesterGroups(t, p, shop, tools)
	later := env.SubmitCSR(t, toolsWeb, harness.CSR{SignerName: signerName, Request: dnsCSR(t, "web.example.com")})
	env.WaitForCSR(t, later.Name, wait, approvedBy(p.Name))

	// Unlabelled again, the binding drops it, and so does the evaluator.
	setLabel(t, tools, label, "")
	requesterGroups(t, p, shop)
}
