package v1alpha1

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
