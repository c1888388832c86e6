package policy

import (
	"crypto/x509"
	"fmt"
	"slices"
	"strings"

	apiutil "github.com/cert-manager/cert-manager/pkg/api/util"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// defaultUsages are what a policy that omits spec.usages allows: a TLS server or client.
var defaultUsages = []v1alpha1.KeyUsage{"digital signature", "key encipherment", "server auth", "client auth"}

// AllowedUsages are the usages spec allows, defaults included. Callers must not modify them.
func AllowedUsages(spec *v1alpha1.SignerPolicySpec) []v1alpha1.KeyUsage {
	if len(spec.Usages) == 0 {
		return defaultUsages
	}
	return spec.Usages
}

func checkUsages(spec *v1alpha1.SignerPolicySpec, requested []certificatesv1.KeyUsage, isCA bool, f *facts) field.ErrorList {
	allowed := AllowedUsages(spec)
	var errs field.ErrorList
	for _, u := range requested {
		if !slices.Contains(allowed, v1alpha1.KeyUsage(u)) {
			errs = append(errs, field.NotSupported(usagesPath(), string(u), allowed))
		}
	}
	// A leaf certificate without an extended key usage extension is valid for every purpose
	// (RFC 5280 4.2.1.12), so asking for none is asking for "any": a policy meant for serving
	// certificates must not hand out client certificates that way. A CA's extended key usages
	// would only constrain its chain, so a CA needs none.
	if !isCA && !slices.ContainsFunc(requested, isExtendedUsage) && !slices.Contains(allowed, v1alpha1.KeyUsage(certificatesv1.UsageAny)) {
		errs = append(errs, field.Forbidden(usagesPath(),
			`the CSR requests no extended key usage (such as "server auth"), which would make the certificate valid for every purpose; request the extended usages it needs, or the policy must allow "any"`))
	}
	return append(errs, checkUsageExtensions(f, usagesPath())...)
}

// checkUsageExtensions refuses a CSR whose own extensions ask for more than its spec.usages. The
// signer issues spec.usages, not what the PKCS#10 asks for, but a CSR asking for more in its own
// extensions is either a mistake or an attempt to get a signer that copies extensions to grant
// it; either way it is refused, under path.
func checkUsageExtensions(f *facts, path *field.Path) field.ErrorList {
	switch ext := f.usageExt; {
	case ext.err != nil:
		return field.ErrorList{field.Forbidden(path, fmt.Sprintf("the CSR's key usage extensions cannot be read: %v", ext.err))}
	case len(ext.extra) > 0:
		return field.ErrorList{field.Invalid(path, strings.Join(ext.extra, ", "),
			"the CSR's KeyUsage/ExtendedKeyUsage extension disagrees with its spec.usages: it asks for usages spec.usages does not request")}
	}
	return nil
}

func isExtendedUsage(u certificatesv1.KeyUsage) bool {
	_, ok := apiutil.ExtKeyUsageTypeKube(u)
	return ok
}

// usageExtensions lists what the CSR's KeyUsage and ExtendedKeyUsage extensions ask for beyond
// its spec.usages.
type usageExtensions struct {
	extra []string
	err   error
}

func usageExtensionsOf(csr *x509.CertificateRequest, requested []certificatesv1.KeyUsage) usageExtensions {
	// Mapped usage by usage rather than with pki.BuildKeyUsagesKube, which rejects the whole list
	// for one unknown usage and substitutes defaults for an empty one; an unknown usage is
	// refused by the spec.usages check anyway.
	var ku x509.KeyUsage
	var eku []x509.ExtKeyUsage
	for _, u := range requested {
		if k, ok := apiutil.KeyUsageTypeKube(u); ok {
			ku |= k
		} else if e, ok := apiutil.ExtKeyUsageTypeKube(u); ok {
			eku = append(eku, e)
		}
	}
	var out usageExtensions
	for _, e := range csr.Extensions {
		var err error
		switch {
		case e.Id.Equal(pki.OIDExtensionKeyUsage):
			err = out.addKeyUsage(e.Value, ku)
		case e.Id.Equal(pki.OIDExtensionExtendedKeyUsage):
			err = out.addExtKeyUsage(e.Value, eku)
		}
		if err != nil {
			return usageExtensions{err: err}
		}
	}
	return out
}

func (u *usageExtensions) addKeyUsage(value []byte, requested x509.KeyUsage) error {
	asked, err := pki.UnmarshalKeyUsage(value)
	if err != nil {
		return err
	}
	for _, name := range apiutil.KubeKeyUsageStrings(asked &^ requested) {
		u.extra = append(u.extra, string(name))
	}
	return nil
}

func (u *usageExtensions) addExtKeyUsage(value []byte, requested []x509.ExtKeyUsage) error {
	asked, unknown, err := pki.UnmarshalExtKeyUsage(value)
	if err != nil {
		return err
	}
	for _, e := range asked {
		if !slices.Contains(requested, e) {
			u.extra = append(u.extra, extKeyUsageName(e))
		}
	}
	// No spec.usages value names an OID cert-manager does not know, so none can be requested.
	for _, oid := range unknown {
		u.extra = append(u.extra, oid.String())
	}
	return nil
}

// extKeyUsageName names an extended key usage as spec.usages would, or by OID for the few that
// cert-manager knows but Kubernetes has no usage for.
func extKeyUsageName(e x509.ExtKeyUsage) string {
	if name := apiutil.KubeExtKeyUsageStrings([]x509.ExtKeyUsage{e})[0]; name != "unknown" {
		return string(name)
	}
	if oid, ok := pki.OIDFromExtKeyUsage(e); ok {
		return oid.String()
	}
	return fmt.Sprintf("extended key usage %d", e)
}

func usagesPath() *field.Path {
	return field.NewPath("spec", "usages")
}

// CommonUsages are the usages both specs allow, in a's order: what a namespaced policy a allows
// under delegating policy b.
func CommonUsages(a, b *v1alpha1.SignerPolicySpec) []v1alpha1.KeyUsage {
	var out []v1alpha1.KeyUsage
	for _, u := range AllowedUsages(a) {
		if slices.Contains(AllowedUsages(b), u) {
			out = append(out, u)
		}
	}
	return out
}
