package csr

import (
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	experimentalapi "github.com/cert-manager/cert-manager/pkg/apis/experimental/v1alpha1"
)

// Annotation keys honoured exactly as cert-manager documents them.
const (
	DurationAnnotation = experimentalapi.CertificateSigningRequestDurationAnnotationKey
	IsCAAnnotation     = experimentalapi.CertificateSigningRequestIsCAAnnotationKey
)

// RequestedDuration returns the certificate lifetime the requester asked for.
//
// Precedence follows cert-manager's DurationFromCertificateSigningRequest: the
// experimental.cert-manager.io/request-duration annotation (a Go duration) wins
// over spec.expirationSeconds because it predates the field. Unlike cert-manager,
// no default is filled in: requested is false when neither is set, leaving the
// default and any policy clamp to the caller, which knows both.
//
// A value that is not a positive duration is an error naming its field, where
// cert-manager would pass a negative value on to its minimum-duration check. The
// 600 s minimum itself is the signing controller's to enforce, with its own reason.
func RequestedDuration(csr *certificatesv1.CertificateSigningRequest) (d time.Duration, requested bool, err error) {
	if csr == nil {
		return 0, false, errNilCSR
	}
	if value, ok := csr.Annotations[DurationAnnotation]; ok {
		d, err := time.ParseDuration(value)
		if err != nil {
			return 0, false, field.Invalid(annotationPath(DurationAnnotation), shorten(value),
				"must be a Go duration such as 2160h")
		}
		if d <= 0 {
			return 0, false, field.Invalid(annotationPath(DurationAnnotation), shorten(value), "must be positive")
		}
		return d, true, nil
	}
	if secs := csr.Spec.ExpirationSeconds; secs != nil {
		// The API server already rejects values under 600; checking here keeps the
		// "accepted durations are positive" promise for objects that never met it.
		if *secs <= 0 {
			return 0, false, field.Invalid(field.NewPath("spec", "expirationSeconds"), *secs, "must be positive")
		}
		return time.Duration(*secs) * time.Second, true, nil
	}
	return 0, false, nil
}
