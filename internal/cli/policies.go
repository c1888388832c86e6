package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
)

func newPoliciesCommand(flags *genericclioptions.ConfigFlags, w io.Writer) *cobra.Command {
	var signer string
	cmd := &cobra.Command{
		Use:     "policies --signer SIGNER",
		Short:   "List the SignerPolicies that govern a signer, with their modes and bounds",
		Example: "  kubectl signerpolicy policies --signer issuers.cert-manager.io/team-a.team-a-ca",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(flags)
			if err != nil {
				return err
			}
			return policies(cmd.Context(), c, signer, w)
		},
	}
	cmd.Flags().StringVar(&signer, "signer", "", "the signer name, such as issuers.cert-manager.io/<namespace>.<name> or clusterissuers.cert-manager.io/<name>")
	_ = cmd.MarkFlagRequired("signer")
	return cmd
}

// policies lists the policies governing signer as the evaluator finds them: by issuerRef, and by
// issuers selections against the labels of the Issuer's namespace.
func policies(ctx context.Context, c client.Reader, signer string, w io.Writer) error {
	if _, err := csr.ParseSignerName(signer); err != nil {
		return fmt.Errorf("%q names no cert-manager issuer, so no SignerPolicy can govern it: %w", signer, err)
	}
	all, err := listPolicies(ctx, c)
	if err != nil {
		return err
	}
	req := policy.Request{SignerName: signer}
	notes := readNamespaceLabels(ctx, c, &req)
	governing := policy.Governing(all, signer, req.IssuerNamespaceLabels)
	if len(governing) == 0 {
		out(w, "No SignerPolicy governs %s: the operator neither approves nor signs its CSRs.\n", signer)
	} else {
		out(w, "SignerPolicies governing %s (a CSR is approved when a Ready Automatic one allows it, and signed only as a Ready one listing its requester allows it):\n", signer)
	}
	for _, p := range governing {
		out(w, "\n")
		printPolicy(w, p)
	}
	for _, n := range notes {
		out(w, "\nNote: %s.\n", n)
	}
	return nil
}

// printPolicy writes a policy's mode, readiness, requesters and bounds.
func printPolicy(w io.Writer, p *policyv1alpha1.SignerPolicy) {
	s := &p.Spec
	row := func(label, value string) { out(w, "  %-12s %s\n", label+":", value) }
	out(w, "%s\n", p.Name)
	row("approval", modeOf(p))
	if policy.IsManual(p) {
		row("approvers", describeSubjects(s.Approval.Approvers))
	}
	row("ready", readinessOf(p))
	row("governs", describeGoverns(s))
	row("requesters", describeSubjects(&s.Requesters))
	row("duration", describeDuration(s.Duration))
	row("usages", describeUsages(s.Usages))
	if s.AllowCA {
		row("CA", "allowed")
	} else {
		row("CA", "not allowed")
	}
	for i, line := range describeAllowed(&s.Allowed) {
		label := "allowed"
		if i > 0 {
			label = ""
			out(w, "  %-12s %s\n", label, line)
			continue
		}
		row(label, line)
	}
	row("private key", describePrivateKey(s.PrivateKey))
	for i, v := range s.Validations {
		label := ""
		if i == 0 {
			label = "rules:"
		}
		msg := v.Message
		if msg == "" {
			msg = v.Rule
		}
		out(w, "  %-12s %s\n", label, msg)
	}
	if len(p.Status.RBAC) > 0 {
		row("RBAC", describeRBAC(p.Status.RBAC))
	}
}

func describeGoverns(s *policyv1alpha1.SignerPolicySpec) string {
	if r := s.IssuerRef; r != nil {
		if r.Namespace != "" {
			return fmt.Sprintf("%s %s/%s", r.Kind, r.Namespace, r.Name)
		}
		return fmt.Sprintf("%s %s", r.Kind, r.Name)
	}
	sel := s.Issuers
	if sel == nil {
		return "nothing"
	}
	text := fmt.Sprintf("%ss named %s", sel.Kind, strings.Join(sel.Names, ", "))
	if len(sel.Namespaces) > 0 {
		text += " in namespaces " + strings.Join(sel.Namespaces, ", ")
	}
	if sel.NamespaceSelector != nil {
		text += " in namespaces labelled " + metav1.FormatLabelSelector(sel.NamespaceSelector)
	}
	return text
}

// describeDuration is the lifetimes a policy allows, with the defaults the evaluator applies to
// what it leaves out: 10m at least, and 90 days by default or max when shorter.
func describeDuration(d *policyv1alpha1.DurationBounds) string {
	const minimum, ninetyDays = 10 * time.Minute, 90 * 24 * time.Hour
	if d == nil {
		d = &policyv1alpha1.DurationBounds{}
	}
	lowest, def, highest := minimum, ninetyDays, "none"
	if d.Min != nil {
		lowest = d.Min.Duration
	}
	if d.Max != nil {
		highest = d.Max.Duration.String()
		def = min(def, d.Max.Duration)
	}
	if d.Default != nil {
		def = d.Default.Duration
	}
	return fmt.Sprintf("min %s, default %s, max %s", lowest, def, highest)
}

func describeUsages(usages []policyv1alpha1.KeyUsage) string {
	if len(usages) == 0 {
		return "digital signature, key encipherment, server auth, client auth (the default)"
	}
	names := make([]string, len(usages))
	for i, u := range usages {
		names[i] = string(u)
	}
	return strings.Join(names, ", ")
}

// describeAllowed is one line per attribute the policy allows, each marked when required.
func describeAllowed(a *policyv1alpha1.Allowed) []string {
	attributes := []struct {
		name     string
		patterns []string
	}{
		{"commonName", a.CommonName}, {"dnsNames", a.DNSNames}, {"ipAddresses", a.IPAddresses}, {"uris", a.URIs},
		{"emailAddresses", a.EmailAddresses}, {"organizations", a.Organizations}, {"organizationalUnits", a.OrganizationalUnits},
		{"countries", a.Countries}, {"provinces", a.Provinces}, {"localities", a.Localities},
		{"streetAddresses", a.StreetAddresses}, {"postalCodes", a.PostalCodes}, {"serialNumbers", a.SerialNumbers},
	}
	var lines []string
	for _, attr := range attributes {
		if len(attr.patterns) == 0 {
			continue
		}
		line := attr.name + " " + strings.Join(attr.patterns, ", ")
		for _, r := range a.Required {
			if string(r) == attr.name {
				line += " (required)"
			}
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		return []string{"no subject or SAN attribute"}
	}
	return lines
}

func describePrivateKey(k *policyv1alpha1.PrivateKeyPolicy) string {
	if k == nil || (k.RSA == nil && k.ECDSA == nil && k.Ed25519 == nil) {
		return "RSA >= 2048, ECDSA >= 256 or Ed25519 (the default)"
	}
	var parts []string
	if k.RSA != nil {
		parts = append(parts, fmt.Sprintf("RSA >= %d", orDefault(k.RSA.MinSize, 2048)))
	}
	if k.ECDSA != nil {
		parts = append(parts, fmt.Sprintf("ECDSA >= %d", orDefault(k.ECDSA.MinSize, 256)))
	}
	if k.Ed25519 != nil {
		parts = append(parts, "Ed25519")
	}
	return strings.Join(parts, ", ")
}

func orDefault(v, def int32) int32 {
	if v == 0 {
		return def
	}
	return v
}
