// Package cli is the kubectl plugin `kubectl signerpolicy`: why a CSR was decided as it was,
// whether a CSR would be approved before it is submitted, requesting a certificate, and which
// policies govern a signer.
//
// It decides nothing of its own: it reads what the user's own credentials let it read and runs the
// operator's evaluator (internal/policy) on it, building the evaluator's request from a CSR with
// the very function the approval controller uses, so what it predicts is what the operator does.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// ExitError ends the plugin with Code after Message (if any) is printed; `check` uses it to say
// "not approved" to scripts without calling it a failure of the plugin.
type ExitError struct {
	Code    int
	Message string
}

func (e *ExitError) Error() string { return e.Message }

// Main runs the plugin with args (without the program name) and returns its exit status: 0, 1
// for an error, or what an ExitError says.
func Main(ctx context.Context, args []string, streams genericiooptions.IOStreams) int {
	cmd := NewCommand(streams)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var exit *ExitError
	if errors.As(err, &exit) {
		if exit.Message != "" {
			out(streams.ErrOut, "%s\n", exit.Message)
		}
		return exit.Code
	}
	out(streams.ErrOut, "error: %v\n", err)
	return 1
}

// NewCommand is `kubectl signerpolicy` with its subcommands. Every command talks to the cluster
// with the user's own kubeconfig, context and impersonation flags, as kubectl does.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	flags := genericclioptions.NewConfigFlags(true)
	root := &cobra.Command{
		Use:   "kubectl-signerpolicy",
		Short: "Explain, check and request certificates under SignerPolicies",
		Long: "kubectl signerpolicy explains how signer-policy-operator decided a CertificateSigningRequest,\n" +
			"checks whether a CSR would be approved before it is submitted, requests a certificate, and\n" +
			"lists the SignerPolicies that govern a signer. It reads the cluster with your own credentials.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl signerpolicy"},
	}
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.SetIn(streams.In)
	flags.AddFlags(root.PersistentFlags())
	root.AddCommand(
		newWhyCommand(flags, streams.Out),
		newCheckCommand(flags, streams),
		newRequestCommand(flags, streams.Out),
		newPoliciesCommand(flags, streams.Out),
	)
	return root
}

// newScheme knows the kinds the plugin reads: the built-in ones and SignerPolicy.
func newScheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := policyv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return scheme, nil
}

// clientFor is a client that reads straight from the API server with cfg.
func clientFor(cfg *rest.Config) (client.Client, error) {
	scheme, err := newScheme()
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: scheme})
}

// newClient is a client with the credentials the flags select, impersonation included.
func newClient(flags *genericclioptions.ConfigFlags) (client.Client, error) {
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	return clientFor(cfg)
}

// out writes formatted text; the plugin's output goes to a terminal or a buffer, where a write
// error has nowhere to be reported.
func out(w io.Writer, format string, args ...any) {
	_, _ = fmt.Fprintf(w, format, args...)
}
