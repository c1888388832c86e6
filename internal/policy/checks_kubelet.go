package policy

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// kubeletServingUsages are the usages kubelets request, as Kubernetes' own
// ValidateKubeletServingCSR accepts them: with key encipherment (RSA keys) or without.
var kubeletServingUsages = [][]certificatesv1.KeyUsage{
	{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth},
	{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth},
}

// kubeletServingMaxLifetime bounds a requested lifetime when the policy sets no duration.max.
const kubeletServingMaxLifetime = 8760 * time.Hour

// Node address types that name a node by host name, and by IP address.
var (
	nodeHostNameTypes = []string{"Hostname", "InternalDNS", "ExternalDNS"}
	nodeIPTypes       = []string{"InternalIP", "ExternalIP"}
)

func kubeletServingPath() *field.Path {
	return field.NewPath("spec", "kubeletServing")
}

// checkKubeletServing holds a CSR to what a kubelet asks for its serving certificate, and to no
// more: the node asks for itself, by its own name, for the names and addresses its own Node
// object states. These rules stand in for spec.usages and spec.allowed, which such a policy
// leaves out.
func (ev *evaluation) checkKubeletServing(spec *v1alpha1.SignerPolicySpec) field.ErrorList {
	path := kubeletServingPath()
	r := ev.req.Requester
	nodeName, isNode := NodeName(r.Username)
	if !isNode || !slices.Contains(r.Groups, nodesGroup) {
		// Nothing else is worth saying: no one but a node gets a kubelet serving certificate.
		return field.ErrorList{field.Forbidden(path, fmt.Sprintf(
			"%q is not a node: kubelet serving certificates are requested by system:node:<name> in group system:nodes", r.Username))}
	}
	errs := ev.checkKubeletSubject(path, r.Username)
	errs = append(errs, checkKubeletUsages(path, ev.req.Usages)...)
	errs = append(errs, checkUsageExtensions(&ev.facts, path)...)
	errs = append(errs, ev.checkKubeletSANs(spec.KubeletServing, path, nodeName)...)
	if (spec.Duration == nil || spec.Duration.Max == nil) && ev.req.Duration > kubeletServingMaxLifetime {
		errs = append(errs, field.Invalid(field.NewPath("spec", "duration", "max"), ev.req.Duration.String(),
			"the requested lifetime is longer than kubelet serving certificates get without a duration.max: "+kubeletServingMaxLifetimeText))
	}
	return errs
}

// checkKubeletSubject requires the subject kube-controller-manager's kubelet-serving signer
// expects, CN=system:node:<name>, O=system:nodes, with the requester's own name.
func (ev *evaluation) checkKubeletSubject(path *field.Path, username string) field.ErrorList {
	s := &ev.facts.subject
	var errs field.ErrorList
	if cn := texts(s.byField["commonName"]); !slices.Equal(cn, []string{username}) {
		errs = append(errs, field.Invalid(path, strings.Join(cn, ", "), fmt.Sprintf(
			"the subject's common name must be exactly %q, the requesting node's own name", username)))
	}
	if o := texts(s.byField["organizations"]); !slices.Equal(o, []string{nodesGroup}) {
		errs = append(errs, field.Invalid(path, strings.Join(o, ", "), `the subject's organization must be exactly "system:nodes"`))
	}
	for _, name := range slices.Sorted(maps.Keys(s.byField)) {
		// Email addresses, in the subject or a SAN, are refused with the SANs.
		if name == "commonName" || name == "organizations" || name == "emailAddresses" || len(s.byField[name]) == 0 {
			continue
		}
		errs = append(errs, field.Forbidden(path, fmt.Sprintf(
			"the subject holds %s %q: a kubelet serving certificate's subject holds only its CN and O", name, s.byField[name][0].text)))
	}
	return append(errs, s.ungoverned...)
}

func checkKubeletUsages(path *field.Path, requested []certificatesv1.KeyUsage) field.ErrorList {
	sorted := slices.Sorted(slices.Values(requested))
	for _, want := range kubeletServingUsages {
		if slices.Equal(sorted, slices.Sorted(slices.Values(want))) {
			return nil
		}
	}
	names := make([]string, len(requested))
	for i, u := range requested {
		names[i] = string(u)
	}
	return field.ErrorList{field.Invalid(path, strings.Join(names, ", "),
		`the usages must be exactly those kubelets request: "digital signature", "server auth" and, for RSA keys, "key encipherment"`)}
}

// checkKubeletSANs allows only the node's own DNS names and IP addresses, as its Node object's
// status.addresses state them, within the policy's patterns and CIDRs, which it must give: a
// kubelet writes its own Node's status, so what it states is not proof enough. A node
// whose Node object could not be read has no addresses: every SAN is refused.
func (ev *evaluation) checkKubeletSANs(ks *v1alpha1.KubeletServing, path *field.Path, nodeName string) field.ErrorList {
	f := &ev.facts
	var errs field.ErrorList
	for _, e := range f.emails {
		errs = append(errs, field.Forbidden(path, fmt.Sprintf("the CSR holds the email address %q: a kubelet serving certificate holds only DNS names and IP addresses", e.text)))
	}
	for _, u := range f.uris {
		errs = append(errs, field.Forbidden(path, fmt.Sprintf("the CSR holds the URI %q: a kubelet serving certificate holds only DNS names and IP addresses", u.text)))
	}
	if len(f.dnsNames)+len(f.ips) == 0 {
		return append(errs, field.Required(path, "the CSR must hold at least one DNS name or IP address of the node"))
	}
	node := ev.req.Node
	if node == nil || node.Name != nodeName {
		return append(errs, field.Invalid(path, nodeName, fmt.Sprintf(
			"Node %q was not found, so no DNS name or IP address is known to be the node's", nodeName)))
	}
	for _, v := range f.dnsNames {
		errs = append(errs, ev.checkKubeletDNSName(ks, path, node, v)...)
	}
	for _, ip := range f.ips {
		switch {
		case !ip.ok || !nodeHasIP(node, ip.addr):
			errs = append(errs, field.Invalid(path, ip.text, fmt.Sprintf(
				"is not an IP address of Node %q (status.addresses of type InternalIP or ExternalIP)", node.Name)))
		case ip.addr.IsLoopback() || ip.addr.IsLinkLocalUnicast() || ip.addr.IsLinkLocalMulticast() || ip.addr.IsMulticast() || ip.addr.IsUnspecified():
			errs = append(errs, field.Invalid(path, ip.text, "is a loopback, link-local, multicast or unspecified address, which no node holds alone"))
		case len(ks.IPAddresses) == 0:
			// A kubelet writes its own Node's status, so the addresses it states prove nothing
			// alone: the policy must say where node addresses lie (fail closed).
			errs = append(errs, field.Invalid(path.Child("ipAddresses"), ip.text,
				"the policy lists no CIDRs for node addresses, so no IP address is allowed: list the node network in spec.kubeletServing.ipAddresses"))
		case ev.claimedElsewhere(ip.addr.String()) != "":
			errs = append(errs, field.Invalid(path, ip.text, fmt.Sprintf(
				"is an address of Node %q too, so it is not Node %q's alone", ev.claimedElsewhere(ip.addr.String()), node.Name)))
		case len(ks.IPAddresses) > 0 && !withinAny(ks.IPAddresses, ip.addr):
			errs = append(errs, field.Invalid(path.Child("ipAddresses"), ip.text, "lies within none of the allowed CIDRs"))
		}
	}
	return errs
}

func (ev *evaluation) checkKubeletDNSName(ks *v1alpha1.KubeletServing, path *field.Path, node *Node, v requestedValue) field.ErrorList {
	switch {
	case v.malformed != "":
		return field.ErrorList{field.Invalid(path, v.text, v.malformed)}
	case v.wildcard:
		return field.ErrorList{field.Invalid(path, v.text, "is a wildcard, which names no node")}
	case isClusterLocalName(v.text):
		return field.ErrorList{field.Invalid(path, v.text, "is localhost or a cluster Service name, which no node holds alone")}
	case len(ks.DNSNames) == 0:
		// A kubelet writes its own Node's status, so the host names it states prove nothing
		// alone: the policy must say what node names look like (fail closed).
		return field.ErrorList{field.Invalid(path.Child("dnsNames"), v.text,
			"the policy lists no patterns for node host names, so no DNS name is allowed: list them in spec.kubeletServing.dnsNames")}
	case !nodeHasHostName(node, v.text):
		return field.ErrorList{field.Invalid(path, v.text, fmt.Sprintf(
			"is not a host name of Node %q (status.addresses of type Hostname, InternalDNS or ExternalDNS)", node.Name))}
	case ev.claimedElsewhere(strings.ToLower(v.text)) != "":
		return field.ErrorList{field.Invalid(path, v.text, fmt.Sprintf(
			"is a host name of Node %q too, so it is not Node %q's alone", ev.claimedElsewhere(strings.ToLower(v.text)), node.Name))}
	case len(ks.DNSNames) > 0 && !ev.m.matchAny(ks.DNSNames, v.text, matchDNS):
		return field.ErrorList{field.Invalid(path.Child("dnsNames"), v.text, "matches none of the allowed patterns")}
	}
	return nil
}

// isClusterLocalName reports names that are no node's own whatever its Node states: localhost,
// and Service names (*.svc, *.svc.<cluster domain>), such as kubernetes.default.svc.
func isClusterLocalName(name string) bool {
	n := strings.TrimSuffix(strings.ToLower(name), ".")
	return n == "localhost" || strings.HasSuffix(n, ".localhost") || strings.HasSuffix(n, ".svc") || strings.Contains(n, ".svc.")
}

func nodeHasHostName(node *Node, name string) bool {
	return slices.ContainsFunc(node.Addresses, func(a NodeAddress) bool {
		return slices.Contains(nodeHostNameTypes, a.Type) && strings.EqualFold(a.Address, name)
	})
}

// nodeHasIP compares parsed addresses, so that 10.0.0.1 and ::ffff:10.0.0.1 are one; an address
// the Node states in a form that does not parse matches nothing.
func nodeHasIP(node *Node, ip netip.Addr) bool {
	return slices.ContainsFunc(node.Addresses, func(a NodeAddress) bool {
		addr, err := netip.ParseAddr(a.Address)
		return err == nil && slices.Contains(nodeIPTypes, a.Type) && addr.Unmap() == ip
	})
}

// claimedElsewhere names another Node that states the address (a key as NodeAddressKey makes
// them), or is empty. A kubelet writes its own Node's status, so a compromised node can state any
// address; one that another Node states as well is refused, whichever of them lies.
func (ev *evaluation) claimedElsewhere(key string) string {
	return ev.req.OtherNodeAddresses[key]
}
