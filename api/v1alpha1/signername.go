package v1alpha1

import "fmt"

// Signer name prefixes, exactly as cert-manager's CSR signers use them.
const (
	IssuerSignerPrefix        = "issuers.cert-manager.io/"
	ClusterIssuerSignerPrefix = "clusterissuers.cert-manager.io/"
)

// SignerName is the spec.signerName a CSR uses to reach the referenced issuer:
// issuers.cert-manager.io/<namespace>.<name> for an Issuer and
// clusterissuers.cert-manager.io/<name> for a ClusterIssuer.
func (r IssuerReference) SignerName() string {
	if r.Kind == IssuerKindClusterIssuer {
		return ClusterIssuerSignerPrefix + r.Name
	}
	return IssuerSignerPrefix + r.Namespace + "." + r.Name
}

// String describes the issuer for messages: Issuer "ca" in namespace "team-a", or
// ClusterIssuer "root".
func (r IssuerReference) String() string {
	if r.Kind == IssuerKindClusterIssuer {
		return fmt.Sprintf("ClusterIssuer %q", r.Name)
	}
	return fmt.Sprintf("Issuer %q in namespace %q", r.Name, r.Namespace)
}
