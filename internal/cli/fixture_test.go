//go:build !unit

package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/cli"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// team is a namespace with two CA Issuers: "ca", governed by an Automatic policy that lets the
// group devs ask for names under <ns>.example.com, and "ca-manual", governed by a Manual policy
// for the same group whose approvers decide.
type team struct {
	ns                       string
	signer, manualSigner     string
	automatic, manual        string
	devGroup, approver, zone string
}

func newTeam(t *testing.T) *team {
	t.Helper()
	ns := env.Namespace(t)
	tm := &team{ns: ns, signer: "issuers.cert-manager.io/" + ns + ".ca", manualSigner: "issuers.cert-manager.io/" + ns + ".ca-manual",
		automatic: "auto-" + ns, manual: "manual-" + ns, devGroup: "devs:" + ns, approver: "approver-" + ns, zone: ns + ".example.com"}
	root := testpki.NewRootCA(t, testpki.ECDSA, "Root of "+ns)
	for _, name := range []string{"ca", "ca-manual"} {
		env.Create(t, root.Secret(ns, name))
		env.Create(t, &cmapi.Issuer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: name}}}})
	}
	policy := func(name, issuer string, mode policyv1alpha1.ApprovalMode) *policyv1alpha1.SignerPolicy {
		p := &policyv1alpha1.SignerPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: policyv1alpha1.SignerPolicySpec{
				IssuerRef:  &policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: ns, Name: issuer},
				Requesters: policyv1alpha1.Subjects{Groups: []string{tm.devGroup}},
				Approval:   policyv1alpha1.Approval{Mode: mode},
				Duration:   &policyv1alpha1.DurationBounds{Max: &metav1.Duration{Duration: 720 * time.Hour}},
				Allowed:    policyv1alpha1.Allowed{DNSNames: []string{"*." + tm.zone}, Required: []policyv1alpha1.AttributeName{"dnsNames"}},
			},
		}
		if mode == policyv1alpha1.ApprovalManual {
			p.Spec.Approval.Approvers = &policyv1alpha1.Subjects{Users: []string{tm.approver}}
		}
		return p
	}
	env.GovernWithPolicy(t, policy(tm.automatic, "ca", policyv1alpha1.ApprovalAutomatic))
	env.GovernWithPolicy(t, policy(tm.manual, "ca-manual", policyv1alpha1.ApprovalManual))
	return tm
}

// access is what a user may read besides what the policies grant requesters.
type access int

const (
	// csrsOnly: what a requester gets from the policies, nothing more.
	csrsOnly access = iota
	// policiesNoEvents: SignerPolicies and namespaces too, but not events.
	policiesNoEvents
	// everything: SignerPolicies, namespaces and the events in default.
	everything
)

// user makes a user of the given groups with the given access, and returns their kubeconfig.
func user(t *testing.T, name string, a access, groups ...string) string {
	t.Helper()
	u, err := env.AddUser(name, groups...)
	if err != nil {
		t.Fatal(err)
	}
	data, err := u.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name+".kubeconfig")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	subject := []rbacv1.Subject{harness.UserSubject(name)}
	grant := "test-plugin-reader:" + name
	if a >= policiesNoEvents {
		env.Create(t, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: grant}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{policyv1alpha1.GroupVersion.Group}, Resources: []string{"signerpolicies"}, Verbs: []string{"get", "list"}},
			{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get"}},
			{APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"certificatesigningrequests"}, Verbs: []string{"get"}},
		}})
		env.Create(t, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: grant}, Subjects: subject,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: grant}})
	}
	if a >= everything {
		env.Create(t, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: grant}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"list"}},
		}})
		env.Create(t, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: grant}, Subjects: subject,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: grant}})
	}
	return path
}

// result is what one run of the plugin printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

// plugin runs `kubectl signerpolicy args...` in-process with the kubeconfig, as the binary would.
func plugin(t *testing.T, kubeconfig string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := cli.Main(ctx, append(args, "--kubeconfig", kubeconfig), genericiooptions.IOStreams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr})
	r := result{stdout: stdout.String(), stderr: stderr.String(), code: code}
	t.Logf("kubectl signerpolicy %s\nexit %d\n%s%s", strings.Join(args, " "), code, r.stdout, r.stderr)
	return r
}

// requestEventually runs `request` until the API server lets the user create a CSR: the RBAC a
// policy generates may take a moment to reach its authorizer.
func requestEventually(t *testing.T, kubeconfig string, args ...string) result {
	t.Helper()
	var r result
	harness.Eventually(t, 15*time.Second, func() error {
		r = plugin(t, kubeconfig, append([]string{"request"}, args...)...)
		if strings.Contains(r.stderr, "forbidden") {
			return errorString(r.stderr)
		}
		return nil
	})
	return r
}

type errorString string

func (e errorString) Error() string { return string(e) }

// wantContains fails the test for each string the output lacks.
func wantContains(t *testing.T, output string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(output, w) {
			t.Errorf("output lacks %q", w)
		}
	}
}

func objectMeta(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name} }
