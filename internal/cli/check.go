package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/spf13/cobra"
	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/signerpolicy/signer-policy-operator/internal/policy"
)

// ExitNotApproved is check's exit status for a CSR the operator would not approve on its own:
// denied, left to approvers, waiting for a policy, or not governed.
const ExitNotApproved = 2

// groupAuthenticated is the group the API server gives every authenticated user, impersonated
// ones included, and so records on every CSR they create.
const groupAuthenticated = "system:authenticated"

func newCheckCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "check -f csr.yaml [--as user [--as-group group]...]",
		Short: "Say whether a CSR would be approved, and by which policy, before it is submitted",
		Long: "check runs the operator's evaluator on a CertificateSigningRequest manifest against the cluster's\n" +
			"SignerPolicies, as the operator would decide it at approval if you submitted it now.\n\n" +
			"The requester is you, as the API server authenticates you (a SelfSubjectReview), or the user\n" +
			"--as names with the groups --as-group names (and system:authenticated, which the API server\n" +
			"adds). Here --as and --as-group only say who would submit the CSR: the policies and namespaces\n" +
			"are still read with your own credentials, never impersonated.\n\n" +
			"Exit status: 0 when an Automatic policy would approve it, 2 when not (denied, left to\n" +
			"approvers, waiting for a policy, or not governed), 1 on error.",
		Example: "  kubectl signerpolicy check -f csr.yaml\n  kubectl signerpolicy check -f csr.yaml --as dana --as-group team-a:developers",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			obj, err := readCSR(file, streams.In)
			if err != nil {
				return err
			}
			requester, impersonated := requesterFromFlags(flags)
			if !impersonated && len(*flags.ImpersonateGroup) > 0 {
				return errors.New("--as-group needs --as")
			}
			cfg, err := flags.ToRESTConfig()
			if err != nil {
				return err
			}
			// --as names the hypothetical requester, not who reads the cluster.
			cfg = rest.CopyConfig(cfg)
			cfg.Impersonate = rest.ImpersonationConfig{}
			c, err := clientFor(cfg)
			if err != nil {
				return err
			}
			if !impersonated {
				if requester, err = whoAmI(cmd.Context(), c); err != nil {
					return err
				}
			}
			return check(cmd.Context(), c, obj, requester, file, streams.Out)
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "the CertificateSigningRequest manifest to check, YAML or JSON (- reads standard input)")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

// requesterFromFlags is the identity --as and --as-group name, with the group the API server
// adds to every authenticated user.
func requesterFromFlags(flags *genericclioptions.ConfigFlags) (policy.Requester, bool) {
	if flags.Impersonate == nil || *flags.Impersonate == "" {
		return policy.Requester{}, false
	}
	groups := slices.Clone(*flags.ImpersonateGroup)
	if !slices.Contains(groups, groupAuthenticated) {
		groups = append(groups, groupAuthenticated)
	}
	return policy.Requester{Username: *flags.Impersonate, Groups: groups}, true
}

// readCSR decodes a CertificateSigningRequest manifest from a file or standard input.
func readCSR(file string, stdin io.Reader) (*certificatesv1.CertificateSigningRequest, error) {
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, err
	}
	var obj certificatesv1.CertificateSigningRequest
	if err := yaml.UnmarshalStrict(data, &obj); err != nil {
		return nil, fmt.Errorf("%s is not a CertificateSigningRequest manifest: %w", file, err)
	}
	if obj.Kind != "CertificateSigningRequest" || obj.APIVersion != certificatesv1.SchemeGroupVersion.String() {
		return nil, fmt.Errorf("%s holds %s %s, not a %s CertificateSigningRequest", file, obj.APIVersion, obj.Kind, certificatesv1.SchemeGroupVersion)
	}
	return &obj, nil
}

// check evaluates the CSR as if requester submitted it now.
func check(ctx context.Context, c client.Reader, obj *certificatesv1.CertificateSigningRequest, requester policy.Requester, file string, w io.Writer) error {
	// The API server records the requester on the CSR whatever the manifest says.
	obj.Spec.Username, obj.Spec.UID, obj.Spec.Groups = requester.Username, requester.UID, requester.Groups
	obj.Spec.Extra = nil
	for k, v := range requester.Extra {
		if obj.Spec.Extra == nil {
			obj.Spec.Extra = map[string]certificatesv1.ExtraValue{}
		}
		obj.Spec.Extra[k] = v
	}
	req := policy.RequestForCSR(obj)
	policies, notes, err := listAllPolicies(ctx, c, req.SignerName)
	if err != nil {
		return fmt.Errorf("%w: check needs to read the policies (ask for get and list on signerpolicies.policy.signerpolicy.dev)", err)
	}
	notes = append(notes, readNamespaceLabels(ctx, c, &req)...)
	ev, err := policy.NewEvaluator()
	if err != nil {
		return err
	}
	e := evaluate(ev, policies, req, atApproval)
	out(w, "CSR in %s, as if submitted now\n", file)
	printRequest(w, &req)
	printEvaluation(w, &e, &req, notes, "Decision")
	printHints(w, hints(csrState{}, &e, &req))
	if e.decision.Result != policy.Approve {
		return &ExitError{Code: ExitNotApproved}
	}
	return nil
}
