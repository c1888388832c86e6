package policy

import (
	"errors"
	"slices"
	"strings"

	"github.com/signerpolicy/signer-policy-operator/internal/csr"
)

// signerWildcardPath is the path of a signer name pattern that stands for every signer of its
// domain: example.com/* is how RBAC's approve on signers names them all, and how a policy's
// spec.signerNames does too.
const signerWildcardPath = "/*"

// IsCertManagerSigner reports whether a signer name is in one of cert-manager's issuer domains,
// well formed or not: such names are governed through issuerRef and issuers only, never by
// spec.signerNames, whatever a policy that bypassed validation says.
func IsCertManagerSigner(signerName string) bool {
	_, err := csr.ParseSignerName(signerName)
	return !errors.Is(err, csr.ErrNotCertManager)
}

// SignerNameMatches reports whether a spec.signerNames entry covers a CSR's signer name: an exact
// name only itself, domain/* every signer name of that domain with a path, as the API server's
// approval check reads the same wildcard. A cert-manager signer name matches nothing.
func SignerNameMatches(pattern, signerName string) bool {
	if IsCertManagerSigner(signerName) {
		return false
	}
	if domain, ok := strings.CutSuffix(pattern, signerWildcardPath); ok {
		d, path, found := strings.Cut(signerName, "/")
		return found && path != "" && d == domain
	}
	return pattern == signerName
}

// SignerNameKeys are the spec.signerNames entries that could cover signerName: itself and its
// domain's wildcard. Callers look policies up by them in an index of spec.signerNames.
func SignerNameKeys(signerName string) []string {
	keys := []string{signerName}
	if domain, _, found := strings.Cut(signerName, "/"); found {
		if wildcard := domain + signerWildcardPath; wildcard != signerName {
			keys = append(keys, wildcard)
		}
	}
	return keys
}

// governsSignerName reports whether a policy's spec.signerNames covers signerName.
func governsSignerName(signerNames []string, signerName string) bool {
	return slices.ContainsFunc(signerNames, func(p string) bool { return SignerNameMatches(p, signerName) })
}

// Signer names of Kubernetes' own signers that the built-in rules know.
const (
	KubeletServingSigner          = "kubernetes.io/kubelet-serving"
	KubeAPIServerClientSigner     = "kubernetes.io/kube-apiserver-client"
	KubeAPIServerClientKubelet    = "kubernetes.io/kube-apiserver-client-kubelet"
	nodeUsernamePrefix            = "system:node:"
	nodesGroup                    = "system:nodes"
	kubeletServingMaxLifetimeText = "8760h (one year, kube-controller-manager's default --cluster-signing-duration)"
)

// NodeName returns the name of the node a username authenticates, as the Node authorizer reads
// it: system:node:<name> with a name that could be a Node's.
func NodeName(username string) (string, bool) {
	name, ok := strings.CutPrefix(username, nodeUsernamePrefix)
	if !ok || name == "" || dnsNameProblem(name, false) != "" {
		return "", false
	}
	return name, true
}
