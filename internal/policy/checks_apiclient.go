package policy

import (
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// checkAPIServerClient holds a CSR for one of the kube-apiserver client signers to one user: the
// API server authenticates such a certificate as the user its common name names, in the groups
// its organizations name, so a CSR without a common name, or with two, is no request anyone can
// reason about. Which users and groups are allowed is spec.allowed's, with its guard on system
// identities.
func (ev *evaluation) checkAPIServerClient() field.ErrorList {
	switch ev.req.SignerName {
	case KubeAPIServerClientSigner, KubeAPIServerClientKubelet:
	default:
		return nil
	}
	if n := len(ev.facts.subject.byField["commonName"]); n != 1 {
		return field.ErrorList{field.Invalid(allowedPath("commonName"), n,
			"a kube-apiserver client certificate authenticates as the user its common name names, so the subject must hold exactly one common name")}
	}
	return nil
}
