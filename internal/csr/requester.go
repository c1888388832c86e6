package csr

import (
	certificatesv1 "k8s.io/api/certificates/v1"
)

// Requester returns who created csr, as the API server recorded it in the spec.
// These are the identity the signing SubjectAccessReview and the policy
// evaluation must use; the values are copies, so callers may keep or modify them
// without touching an object that may live in a shared informer cache.
func Requester(csr *certificatesv1.CertificateSigningRequest) (username, uid string, groups []string, extra map[string][]string) {
	if csr == nil {
		return "", "", nil, nil
	}
	if csr.Spec.Groups != nil {
		groups = append([]string{}, csr.Spec.Groups...)
	}
	if csr.Spec.Extra != nil {
		extra = make(map[string][]string, len(csr.Spec.Extra))
		for k, v := range csr.Spec.Extra {
			extra[k] = append([]string(nil), v...)
		}
	}
	return csr.Spec.Username, csr.Spec.UID, groups, extra
}
