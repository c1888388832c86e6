package policy

import (
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// caExtension is what the CSR's own BasicConstraints extension asks for.
type caExtension struct {
	present bool
	isCA    bool
	err     error
}

// caExtensionOf reads every BasicConstraints extension, not just the first: a CSR carrying two
// that disagree must not slip past the check by the order they appear in.
func caExtensionOf(csr *x509.CertificateRequest) caExtension {
	var ext caExtension
	for _, e := range csr.Extensions {
		if !e.Id.Equal(pki.OIDExtensionBasicConstraints) {
			continue
		}
		isCA, _, err := pki.UnmarshalBasicConstraints(e.Value)
		if err != nil {
			return caExtension{present: true, err: err}
		}
		if ext.present && ext.isCA != isCA {
			return caExtension{present: true, err: errors.New("the CSR carries conflicting BasicConstraints extensions")}
		}
		ext = caExtension{present: true, isCA: isCA}
	}
	return ext
}

func checkCA(spec *v1alpha1.SignerPolicySpec, requestIsCA bool, f *facts) field.ErrorList {
	var errs field.ErrorList
	if requestIsCA && !spec.AllowCA {
		errs = append(errs, field.Forbidden(allowCAPath(),
			"the CSR asks for a CA certificate (experimental.cert-manager.io/request-is-ca) and the policy does not allow CA certificates"))
	}
	switch ext := f.ca; {
	case !ext.present:
	case ext.err != nil:
		errs = append(errs, field.Forbidden(allowCAPath(),
			fmt.Sprintf("the CSR's BasicConstraints extension cannot be read: %v", ext.err)))
	case ext.isCA != requestIsCA:
		errs = append(errs, field.Invalid(allowCAPath(), ext.isCA, fmt.Sprintf(
			"the CSR disagrees with its annotation: its BasicConstraints extension says CA=%t, its experimental.cert-manager.io/request-is-ca annotation says %t",
			ext.isCA, requestIsCA)))
	}
	return errs
}

func allowCAPath() *field.Path {
	return field.NewPath("spec", "allowCA")
}
