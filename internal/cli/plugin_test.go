//go:build !unit

package cli_test

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"sigs.k8s.io/yaml"

	"github.com/signerpolicy/signer-policy-operator/internal/cli"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

// request generates the key and CSR, submits it as the user, waits, and writes a certificate
// for that key with the requested lifetime and names, and the key with mode 0600.
func TestRequestWritesTheCertificateAndKey(t *testing.T) {
	tm := newTeam(t)
	kc := user(t, "dev-"+tm.ns, csrsOnly, tm.devGroup)
	reader := user(t, "reader-"+tm.ns, everything)
	for _, keyType := range []string{"ecdsa", "rsa"} {
		t.Run(keyType, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
			r := requestEventually(t, kc, "--signer", tm.signer, "--dns", "api."+tm.zone, "--key-type", keyType,
				"--duration", "24h", "--cert-file", certFile, "--key-file", keyFile)
			if r.code != 0 {
				t.Fatalf("request exited %d: %s", r.code, r.stderr)
			}
			wantContains(t, r.stdout, "was issued", certFile, keyFile)
			info, err := os.Stat(keyFile)
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Perm() != 0o600 {
				t.Errorf("key file mode %v, want 0600", info.Mode().Perm())
			}
			certPEM, err := os.ReadFile(certFile)
			if err != nil {
				t.Fatal(err)
			}
			keyPEM, err := os.ReadFile(keyFile)
			if err != nil {
				t.Fatal(err)
			}
			leaf := testpki.ParseChain(t, certPEM)[0]
			block, _ := pem.Decode(keyPEM)
			key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			signer, ok := key.(crypto.Signer)
			if !ok || !leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(signer.Public()) {
				t.Error("the certificate is not for the key written beside it")
			}
			if wantAlg := map[string]x509.PublicKeyAlgorithm{"ecdsa": x509.ECDSA, "rsa": x509.RSA}[keyType]; leaf.PublicKeyAlgorithm != wantAlg {
				t.Errorf("key algorithm %v, want %v", leaf.PublicKeyAlgorithm, wantAlg)
			}
			if got := leaf.NotAfter.Sub(leaf.NotBefore); got < 23*time.Hour || got > 25*time.Hour {
				t.Errorf("lifetime %s, want the 24h requested", got)
			}
			if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "api."+tm.zone {
				t.Errorf("DNS names %v, want api.%s", leaf.DNSNames, tm.zone)
			}

			// why on the issued CSR evaluates it as signing does, and has nothing to change.
			name, _, _ := strings.Cut(strings.TrimPrefix(r.stdout, "CSR "), " ")
			r = plugin(t, reader, "why", name)
			wantContains(t, r.stdout, "Issued: the certificate is in status.certificate",
				`at signing, approval modes set aside`, `signed under SignerPolicy "`+tm.automatic+`", for 24h0m0s`,
				"allows this request as it would be issued", "Nothing: the certificate is in status.certificate")
		})
	}
}

// A denied request prints the operator's reason, removes the useless key and fails.
func TestRequestPrintsTheDenial(t *testing.T) {
	tm := newTeam(t)
	kc := user(t, "dev-"+tm.ns, csrsOnly, tm.devGroup)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "tls.key")
	r := requestEventually(t, kc, "--signer", tm.signer, "--dns", "login.bank.example.org",
		"--cert-file", filepath.Join(dir, "tls.crt"), "--key-file", keyFile)
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	wantContains(t, r.stderr, "was denied (SignerPolicyDenied)", `spec.allowed.dnsNames: Invalid value: "login.bank.example.org"`, "kubectl signerpolicy why")
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Errorf("the key of a denied CSR is still there: %v", err)
	}
}

// why on a denied CSR gives the decision, the operator's events, each policy's verdict with its
// field errors and RBAC, and what to change.
func TestWhyExplainsADenial(t *testing.T) {
	tm := newTeam(t)
	dev := "dev-" + tm.ns
	kc := user(t, dev, everything, tm.devGroup)
	name := deniedCSR(t, tm, kc)
	env.WaitForEvent(t, &certificatesv1.CertificateSigningRequest{ObjectMeta: objectMeta(name)}, "SignerPolicyDenied")

	r := plugin(t, kc, "why", name)
	if r.code != 0 {
		t.Fatalf("why exited %d: %s", r.code, r.stderr)
	}
	wantContains(t, r.stdout,
		"CSR "+name, "signer:     "+tm.signer, `requester:  "`+dev+`" (groups `+tm.devGroup,
		"DNS names login.bank.example.org",
		"Denied (SignerPolicyDenied): denied: no SignerPolicy allows this request",
		"Warning SignerPolicyDenied: (the message of the Denied condition)",
		"denied: no SignerPolicy allows this request\n",
		tm.automatic+" (Automatic, Ready)",
		`spec.allowed.dnsNames: Invalid value: "login.bank.example.org": matches none of the allowed patterns`,
		"RBAC it generates:\n      Role "+tm.ns+"/signerpolicy:"+tm.automatic+":reference",
		"What to change:", "A denied CSR stays denied",
		`Under SignerPolicy "`+tm.automatic+`", which lists you: request only what it allows`,
	)
	if strings.Contains(r.stdout, tm.manual) {
		t.Errorf("why lists %s, which governs another signer", tm.manual)
	}
}

// Without the right to read events, why says so and explains from the rest; without the right
// to read policies either, it still shows what the CSR says.
func TestWhyDegradesWithoutEventsOrPolicies(t *testing.T) {
	tm := newTeam(t)
	kc := user(t, "dev-"+tm.ns, everything, tm.devGroup)
	name := deniedCSR(t, tm, kc)

	noEvents := user(t, "auditor-"+tm.ns, policiesNoEvents)
	r := plugin(t, noEvents, "why", name)
	if r.code != 0 {
		t.Fatalf("why exited %d: %s", r.code, r.stderr)
	}
	wantContains(t, r.stdout, "Events:\n  could not be read: ", "forbidden",
		`spec.allowed.dnsNames: Invalid value: "login.bank.example.org"`, "What to change:")

	// A requester reads their CSR through what the policy grants, and nothing else.
	requester := user(t, "dev2-"+tm.ns, csrsOnly, tm.devGroup)
	r = plugin(t, requester, "why", name)
	if r.code != 0 {
		t.Fatalf("why exited %d: %s", r.code, r.stderr)
	}
	wantContains(t, r.stdout, "Denied (SignerPolicyDenied)", "Events:\n  could not be read: ",
		"Policies: could not be read (listing SignerPolicies: ", "the conditions and events above are the operator's own account")
}

// why on a CSR a Manual policy allows says an approver decides, and names them.
func TestWhyOnAManualPendingCSR(t *testing.T) {
	tm := newTeam(t)
	kc := user(t, "dev-"+tm.ns, everything, tm.devGroup)
	c := env.SubmitCSR(t, env.User(t, "dev-"+tm.ns, tm.devGroup), harness.CSR{SignerName: tm.manualSigner,
		Request: testpki.RequestPEM(t, testpki.NewKey(t, testpki.ECDSA), &x509.CertificateRequest{DNSNames: []string{"web." + tm.zone}})})
	env.WaitForEvent(t, c, "SignerPolicyEvaluated")

	r := plugin(t, kc, "why", c.Name)
	if r.code != 0 {
		t.Fatalf("why exited %d: %s", r.code, r.stderr)
	}
	wantContains(t, r.stdout, "Pending: neither approved nor denied", "SignerPolicyEvaluated",
		`SignerPolicy "`+tm.manual+`" allows this request; its approval is manual, so an approver decides`,
		tm.manual+" (Manual, Ready)", "allows this request; its approval is manual",
		"ask one of its approvers (users "+tm.approver+") to run `kubectl certificate approve "+c.Name+"`")
}

// check runs the evaluator on a manifest before it is submitted, as the user or as the identity
// --as names, reading the cluster with the user's own credentials either way.
func TestCheckPredictsTheDecision(t *testing.T) {
	tm := newTeam(t)
	dev := "dev-" + tm.ns
	kc := user(t, dev, policiesNoEvents, tm.devGroup)
	good, bad := manifest(t, tm, "api."+tm.zone), manifest(t, tm, "login.bank.example.org")

	r := plugin(t, kc, "check", "-f", good)
	if r.code != 0 {
		t.Errorf("check of an allowed CSR exited %d", r.code)
	}
	wantContains(t, r.stdout, `requester:  "`+dev+`" (groups `+tm.devGroup+", system:authenticated)",
		`approved by SignerPolicy "`+tm.automatic+`"`, `Nothing: SignerPolicy "`+tm.automatic+`" approves it as it is.`)

	r = plugin(t, kc, "check", "-f", bad)
	if r.code != cli.ExitNotApproved {
		t.Errorf("check of a refused CSR exited %d, want %d", r.code, cli.ExitNotApproved)
	}
	wantContains(t, r.stdout, "denied: no SignerPolicy allows this request", `spec.allowed.dnsNames: Invalid value: "login.bank.example.org"`)

	// dev may not impersonate: --as only names who would submit the CSR.
	r = plugin(t, kc, "check", "-f", good, "--as", "someone-else", "--as-group", tm.devGroup)
	if r.code != 0 {
		t.Errorf("check --as a member of the group exited %d: %s", r.code, r.stderr)
	}
	wantContains(t, r.stdout, `requester:  "someone-else" (groups `+tm.devGroup+", system:authenticated)", `approved by SignerPolicy "`+tm.automatic+`"`)

	r = plugin(t, kc, "check", "-f", good, "--as", "stranger")
	if r.code != cli.ExitNotApproved {
		t.Errorf("check --as a stranger exited %d, want %d", r.code, cli.ExitNotApproved)
	}
	wantContains(t, r.stdout, `does not list "stranger" (groups system:authenticated) as a requester`,
		"No SignerPolicy governing "+tm.signer+` lists "stranger"`)

	r = plugin(t, kc, "check", "-f", manifestFor(t, "issuers.cert-manager.io/"+tm.ns+".nobody", "api."+tm.zone))
	if r.code != cli.ExitNotApproved {
		t.Errorf("check for an ungoverned signer exited %d, want %d", r.code, cli.ExitNotApproved)
	}
	wantContains(t, r.stdout, "no SignerPolicy governs this signer", "No SignerPolicy governs issuers.cert-manager.io/"+tm.ns+".nobody")
}

// policies lists the policies of a signer with their modes and bounds.
func TestPoliciesListsTheGoverningPolicies(t *testing.T) {
	tm := newTeam(t)
	kc := user(t, "dev-"+tm.ns, policiesNoEvents, tm.devGroup)

	r := plugin(t, kc, "policies", "--signer", tm.manualSigner)
	if r.code != 0 {
		t.Fatalf("policies exited %d: %s", r.code, r.stderr)
	}
	wantContains(t, r.stdout, "SignerPolicies governing "+tm.manualSigner, "\n"+tm.manual+"\n",
		"approval:    Manual", "approvers:   users "+tm.approver, "ready:       Ready",
		"governs:     Issuer "+tm.ns+"/ca-manual", "requesters:  groups "+tm.devGroup, "duration:    min 10m0s, default 720h0m0s, max 720h0m0s",
		"allowed:     dnsNames *."+tm.zone+" (required)", "private key: RSA >= 2048, ECDSA >= 256 or Ed25519 (the default)",
		"RBAC:        ")
	if strings.Contains(r.stdout, tm.automatic) {
		t.Errorf("policies lists %s, which governs another signer", tm.automatic)
	}

	r = plugin(t, kc, "policies", "--signer", "issuers.cert-manager.io/"+tm.ns+".nobody")
	wantContains(t, r.stdout, "No SignerPolicy governs issuers.cert-manager.io/"+tm.ns+".nobody")

	r = plugin(t, kc, "policies", "--signer", "example.com/not-cert-manager")
	if r.code != 1 {
		t.Errorf("policies for a signer no policy can govern exited %d, want 1", r.code)
	}
}

// deniedCSR has the user submit a CSR for a name the Automatic policy refuses, and waits for the
// denial.
func deniedCSR(t *testing.T, tm *team, kubeconfig string) string {
	t.Helper()
	r := requestEventually(t, kubeconfig, "--signer", tm.signer, "--dns", "login.bank.example.org",
		"--cert-file", filepath.Join(t.TempDir(), "tls.crt"), "--key-file", filepath.Join(t.TempDir(), "tls.key"))
	name, _, ok := strings.Cut(strings.TrimPrefix(r.stdout, "CSR "), " ")
	if !ok || !strings.Contains(r.stderr, "was denied") {
		t.Fatalf("no denied CSR: %s%s", r.stdout, r.stderr)
	}
	t.Cleanup(func() {
		_ = env.Admin.Delete(t.Context(), &certificatesv1.CertificateSigningRequest{ObjectMeta: objectMeta(name)})
	})
	return name
}

// manifest writes a CSR manifest for the team's Automatic signer asking for dnsName.
func manifest(t *testing.T, tm *team, dnsName string) string {
	return manifestFor(t, tm.signer, dnsName)
}

func manifestFor(t *testing.T, signer, dnsName string) string {
	t.Helper()
	c := certificatesv1.CertificateSigningRequest{
		Spec: certificatesv1.CertificateSigningRequestSpec{
			SignerName: signer,
			Request:    testpki.RequestPEM(t, testpki.NewKey(t, testpki.ECDSA), &x509.CertificateRequest{DNSNames: []string{dnsName}}),
			Usages:     []certificatesv1.KeyUsage{"digital signature", "key encipherment", "server auth"},
		},
	}
	c.APIVersion, c.Kind = "certificates.k8s.io/v1", "CertificateSigningRequest"
	c.Name = "to-check"
	data, err := yaml.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "csr.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
