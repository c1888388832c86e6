package policy

import (
	"crypto/x509"
	"net/netip"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Requester is the identity the API server recorded on a CSR.
type Requester struct {
	Username string
	UID      string
	Groups   []string
	Extra    map[string][]string
}

// Request holds the facts of one CSR the approval controller has already parsed.
type Request struct {
	SignerName string
	Requester  Requester
	// CSR is the parsed PKCS#10 request; nil only when Problems says why it could not be parsed.
	CSR *x509.CertificateRequest
	// Usages are the CSR's spec.usages.
	Usages []certificatesv1.KeyUsage
	// Duration is the requested lifetime; 0 means none was requested.
	Duration time.Duration
	// IsCA comes from the experimental.cert-manager.io/request-is-ca annotation.
	IsCA bool
	// ServiceAccountNamespaceLabels are the labels of the requesting service account's namespace
	// (see ServiceAccountNamespace), which service account selectors match; nil when the requester
	// is no service account or the namespace could not be found, and then no selector selects it.
	ServiceAccountNamespaceLabels map[string]string
	// IssuerNamespaceLabels are the labels of the namespace of the Issuer the CSR names, which a
	// policy's issuers.namespaceSelector matches; nil for a ClusterIssuer, or when the namespace
	// could not be found, and then no namespaceSelector selects it.
	IssuerNamespaceLabels map[string]string
	// Node is the Node object of the node that requested a kubelet serving certificate, as the
	// caller read it; nil when the requester is no node or its Node is gone, and then no SAN is
	// the node's, so spec.kubeletServing refuses every one.
	Node *Node
	// OtherNodeAddresses maps each address another Node states to that Node's name: host names
	// lower-cased, IP addresses as netip writes them. A kubelet may write its own Node's status,
	// so an address another Node states too is refused rather than believed.
	OtherNodeAddresses map[string]string
	// Problems are faults of the request itself, such as an unparsable spec.request or a garbage
	// duration annotation. Every policy refuses a request with problems, but the refusal still goes
	// through the approval modes and readiness rules: a Manual policy leaves it to people, and a
	// policy that is not Ready yet delays it.
	Problems field.ErrorList
}

const serviceAccountUsernamePrefix = "system:serviceaccount:"

// identity is the requester as placeholders and service-account rules see it.
type identity struct {
	username    string
	saNamespace string
	saName      string
	// isServiceAccount is false for anyone whose username is not
	// system:serviceaccount:<namespace>:<name>; the serviceAccount placeholders then match nothing.
	isServiceAccount bool
	// issuerNamespace is the namespace of the Issuer the CSR names; empty for a ClusterIssuer or
	// any other signer, and then $(issuer.namespace) matches nothing.
	issuerNamespace string
}

func identityOf(r Requester) identity {
	id := identity{username: r.Username}
	rest, ok := strings.CutPrefix(r.Username, serviceAccountUsernamePrefix)
	if !ok {
		return id
	}
	ns, name, ok := strings.Cut(rest, ":")
	// The API server never authenticates a service account whose name holds a colon, so such a
	// username is someone impersonating the form; it gets no service-account powers.
	if !ok || ns == "" || name == "" || strings.Contains(name, ":") {
		return id
	}
	id.saNamespace, id.saName, id.isServiceAccount = ns, name, true
	return id
}

// Node is what the kubelet serving rules read of a Node object.
type Node struct {
	Name      string
	Addresses []NodeAddress
}

// NodeAddress is one entry of a Node's status.addresses: Type is Hostname, InternalDNS,
// ExternalDNS, InternalIP or ExternalIP, and Address its value as the Node states it.
type NodeAddress struct {
	Type    string
	Address string
}

// NodeAddressKey is how OtherNodeAddresses keys an address of the given type: IP addresses in
// netip's form (IPv4-mapped IPv6 unmapped, no zone), host names lower-cased; false for an address that is
// neither a host name nor a readable IP address.
func NodeAddressKey(a NodeAddress) (string, bool) {
	switch {
	case slices.Contains(nodeIPTypes, a.Type):
		ip, err := netip.ParseAddr(a.Address)
		if err != nil {
			return "", false
		}
		return ip.Unmap().WithZone("").String(), true // a zone names an interface, not another address
	case slices.Contains(nodeHostNameTypes, a.Type) && a.Address != "":
		return strings.ToLower(a.Address), true
	}
	return "", false
}
