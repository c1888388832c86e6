package cli

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"time"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
	"github.com/spf13/cobra"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/signerpolicy/signer-policy-operator/internal/csr"
)

// requestOptions are what `request` asks for and where it writes the result.
type requestOptions struct {
	signer            string
	name              string
	commonName        string
	dnsNames, ips     []string
	uris, emails      []string
	usages            []string
	keyType           string
	duration, timeout time.Duration
	certFile, keyFile string
	overwrite         bool
}

func newRequestCommand(flags *genericclioptions.ConfigFlags, w io.Writer) *cobra.Command {
	o := requestOptions{}
	cmd := &cobra.Command{
		Use:   "request --signer SIGNER --dns NAME [--key-type ecdsa|rsa] [--duration 24h]",
		Short: "Generate a key and CSR, submit it, wait for the certificate, and write the certificate and key files",
		Long: "request generates a private key (ECDSA P-256, or RSA 2048 with --key-type rsa) and a PKCS#10\n" +
			"request for the names given, submits it as a CertificateSigningRequest with your credentials,\n" +
			"waits for the certificate, and writes it and the key (mode 0600). A denial or failure is\n" +
			"printed with its reason and the key is removed; on a timeout the key is kept, and\n" +
			"`kubectl signerpolicy why` tells what the CSR waits for.",
		Example: "  kubectl signerpolicy request --signer issuers.cert-manager.io/team-a.team-a-ca --dns api.team-a.example.com --duration 720h",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(flags)
			if err != nil {
				return err
			}
			return request(cmd.Context(), c, &o, w)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.signer, "signer", "", "the signer name, such as issuers.cert-manager.io/<namespace>.<name>")
	f.StringVar(&o.name, "name", "", "the CSR's name (default: generated from your username)")
	f.StringVar(&o.commonName, "cn", "", "the subject common name (default: none, the names go in the SANs)")
	f.StringSliceVar(&o.dnsNames, "dns", nil, "DNS names, comma separated or repeated")
	f.StringSliceVar(&o.ips, "ip", nil, "IP addresses")
	f.StringSliceVar(&o.uris, "uri", nil, "URIs")
	f.StringSliceVar(&o.emails, "email", nil, "email addresses")
	f.StringSliceVar(&o.usages, "usages", []string{"digital signature", "key encipherment", "server auth"}, "key usages, as spec.usages spells them")
	f.StringVar(&o.keyType, "key-type", "ecdsa", "the key to generate: ecdsa (P-256) or rsa (2048 bits)")
	f.DurationVar(&o.duration, "duration", 0, "the lifetime to request, as spec.expirationSeconds (default: the policy's default)")
	f.DurationVar(&o.timeout, "timeout", 2*time.Minute, "how long to wait for the certificate")
	f.StringVar(&o.certFile, "cert-file", "tls.crt", "where to write the certificate chain")
	f.StringVar(&o.keyFile, "key-file", "tls.key", "where to write the private key (mode 0600)")
	f.BoolVar(&o.overwrite, "overwrite", false, "replace existing certificate and key files")
	_ = cmd.MarkFlagRequired("signer")
	return cmd
}

func request(ctx context.Context, c client.Client, o *requestOptions, w io.Writer) error {
	if !o.overwrite {
		for _, f := range []string{o.certFile, o.keyFile} {
			if _, err := os.Stat(f); err == nil {
				return fmt.Errorf("%s exists; remove it or pass --overwrite", f)
			}
		}
	}
	key, err := generateKey(o.keyType)
	if err != nil {
		return err
	}
	obj, err := newCSR(o, key)
	if err != nil {
		return err
	}
	if err := c.Create(ctx, obj); err != nil {
		return fmt.Errorf("submitting the CSR: %w", err)
	}
	// The key is written before waiting, so that a certificate issued after a timeout is still of use.
	keyPEM, err := pki.EncodePKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeFile(o.keyFile, keyPEM, 0o600, o.overwrite); err != nil {
		return err
	}
	out(w, "CSR %s submitted for %s; the key is in %s. Waiting up to %s for the certificate.\n", obj.Name, o.signer, o.keyFile, o.timeout)
	done, err := waitForCSR(ctx, c, obj.Name, o.timeout)
	if err != nil {
		return fmt.Errorf("CSR %s: %w; the key stays in %s, and `kubectl signerpolicy why %s` says what the CSR waits for", obj.Name, err, o.keyFile, obj.Name)
	}
	if cond := refusal(done); cond != nil {
		_ = os.Remove(o.keyFile)
		return fmt.Errorf("CSR %s was %s (%s): %s\n`kubectl signerpolicy why %s` says what to change", obj.Name, refusalVerb(cond.Type), cond.Reason, cond.Message, obj.Name)
	}
	if err := writeFile(o.certFile, done.Status.Certificate, 0o644, o.overwrite); err != nil {
		return err
	}
	out(w, "CSR %s was issued: the certificate is in %s, the key in %s.\n", obj.Name, o.certFile, o.keyFile)
	return nil
}

// generateKey makes the requester's key with cert-manager's generators, as cert-manager does
// for a Certificate of that algorithm.
func generateKey(keyType string) (crypto.Signer, error) {
	switch keyType {
	case "ecdsa":
		return pki.GenerateECPrivateKey(pki.ECCurve256)
	case "rsa":
		return pki.GenerateRSAPrivateKey(pki.MinRSAKeySize)
	}
	return nil, fmt.Errorf("--key-type %q: must be ecdsa or rsa", keyType)
}

// newCSR is the CertificateSigningRequest for the options, signed by key.
func newCSR(o *requestOptions, key crypto.Signer) (*certificatesv1.CertificateSigningRequest, error) {
	if _, err := csr.ParseSignerName(o.signer); err != nil {
		return nil, fmt.Errorf("--signer: %w", err)
	}
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: o.commonName}, DNSNames: o.dnsNames, EmailAddresses: o.emails}
	ips, err := pki.IPAddressesFromStrings(o.ips)
	if err != nil {
		return nil, fmt.Errorf("--ip: %w", err)
	}
	tmpl.IPAddresses = ips
	for _, u := range o.uris {
		parsed, err := url.Parse(u)
		if err != nil {
			return nil, fmt.Errorf("--uri: %w", err)
		}
		tmpl.URIs = append(tmpl.URIs, parsed)
	}
	if o.commonName == "" && len(o.dnsNames)+len(o.ips)+len(o.uris)+len(o.emails) == 0 {
		return nil, errors.New("name something to certify: --dns, --ip, --uri, --email or --cn")
	}
	der, err := pki.EncodeCSR(tmpl, key)
	if err != nil {
		return nil, err
	}
	obj := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: o.name},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			SignerName: o.signer,
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
		},
	}
	if o.name == "" {
		obj.GenerateName = "signerpolicy-"
	}
	for _, u := range o.usages {
		obj.Spec.Usages = append(obj.Spec.Usages, certificatesv1.KeyUsage(u))
	}
	if o.duration > 0 {
		seconds := int32(o.duration / time.Second)
		obj.Spec.ExpirationSeconds = &seconds
	}
	return obj, nil
}

// waitForCSR polls the CSR until it has its certificate or is Denied or Failed.
func waitForCSR(ctx context.Context, c client.Reader, name string, timeout time.Duration) (*certificatesv1.CertificateSigningRequest, error) {
	var obj certificatesv1.CertificateSigningRequest
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKey{Name: name}, &obj); err != nil {
			return false, err
		}
		return csr.IsIssued(&obj) || refusal(&obj) != nil, nil
	})
	if err != nil {
		if wait.Interrupted(err) {
			return nil, fmt.Errorf("no certificate after %s (%s)", timeout, describeStatus(&obj)[0])
		}
		return nil, err
	}
	return &obj, nil
}

// refusal is the Denied or Failed condition that ends a CSR without a certificate.
func refusal(c *certificatesv1.CertificateSigningRequest) *certificatesv1.CertificateSigningRequestCondition {
	if d := csr.Condition(c, certificatesv1.CertificateDenied); d != nil {
		return d
	}
	return csr.Condition(c, certificatesv1.CertificateFailed)
}

func refusalVerb(t certificatesv1.RequestConditionType) string {
	if t == certificatesv1.CertificateDenied {
		return "denied"
	}
	return "not signed"
}

// writeFile writes data with mode perm, never widening an existing file's mode and never
// replacing one unless overwrite.
func writeFile(path string, data []byte, perm fs.FileMode, overwrite bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if overwrite {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, perm)
	if err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
