package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
)

func newWhyCommand(flags *genericclioptions.ConfigFlags, w io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "why CSR",
		Short: "Explain how the operator decided a CSR, each policy's verdict, and what to change",
		Long: "why reads the CSR, its conditions and events, and the SignerPolicies governing its signer with\n" +
			"their generated RBAC, runs the operator's evaluator again, and prints each policy's verdict with\n" +
			"its field errors and what to change. What your credentials cannot read is named, not guessed.",
		Example: "  kubectl signerpolicy why dana-pz6jc",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(flags)
			if err != nil {
				return err
			}
			return why(cmd.Context(), c, args[0], w)
		},
	}
}

// why explains one CSR. Only the CSR itself must be readable: without events or policies it
// says what it could not read and explains with the rest.
func why(ctx context.Context, c client.Client, name string, w io.Writer) error {
	var obj certificatesv1.CertificateSigningRequest
	if err := c.Get(ctx, client.ObjectKey{Name: name}, &obj); err != nil {
		return fmt.Errorf("reading CSR %s: %w", name, err)
	}
	req := policy.RequestForCSR(&obj)
	out(w, "CSR %s\n", obj.Name)
	printRequest(w, &req)
	label := "status:"
	for _, status := range describeStatus(&obj) {
		// A condition's message lists one error per line: each keeps the column.
		for _, line := range strings.Split(status, "\n") {
			out(w, "  %-11s %s\n", label, line)
			label = ""
		}
	}
	printEvents(ctx, c, w, &obj)

	policies, notes, err := listAllPolicies(ctx, c, req.SignerName)
	if err != nil {
		out(w, "\nPolicies: could not be read (%v),\n  so no verdict is recomputed here; the conditions and events above are the operator's own account.\n", err)
		return nil
	}
	notes = append(notes, readNamespaceLabels(ctx, c, &req)...)
	ev, err := policy.NewEvaluator()
	if err != nil {
		return err
	}
	s := atApproval
	if csr.IsApproved(&obj) {
		s = atSigning
	}
	e := evaluate(ev, policies, req, s)
	printEvaluation(w, &e, &req, notes, "Decision now")
	printHints(w, hints(stateOf(&obj), &e, &req))
	return nil
}

// printEvents writes the events about the CSR; one that repeats a condition's message says so
// rather than repeat it.
func printEvents(ctx context.Context, c client.Reader, w io.Writer, obj *certificatesv1.CertificateSigningRequest) {
	out(w, "\nEvents:\n")
	events, err := csrEvents(ctx, c, obj.Name)
	switch {
	case err != nil:
		out(w, "  could not be read: %v\n", err)
	case len(events) == 0:
		out(w, "  none (the API server keeps events for an hour)\n")
	}
	for _, e := range events {
		count := ""
		if e.Count > 1 {
			count = fmt.Sprintf(" (x%d)", e.Count)
		}
		msg := e.Message
		for _, cond := range obj.Status.Conditions {
			if cond.Message != "" && (msg == cond.Message || strings.HasSuffix(msg, "...") && strings.HasPrefix(cond.Message, strings.TrimSuffix(msg, "..."))) {
				msg = fmt.Sprintf("(the message of the %s condition)", cond.Type)
				break
			}
		}
		out(w, "  %s %s%s: %s\n", e.Type, e.Reason, count, msg)
	}
}

// printEvaluation writes the decision the evaluator reaches and each governing policy's verdict.
func printEvaluation(w io.Writer, e *evaluation, req *policy.Request, notes []string, label string) {
	when := "at approval"
	if e.stage == atSigning {
		when = "at signing, approval modes set aside"
	}
	out(w, "\n%s (%s, the operator's evaluator on what you can read):\n  %s\n", label, when, headline(e))
	if len(e.governing) > 0 {
		out(w, "\nSignerPolicies governing %s:\n", req.SignerName)
		printVerdicts(w, e, req)
	}
	for _, n := range notes {
		out(w, "\nNote: %s.\n", n)
	}
}

func printHints(w io.Writer, hints []string) {
	out(w, "\nWhat to change:\n")
	for _, h := range hints {
		out(w, "  - %s\n", h)
	}
}
