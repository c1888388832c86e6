package cli

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"fmt"
	"io"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
)

// printRequest writes who asks a signer for what; req is the evaluator's view of the CSR.
func printRequest(w io.Writer, req *policy.Request) {
	out(w, "  signer:     %s\n", req.SignerName)
	out(w, "  requester:  %s\n", describeRequester(req.Requester))
	out(w, "  requests:   %s\n", describeRequest(req))
}

// describeRequest summarises what a CSR asks for: its names, usages, key, lifetime and CA flag.
func describeRequest(req *policy.Request) string {
	if req.CSR == nil {
		return "nothing readable: " + req.Problems.ToAggregate().Error()
	}
	var parts []string
	c := req.CSR
	if s := c.Subject.String(); s != "" {
		parts = append(parts, "subject "+s)
	}
	add := func(label string, values []string) {
		if len(values) > 0 {
			parts = append(parts, label+" "+strings.Join(values, ", "))
		}
	}
	add("DNS names", c.DNSNames)
	ips := make([]string, len(c.IPAddresses))
	for i, ip := range c.IPAddresses {
		ips[i] = ip.String()
	}
	add("IP addresses", ips)
	uris := make([]string, len(c.URIs))
	for i, u := range c.URIs {
		uris[i] = u.String()
	}
	add("URIs", uris)
	add("email addresses", c.EmailAddresses)
	usages := make([]string, len(req.Usages))
	for i, u := range req.Usages {
		usages[i] = string(u)
	}
	add("usages", usages)
	parts = append(parts, describeKey(c.PublicKey))
	if req.Duration > 0 {
		parts = append(parts, "lifetime "+req.Duration.String())
	} else {
		parts = append(parts, "no lifetime (the policy's default)")
	}
	if req.IsCA {
		parts = append(parts, "a CA certificate")
	}
	return strings.Join(parts, "; ")
}

func describeKey(pub any) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d key", k.N.BitLen())
	case *ecdsa.PublicKey:
		return fmt.Sprintf("ECDSA %s key", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return "Ed25519 key"
	}
	return fmt.Sprintf("%T key", pub)
}

// describeStatus is a CSR's conditions, led by "Pending" while nothing is decided; and "Issued"
// once it has its certificate.
func describeStatus(c *certificatesv1.CertificateSigningRequest) []string {
	var lines []string
	for _, cond := range c.Status.Conditions {
		line := string(cond.Type)
		if cond.Reason != "" {
			line += " (" + cond.Reason + ")"
		}
		if cond.Message != "" {
			line += ": " + cond.Message
		}
		lines = append(lines, line)
	}
	if len(c.Status.Certificate) > 0 {
		lines = append(lines, "Issued: the certificate is in status.certificate")
	}
	if csr.IsPending(c) && len(c.Status.Certificate) == 0 {
		// Waiting, if present, says why: it is the operator's note, not a decision.
		lines = append([]string{"Pending: neither approved nor denied"}, lines...)
	}
	return lines
}

// headline is the decision in one line, without each policy's errors, which follow it.
func headline(e *evaluation) string {
	d := e.decision
	if e.stage == atSigning {
		switch d.Result {
		case policy.Approve:
			return fmt.Sprintf("signed under %s, for %s", policy.Describe(d.Policy), d.Lifetime.Round(time.Second))
		case policy.Deny:
			return "not signed: no SignerPolicy allows this request as it would be issued (Failed PolicyViolation)"
		case policy.NotGoverned:
			return "not signed: no SignerPolicy governs this signer, and signing fails closed"
		}
	}
	short := d
	short.Violations = nil
	return short.Message()
}
