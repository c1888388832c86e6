package policy

import (
	"crypto/x509/pkix"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// isSystemIdentity reports whether the API server would read value, as a common name or an
// organization in a client certificate, as a Kubernetes user or group of its own (system:masters
// is cluster-admin), the way the CertificateSubjectRestriction admission plugin guards
// kube-apiserver-client. Organizational units are guarded too: authenticating proxies and
// webhooks in front of a cluster may map them to groups.
func isSystemIdentity(value string) bool {
	return strings.HasPrefix(value, "system:") || slices.Contains(privilegedGroups, value)
}

// privilegedGroups are groups outside system: that installers bind to cluster-admin:
// kubeadm (1.29 and later) binds kubeadm:cluster-admins to it.
var privilegedGroups = []string{"kubeadm:cluster-admins"}

// IsSystemIdentityAttribute reports whether a subject attribute is one the API server would read
// as a Kubernetes identity of its own: a CN, O or OU starting with "system:". Signing uses it to
// refuse a certificate to which an upstream added one.
func IsSystemIdentityAttribute(atv pkix.AttributeTypeAndValue) bool {
	v, ok := atv.Value.(string)
	return ok && holdsSystemIdentities(subjectFields[atv.Type.String()]) && isSystemIdentity(v)
}

// listsExactly requires the policy to spell value out: a wildcard or placeholder written for
// ordinary names must never hand out a system identity by accident.
func listsExactly(patterns []string, value string) bool {
	return slices.Contains(patterns, value)
}

func systemIdentityError(name, value string) *field.Error {
	return field.Forbidden(allowedPath(name), fmt.Sprintf(
		"%q is a Kubernetes system identity, allowed only when spec.allowed.%s lists it exactly", value, name))
}
