package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"os"
	"path/filepath"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/signerpolicy/signer-policy-operator/test/harness"
	"github.com/signerpolicy/signer-policy-operator/test/pki"
)

// user is a person of the demo: a client and a kubeconfig for kubectl, both authenticated as
// them, so the API server records them as the CSR's requester and checks their RBAC.
type user struct {
	name       string
	client     client.Client
	kubeconfig string
}

func newUser(env *harness.Env, dir, name string, groups ...string) (user, error) {
	u, err := env.AddUser(name, groups...)
	if err != nil {
		return user{}, err
	}
	c, err := client.New(u.Config(), client.Options{Scheme: env.Scheme})
	if err != nil {
		return user{}, err
	}
	kc, err := u.KubeConfig()
	if err != nil {
		return user{}, err
	}
	path := filepath.Join(dir, name+".kubeconfig")
	return user{name: name, client: c, kubeconfig: path}, os.WriteFile(path, kc, 0o600)
}

// showCSRRoundTrip issues a certificate from team-a's CA Issuer under the Automatic policy,
// shows a denial, and then a Manual-mode CA certificate that a security approver approves
// with kubectl.
func showCSRRoundTrip(ctx context.Context, env *harness.Env, k kubectl, dir string) error {
	step("The team's CA keypair goes into the Secret the CA Issuer names")
	ca, err := pki.NewAuthority("Team A Root CA", nil, 365*24*time.Hour)
	if err != nil {
		return err
	}
	if err := env.Admin.Create(ctx, ca.Secret("team-a", "team-a-ca")); err != nil {
		return err
	}
	dana, err := newUser(env, dir, "dana", "team-a:developers")
	if err != nil {
		return err
	}

	step("dana (group team-a:developers) generates a key and submits a CSR for api.team-a.example.com")
	name, c, err := issued(ctx, env, k, dana, "issuers.cert-manager.io/team-a.team-a-ca",
		&x509.CertificateRequest{DNSNames: []string{"api.team-a.example.com"}})
	if err != nil {
		return err
	}
	if err := printCertificate(c); err != nil {
		return err
	}

	step("dana asks for a name the policy does not allow: denied, naming the policy field")
	denied, err := submit(ctx, dana, "issuers.cert-manager.io/team-a.team-a-ca",
		&x509.CertificateRequest{DNSNames: []string{"login.bank.example.org"}}, nil, pki.ECDSA)
	if err != nil {
		return err
	}
	if _, err := waitFor(ctx, env, denied, isDecided); err != nil {
		return err
	}
	if err := k.show("get", "csr", denied); err != nil {
		return err
	}
	if err := k.show("get", "csr", denied, "-o", `jsonpath={.status.conditions[0].message}{"\n"}`); err != nil {
		return err
	}
	if err := showWhy(k, dana, denied); err != nil {
		return err
	}
	if err := showManualApproval(ctx, env, k, dir); err != nil {
		return err
	}
	return showRecord(filepath.Join(dir, "operator.log"), name)
}

// showWhy lets team-a's developers read the policies and the events about CSRs, which a requester
// is not granted otherwise, and has dana ask the kubectl plugin why her CSR was denied.
func showWhy(k kubectl, dana user, denied string) error {
	step("The platform team lets team-a's developers read SignerPolicies and CSR events, for the kubectl plugin")
	for _, args := range [][]string{
		{"apply", "--server-side", "-f", "config/plugin/reader.yaml"},
		{"create", "clusterrolebinding", "team-a:signerpolicy-reader", "--clusterrole", "signerpolicy-reader", "--group", "team-a:developers"},
		{"create", "rolebinding", "-n", "default", "team-a:csr-event-reader", "--role", "csr-event-reader", "--group", "team-a:developers"},
	} {
		if err := k.show(args...); err != nil {
			return err
		}
	}
	step("dana asks the kubectl plugin why, with her own credentials")
	return k.as(dana).signerpolicy("why", denied)
}

// showManualApproval: a platform engineer asks the SelfSigned ClusterIssuer for an internal CA;
// the Manual policy leaves it pending with its evaluation, and a security approver approves.
func showManualApproval(ctx context.Context, env *harness.Env, k kubectl, dir string) error {
	step("pat (group platform:engineers) asks the SelfSigned ClusterIssuer for an internal CA under the Manual policy")
	pat, err := newUser(env, dir, "pat", "platform:engineers")
	if err != nil {
		return err
	}
	key, err := pki.GenerateKey(pki.ECDSAP384)
	if err != nil {
		return err
	}
	keyBytes, err := pki.EncodeKey(key)
	if err != nil {
		return err
	}
	// The SelfSigned issuer signs with the requester's own key, stored where the operator reads
	// ClusterIssuer Secrets.
	if err := env.Admin.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: clusterResourceNamespace, Name: "example-internal-ca-key"},
		Data:       map[string][]byte{corev1.TLSPrivateKeyKey: keyBytes},
	}); err != nil {
		return err
	}
	name, err := submitWithKey(ctx, pat, "clusterissuers.cert-manager.io/selfsigned",
		&x509.CertificateRequest{Subject: pkix.Name{CommonName: "Example Internal CA", Organization: []string{"Example Corp"}}},
		map[string]string{
			"experimental.cert-manager.io/request-is-ca":           "true",
			"experimental.cert-manager.io/request-duration":        "8760h",
			"experimental.cert-manager.io/private-key-secret-name": "example-internal-ca-key",
		}, key, []certificatesv1.KeyUsage{"cert sign", "crl sign", "digital signature"})
	if err != nil {
		return err
	}
	// The operator waits a few seconds for an approval that usually comes at once, then says on
	// the CSR, and in an event, that an approver decides.
	if err := waitForEvent(ctx, env, name, "SignerPolicyEvaluated"); err != nil {
		return err
	}
	if err := k.show("get", "csr", name); err != nil {
		return err
	}
	if err := k.show("get", "events", "-n", "default", "--field-selector", "involvedObject.name="+name, "-o", "custom-columns=REASON:.reason,MESSAGE:.message"); err != nil {
		return err
	}

	step("sam (group security:approvers) approves it with kubectl; the operator signs it")
	sam, err := newUser(env, dir, "sam", "security:approvers")
	if err != nil {
		return err
	}
	if err := k.as(sam).show("certificate", "approve", name); err != nil {
		return err
	}
	c, err := waitFor(ctx, env, name, func(c *certificatesv1.CertificateSigningRequest) bool { return len(c.Status.Certificate) > 0 })
	if err != nil {
		return err
	}
	if err := k.show("get", "csr", name); err != nil {
		return err
	}
	return printCertificate(c)
}

// issued submits a CSR as u, waits for its certificate and shows the CSR as kubectl lists it.
func issued(ctx context.Context, env *harness.Env, k kubectl, u user, signerName string, tmpl *x509.CertificateRequest) (string, *certificatesv1.CertificateSigningRequest, error) {
	name, err := submit(ctx, u, signerName, tmpl, nil, pki.ECDSA)
	if err != nil {
		return "", nil, err
	}
	c, err := waitFor(ctx, env, name, func(c *certificatesv1.CertificateSigningRequest) bool { return len(c.Status.Certificate) > 0 })
	if err != nil {
		return "", nil, err
	}
	return name, c, k.show("get", "csr", name)
}

func submit(ctx context.Context, u user, signerName string, tmpl *x509.CertificateRequest, annotations map[string]string, alg pki.KeyAlgorithm) (string, error) {
	key, err := pki.GenerateKey(alg)
	if err != nil {
		return "", err
	}
	return submitWithKey(ctx, u, signerName, tmpl, annotations, key, nil)
}

// submitWithKey creates the CSR as the user. The RBAC the policy generated for them may take a
// moment to reach the API server's authorizer, so a refusal is retried briefly.
func submitWithKey(ctx context.Context, u user, signerName string, tmpl *x509.CertificateRequest, annotations map[string]string,
	key crypto.Signer, usages []certificatesv1.KeyUsage) (string, error) {
	req, err := pki.CreateRequestPEM(key, tmpl)
	if err != nil {
		return "", err
	}
	if usages == nil {
		usages = []certificatesv1.KeyUsage{"digital signature", "key encipherment", "server auth"}
	}
	c := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: u.name + "-", Annotations: annotations},
		Spec:       certificatesv1.CertificateSigningRequestSpec{SignerName: signerName, Request: req, Usages: usages},
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := u.client.Create(ctx, c)
		if err == nil {
			return c.Name, nil
		}
		if !apierrors.IsForbidden(err) || time.Now().After(deadline) {
			return "", fmt.Errorf("%s creating a CSR: %w", u.name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func isDecided(c *certificatesv1.CertificateSigningRequest) bool {
	for _, cond := range c.Status.Conditions {
		if cond.Type == certificatesv1.CertificateApproved || cond.Type == certificatesv1.CertificateDenied {
			return true
		}
	}
	return false
}

// waitFor polls the CSR as the admin until done accepts it.
func waitFor(ctx context.Context, env *harness.Env, name string, done func(*certificatesv1.CertificateSigningRequest) bool) (*certificatesv1.CertificateSigningRequest, error) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		var c certificatesv1.CertificateSigningRequest
		if err := env.Admin.Get(ctx, client.ObjectKey{Name: name}, &c); err != nil {
			return nil, err
		}
		if done(&c) {
			return &c, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("CSR %s did not progress: %+v", name, c.Status.Conditions)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func printCertificate(c *certificatesv1.CertificateSigningRequest) error {
	text, err := describeCertificate(c.Status.Certificate)
	if err != nil {
		return err
	}
	fmt.Printf("\nThe certificate in status.certificate:\n%s", text)
	return nil
}

// waitForEvent waits until an event of the given reason about the CSR named name is recorded.
func waitForEvent(ctx context.Context, env *harness.Env, name, reason string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		var events corev1.EventList
		if err := env.Admin.List(ctx, &events, client.InNamespace(corev1.NamespaceDefault)); err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Name == name && e.Reason == reason {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no %s event about CSR %s: %w", reason, name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
