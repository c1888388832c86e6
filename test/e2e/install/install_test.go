// Package install proves what a platform team installs: the kustomize overlays render, apply to
// a real API server, and the operator does its whole job under exactly the RBAC they install,
// by running it with the identity of the installed service account.
package install

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/controllers"
	"github.com/signerpolicy/signer-policy-operator/internal/approvers"
	"github.com/signerpolicy/signer-policy-operator/internal/manifests"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/ca"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/selfsigned"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// operatorNamespace is where config/default and config/split install the operator.
const operatorNamespace = "signer-policy-system"

var env *harness.Env

func TestMain(m *testing.M) {
	os.Exit(harness.ControlPlaneMain(m, &env))
}

// render builds a kustomize overlay of config/ in-process, as `kustomize build` does.
func render(t *testing.T, overlay string) []*unstructured.Unstructured {
	t.Helper()
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(root, "config", overlay))
	if err != nil {
		t.Fatalf("kustomize build config/%s: %v", overlay, err)
	}
	data, err := res.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifests.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// install applies the rendered objects; every one of them must be accepted by the API server.
func install(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	if err := harness.Apply(context.Background(), env.Admin, objs); err != nil {
		t.Fatalf("installing: %v", err)
	}
	for _, o := range objs {
		t.Cleanup(func() {
			if o.GetKind() != "Namespace" && o.GetKind() != "CustomResourceDefinition" {
				_ = env.Admin.Delete(context.Background(), o)
			}
		})
	}
}

func kinds(objs []*unstructured.Unstructured) map[string]int {
	k := map[string]int{}
	for _, o := range objs {
		k[o.GetKind()]++
	}
	return k
}

// asServiceAccount is a REST config that acts with the installed service account's identity
// and nothing else, the way the Deployment's pods would.
func asServiceAccount(name string) *rest.Config {
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + operatorNamespace + ":" + name,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + operatorNamespace, "system:authenticated"},
	}
	return cfg
}

func options(controllersToRun ...string) controllers.Options {
	return controllers.Options{
		Signers: func(mgr ctrl.Manager) (*signer.Registry, error) {
			return signer.NewRegistry(
				signer.Entry{Type: signer.TypeCA, Signer: ca.New(mgr.GetAPIReader())},
				signer.Entry{Type: signer.TypeSelfSigned, Signer: selfsigned.New(mgr.GetAPIReader())},
			)
		},
		ClusterResourceNamespace: operatorNamespace,
		Concurrency:              2,
		Controllers:              controllersToRun,
		Metrics:                  ctrlmetrics.Registry,
	}
}

func TestDefaultInstallRunsUnderItsOwnClusterRole(t *testing.T) {
	objs := render(t, "default")
	k := kinds(objs)
	if k["CustomResourceDefinition"] != 2 || k["Deployment"] != 1 || k["ClusterRole"] < 1 || k["ServiceAccount"] != 1 {
		t.Fatalf("config/default renders %v", k)
	}
	install(t, objs)

	metricsAddr := freeAddress(t)
	stop, err := env.RunManager(asServiceAccount("signer-policy-controller-manager"), options(), metricsserver.Options{BindAddress: metricsAddr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	roundTrip(t)

	body := scrape(t, metricsAddr)
	for _, want := range []string{
		`signerpolicy_csr_decisions_total{issuer_kind="Issuer",policy="`, `result="approve"}`,
		`signerpolicy_csr_signing_total{issuer_kind="Issuer",issuer_type="CA",reason="CertificateIssued",result="issued"}`,
		`signerpolicy_csr_signing_total{issuer_kind="ClusterIssuer",issuer_type="SelfSigned",reason="CertificateIssued",result="issued"}`,
		`signerpolicy_csr_issuance_duration_seconds_count{issuer_kind="Issuer",issuer_type="CA"}`,
		`signerpolicy_csr_pending{reason="WaitingApproval"}`,
		`signerpolicy_policies{approval="Automatic",ready="True"}`,
		`signerpolicy_events_dropped_total 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestSplitInstallRunsEachControllerUnderItsOwnRole(t *testing.T) {
	objs := render(t, "split")
	if k := kinds(objs); k["Deployment"] != 3 || k["ServiceAccount"] != 3 || k["Service"] != 5 || k["ValidatingWebhookConfiguration"] != 1 {
		t.Fatalf("config/split renders %v, want three Deployments each with its own service account and metrics Service, one ACME Service, "+
			"and the approval-observing webhook with its Service", k)
	}
	// The webhook's observations must reach the leader of the Deployment that records decisions:
	// the Service selects no pod, and the leader points its one EndpointSlice at itself.
	for _, o := range objs {
		if o.GetKind() == "Service" && o.GetName() == approvers.EndpointName {
			if sel, found, _ := unstructured.NestedMap(o.Object, "spec", "selector"); found {
				t.Errorf("config/split's webhook Service selects %v, want no selector", sel)
			}
		}
	}
	if !slices.ContainsFunc(objs, func(o *unstructured.Unstructured) bool {
		return o.GetKind() == "EndpointSlice" && o.GetName() == approvers.EndpointName && o.GetLabels()["kubernetes.io/service-name"] == approvers.EndpointName
	}) {
		t.Error("config/split renders no EndpointSlice for the webhook Service")
	}
	for _, c := range []string{controllers.ControllerPolicy, controllers.ControllerApproval, controllers.ControllerSigning} {
		if !slices.ContainsFunc(objs, func(o *unstructured.Unstructured) bool {
			return o.GetKind() == "ClusterRole" && o.GetName() == "signer-policy-"+c+"-role"
		}) {
			t.Fatalf("config/split renders no ClusterRole of the %s Deployment's own", c)
		}
	}
	install(t, objs)
	metricsAddrs := map[string]string{}
	for _, c := range []string{controllers.ControllerPolicy, controllers.ControllerApproval, controllers.ControllerSigning} {
		// Secure metrics as the Deployments serve them: each scrape's token and access are
		// checked with the component's own identity, which config/split must allow.
		metricsAddrs[c] = freeAddress(t)
		stop, err := env.RunManager(asServiceAccount("signer-policy-"+c), options(c), metricsserver.Options{
			BindAddress: metricsAddrs[c], SecureServing: true, FilterProvider: filters.WithAuthenticationAndAuthorization})
		if err != nil {
			t.Fatalf("starting the %s controller: %v", c, err)
		}
		t.Cleanup(func() { _ = stop() })
	}
	roundTrip(t)
	splitIdentitiesCannotWidenPolicies(t)

	ns := env.Namespace(t)
	scraper, stranger := serviceAccountToken(t, ns, "scraper"), serviceAccountToken(t, ns, "stranger")
	env.Create(t, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "test:scraper-" + ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "signer-policy-metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "scraper"}},
	})
	for c, addr := range metricsAddrs {
		if code, body := scrapeSecure(t, addr, scraper); code != http.StatusOK || !strings.Contains(body, "controller_runtime_reconcile_total") {
			t.Errorf("the %s Deployment's /metrics answered a metrics-reader with %d: %.200s", c, code, body)
		}
		if code, _ := scrapeSecure(t, addr, stranger); code != http.StatusForbidden {
			t.Errorf("the %s Deployment's /metrics answered a service account without metrics-reader with %d, want 403", c, code)
		}
	}
}

// serviceAccountToken creates a service account and returns a token the API server issued for it.
func serviceAccountToken(t *testing.T, ns, name string) string {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	env.Create(t, sa)
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}}
	if err := env.Admin.SubResource("token").Create(context.Background(), sa, req); err != nil {
		t.Fatalf("requesting a token for %s/%s: %v", ns, name, err)
	}
	return req.Status.Token
}

// scrapeSecure GETs /metrics over TLS with a bearer token, as Prometheus does. The server's
// certificate is self-signed, as controller-runtime generates it when given none.
func scrapeSecure(t *testing.T, addr, token string) (int, string) {
	t.Helper()
	httpClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a test server's self-signed certificate
	}}
	var code int
	var body string
	harness.Eventually(t, 10*time.Second, func() error {
		req, err := http.NewRequest(http.MethodGet, "https://"+addr+"/metrics", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := httpClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		code, body = resp.StatusCode, string(b)
		return err
	})
	return code, body
}

// roundTrip runs the operator's whole job and fails the test if any part of it does not happen.
func roundTrip(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := tryRoundTrip(ctx, t, env.Namespace(t)); err != nil {
		t.Fatal(err)
	}
}

// tryRoundTrip runs the operator's whole job, returning the first part that did not happen
// before ctx ends: generated RBAC (an Automatic policy, and a Manual one with approvers, which
// needs the approve power to grant), an automatic approval with its event, a person's approval,
// and signing by a CA Issuer and a SelfSigned ClusterIssuer, each certificate annotated.
func tryRoundTrip(ctx context.Context, t *testing.T, ns string) error {
	root := testpki.NewRootCA(t, testpki.ECDSA, "install CA")
	alice, approvers := "alice-"+ns, "approvers-"+ns
	selfKey := testpki.NewKey(t, testpki.ECDSA)
	objs := []client.Object{
		root.Secret(ns, "ca"),
		&cmapi.Issuer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ca"},
			Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "ca"}}}},
		&cmapi.ClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: "self-" + ns},
			Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{SelfSigned: &cmapi.SelfSignedIssuer{}}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: "key-" + ns},
			Data: map[string][]byte{"tls.key": testpki.KeyPEM(t, selfKey)}},
		&policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: "auto-" + ns}, Spec: policyv1alpha1.SignerPolicySpec{
			IssuerRef:  &policyv1alpha1.IssuerReference{Kind: "Issuer", Namespace: ns, Name: "ca"},
			Requesters: policyv1alpha1.Subjects{Users: []string{alice}},
			Allowed:    policyv1alpha1.Allowed{DNSNames: []string{"*.example.com"}},
		}},
		&policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: "manual-" + ns}, Spec: policyv1alpha1.SignerPolicySpec{
			IssuerRef:  &policyv1alpha1.IssuerReference{Kind: "ClusterIssuer", Name: "self-" + ns},
			Requesters: policyv1alpha1.Subjects{Users: []string{alice}},
			Approval:   policyv1alpha1.Approval{Mode: policyv1alpha1.ApprovalManual, Approvers: &policyv1alpha1.Subjects{Groups: []string{approvers}}},
			Allowed:    policyv1alpha1.Allowed{DNSNames: []string{"*.example.com"}},
		}},
	}
	for _, o := range objs {
		env.Create(t, o)
	}
	for _, name := range []string{"auto-" + ns, "manual-" + ns} {
		if err := poll(ctx, "policy "+name+" Ready", func() error { return policyReady(name) }); err != nil {
			return err
		}
	}
	requester := env.User(t, alice)
	auto := harness.CSR{SignerName: "issuers.cert-manager.io/" + ns + ".ca",
		Request: testpki.RequestPEM(t, testpki.NewKey(t, testpki.ECDSA), &x509.CertificateRequest{DNSNames: []string{"web.example.com"}})}
	name, err := submit(ctx, requester, auto)
	if err != nil {
		return err
	}
	if err := poll(ctx, "automatic approval and certificate", func() error { return issued(name, root.Cert) }); err != nil {
		return err
	}
	if err := poll(ctx, "SignerPolicyApproved event", func() error { return hasEvent(name, "SignerPolicyApproved") }); err != nil {
		return err
	}
	person := harness.CSR{SignerName: "clusterissuers.cert-manager.io/self-" + ns,
		Request:     testpki.RequestPEM(t, selfKey, &x509.CertificateRequest{DNSNames: []string{"api.example.com"}}),
		Annotations: map[string]string{"experimental.cert-manager.io/private-key-secret-name": "key-" + ns}}
	if name, err = submit(ctx, requester, person); err != nil {
		return err
	}
	if err := poll(ctx, "SignerPolicyEvaluated event", func() error { return hasEvent(name, "SignerPolicyEvaluated") }); err != nil {
		return err
	}
	approver := env.User(t, "sam-"+ns, approvers)
	if err := poll(ctx, "approval by a named approver", func() error { return harness.Approve(approver, name) }); err != nil {
		return err
	}
	return poll(ctx, "SelfSigned certificate", func() error { return issued(name, nil) })
}

// submit creates the CSR as the requester; generated RBAC may take a moment to apply.
func submit(ctx context.Context, as client.Client, c harness.CSR) (string, error) {
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "csr-", Annotations: c.Annotations},
		Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: c.SignerName, Request: c.Request,
			Usages: []certificatesv1.KeyUsage{"digital signature", "key encipherment", "server auth"}},
	}
	err := poll(ctx, "CSR creation by the requester", func() error { return as.Create(ctx, csr) })
	return csr.Name, err
}

// issued checks the CSR carries a certificate, signed by ca when given, and its annotations.
func issued(name string, ca *x509.Certificate) error {
	var c certificatesv1.CertificateSigningRequest
	if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: name}, &c); err != nil {
		return err
	}
	if len(c.Status.Certificate) == 0 {
		return fmt.Errorf("no certificate: %+v", c.Status.Conditions)
	}
	block, _ := pem.Decode(c.Status.Certificate)
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return err
	}
	if ca != nil && leaf.CheckSignatureFrom(ca) != nil {
		return fmt.Errorf("certificate not signed by the Issuer's CA")
	}
	return nil
}

func hasEvent(name, reason string) error {
	var list eventsv1.EventList
	if err := env.Admin.List(context.Background(), &list); err != nil {
		return err
	}
	for _, ev := range list.Items {
		if ev.Regarding.Name == name && ev.Reason == reason {
			return nil
		}
	}
	return fmt.Errorf("no %s event", reason)
}

func policyReady(name string) error {
	var p policyv1alpha1.SignerPolicy
	if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: name}, &p); err != nil {
		return err
	}
	if c := meta.FindStatusCondition(p.Status.Conditions, policyv1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
		return fmt.Errorf("not Ready: %+v", c)
	}
	return nil
}

// poll retries check every 100ms until it passes or ctx ends, naming what did not happen.
func poll(ctx context.Context, what string, check func() error) error {
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not happen: %w", what, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	var body string
	harness.Eventually(t, 10*time.Second, func() error {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		body = string(b)
		return err
	})
	return body
}
