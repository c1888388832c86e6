package csr

import (
	"crypto/x509"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
)

// KeyUsages converts spec.usages to the x509 key usage bits and extended key
// usages to sign with, through cert-manager's BuildKeyUsagesKube: an empty list
// means digital signature and key encipherment, and an unknown usage is an error.
//
// A CA request does not gain cert sign here. cert-manager's CSR signers behave
// the same way (unlike its Certificate resource) and its e2e suite asserts it:
// spec.usages is what the approver saw and approved, so a CA requester lists
// "cert sign" there and policy judges it like any other usage.
func KeyUsages(usages []certificatesv1.KeyUsage) (x509.KeyUsage, []x509.ExtKeyUsage, error) {
	ku, eku, err := pki.BuildKeyUsagesKube(usages)
	if err != nil {
		return 0, nil, field.Invalid(field.NewPath("spec", "usages"), usages, err.Error())
	}
	return ku, eku, nil
}
