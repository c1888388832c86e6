// Package metrics holds docs/metrics.md and the operator's /metrics endpoint to each other: it runs
// the operator, drives a decision and an outcome of every kind, scrapes the endpoint over HTTP and
// checks that every documented metric is served with exactly its documented labels and bounded
// values, and that nothing undocumented is.
package metrics

import (
	"bufio"
	"context"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/controllers"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/ca"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

const operatorNamespace = "signer-policy-system"

var env *harness.Env

func TestMain(m *testing.M) {
	os.Exit(harness.ControlPlaneMain(m, &env, operatorNamespace))
}

// documented is one row of docs/metrics.md's table of metrics.
type documented struct {
	name, typ string
	labels    []string
}

// readDocs reads the table of metrics and the closed value sets of the table of labels.
func readDocs(t *testing.T) (metrics []documented, values map[string][]string) {
	t.Helper()
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	code, note := regexp.MustCompile("`([^`]+)`"), regexp.MustCompile(`\([^)]*\)`)
	values = map[string][]string{}
	section := ""
	for s := bufio.NewScanner(f); s.Scan(); {
		line := s.Text()
		if strings.HasPrefix(line, "## ") {
			section = line
			continue
		}
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(line, "|")[1:]
		switch section {
		case "## The metrics":
			d := documented{name: strings.Trim(strings.TrimSpace(cells[0]), "`"), typ: strings.TrimSpace(cells[1])}
			for _, m := range code.FindAllStringSubmatch(cells[2], -1) {
				d.labels = append(d.labels, m[1])
			}
			metrics = append(metrics, d)
		case "## Labels and their values":
			// A label whose cell, notes in parentheses aside, is nothing but `values` has a closed
			// set the test can check; `result` (decisions) and `result` (signing) are two sets.
			label := strings.ReplaceAll(strings.TrimSpace(cells[0]), "`", "")
			listed := note.ReplaceAllString(cells[1], "")
			if strings.Trim(code.ReplaceAllString(listed, ""), " ,") != "" {
				continue
			}
			for _, m := range code.FindAllStringSubmatch(listed, -1) {
				values[label] = append(values[label], m[1])
			}
		}
	}
	if len(metrics) == 0 {
		t.Fatal("docs/metrics.md has no table of metrics under \"## The metrics\"")
	}
	return metrics, values
}

func TestEveryDocumentedMetricIsServedWithItsLabels(t *testing.T) {
	docs, values := readDocs(t)
	addr := freeAddress(t)
	cfg, err := env.OperatorConfig()
	if err != nil {
		t.Fatal(err)
	}
	stop, err := env.RunManager(cfg, controllers.Options{
		Signers: func(mgr ctrl.Manager) (*signer.Registry, error) {
			return signer.NewRegistry(signer.Entry{Type: signer.TypeCA, Signer: ca.New(mgr.GetAPIReader())})
		},
		ClusterResourceNamespace: operatorNamespace,
		Metrics:                  ctrlmetrics.Registry, // what the manager's endpoint serves
	}, metricsserver.Options{BindAddress: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })

	driveEveryKindOfDecision(t)

	families := scrape(t, addr)
	for _, d := range docs {
		f, ok := families[d.name]
		if !ok {
			t.Errorf("%s is documented but not served", d.name)
			continue
		}
		if got := strings.ToLower(f.GetType().String()); got != d.typ {
			t.Errorf("%s is a %s, documented as a %s", d.name, got, d.typ)
		}
		for _, m := range f.GetMetric() {
			var names []string
			for _, l := range m.GetLabel() {
				names = append(names, l.GetName())
				if allowed := valuesOf(values, d.name, l.GetName()); allowed != nil && !slices.Contains(allowed, l.GetValue()) {
					t.Errorf("%s has %s=%q, not among the documented %v", d.name, l.GetName(), l.GetValue(), allowed)
				}
			}
			if !sameSet(names, d.labels) {
				t.Errorf("%s has labels %v, documented %v", d.name, names, d.labels)
				break
			}
		}
	}
	for name := range families {
		if strings.HasPrefix(name, "signerpolicy_") && !slices.ContainsFunc(docs, func(d documented) bool { return d.name == name }) {
			t.Errorf("%s is served but not in docs/metrics.md", name)
		}
	}
	// The decisions the test drove, each labelled with the policy it is about.
	for _, want := range []map[string]string{
		{"result": "approve", "policy": "metrics-auto"},
		{"result": "deny", "policy": "metrics-auto"},
		{"result": "deny", "policy": "none"},
		{"result": "manual", "policy": "metrics-manual"},
	} {
		if !hasSample(families["signerpolicy_csr_decisions_total"], want) {
			t.Errorf("no signerpolicy_csr_decisions_total sample with %v", want)
		}
	}
	for _, want := range []map[string]string{
		{"result": "issued", "issuer_kind": "Issuer", "issuer_type": "CA", "reason": "CertificateIssued"},
		{"result": "failed", "issuer_kind": "Issuer", "reason": "PolicyViolation"},
	} {
		if !hasSample(families["signerpolicy_csr_signing_total"], want) {
			t.Errorf("no signerpolicy_csr_signing_total sample with %v", want)
		}
	}
	if !hasSample(families["signerpolicy_policies"], map[string]string{"ready": "True", "approval": "Manual"}) {
		t.Error("signerpolicy_policies counts no Ready Manual policy")
	}
}

// valuesOf is the documented closed set of a label's values for a metric, or nil when open.
func valuesOf(values map[string][]string, metric, label string) []string {
	if label == "result" || label == "reason" {
		if strings.Contains(metric, "decisions") {
			return values[label+" (decisions)"]
		}
		if strings.Contains(metric, "signing") {
			return values[label+" (signing)"]
		}
		return values[label+" (pending)"]
	}
	return values[label]
}

// driveEveryKindOfDecision: under an Automatic policy, one CSR approved and issued, one denied
// by the policy that names the requester, one denied naming no policy; under a Manual policy, one
// left to people that an admin approves and the signing gate then fails.
func driveEveryKindOfDecision(t *testing.T) {
	ns := env.Namespace(t)
	root := testpki.NewRootCA(t, testpki.ECDSA, "metrics CA")
	env.Create(t, root.Secret(ns, "ca"))
	env.Create(t, &cmapi.Issuer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ca"},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "ca"}}}})
	env.Create(t, root.Secret(ns, "manual"))
	env.Create(t, &cmapi.Issuer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "manual"},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "manual"}}}})
	alice, mallory := "alice-"+ns, "mallory-"+ns
	auto := &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: "metrics-auto"}, Spec: policyv1alpha1.SignerPolicySpec{
		IssuerRef:  &policyv1alpha1.IssuerReference{Kind: "Issuer", Namespace: ns, Name: "ca"},
		Requesters: policyv1alpha1.Subjects{Users: []string{alice}},
		Allowed:    policyv1alpha1.Allowed{DNSNames: []string{"*.example.com"}},
	}}
	manual := harness.ManualPolicy(policyv1alpha1.IssuerReference{Kind: "Issuer", Namespace: ns, Name: "manual"}, alice,
		policyv1alpha1.Allowed{DNSNames: []string{"*.example.com"}})
	manual.GenerateName, manual.Name = "", "metrics-manual"
	for _, p := range []*policyv1alpha1.SignerPolicy{auto, manual} {
		env.GovernWithPolicy(t, p)
		t.Cleanup(func() { _ = env.Admin.Delete(context.Background(), p) })
	}
	env.GrantCSRCreate(t, mallory)
	asAlice, asMallory := env.User(t, alice), env.User(t, mallory)
	csrFor := func(signerName, dnsName string) harness.CSR {
		return harness.CSR{SignerName: signerName, Request: testpki.RequestPEM(t, testpki.NewKey(t, testpki.ECDSA),
			&x509.CertificateRequest{DNSNames: []string{dnsName}})}
	}
	autoSigner, manualSigner := "issuers.cert-manager.io/"+ns+".ca", "issuers.cert-manager.io/"+ns+".manual"

	issued := env.SubmitCSR(t, asAlice, csrFor(autoSigner, "web.example.com"))
	denied := env.SubmitCSR(t, asAlice, csrFor(autoSigner, "web.example.org"))
	deniedNone := env.SubmitCSR(t, asMallory, csrFor(autoSigner, "web.example.com"))
	refused := env.SubmitCSR(t, asAlice, csrFor(manualSigner, "web.example.org"))
	env.WaitForCSR(t, issued.Name, time.Minute, harness.Issued)
	env.WaitForCSR(t, denied.Name, time.Minute, harness.HasCondition(certificatesv1.CertificateDenied))
	env.WaitForCSR(t, deniedNone.Name, time.Minute, harness.HasCondition(certificatesv1.CertificateDenied))
	env.WaitForEvent(t, refused, controllers.ReasonEvaluated)
	harness.ApproveEventually(t, 10*time.Second, env.Admin, refused.Name)
	env.WaitForCSR(t, refused.Name, time.Minute, harness.FailedWith(controllers.ReasonPolicyViolation))
}

func hasSample(f *dto.MetricFamily, want map[string]string) bool {
	if f == nil {
		return false
	}
	return slices.ContainsFunc(f.GetMetric(), func(m *dto.Metric) bool {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	})
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
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

// scrape reads /metrics over HTTP as Prometheus would, in its text format.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	var families map[string]*dto.MetricFamily
	harness.Eventually(t, 10*time.Second, func() error {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err = parser.TextToMetricFamilies(strings.NewReader(string(body)))
		return err
	})
	return families
}
