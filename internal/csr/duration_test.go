package csr

import (
	"errors"
	"testing"
	"time"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
)

func TestRequestedDuration(t *testing.T) {
	seconds := func(s int32) *int32 { return &s }
	tests := map[string]struct {
		annotations   map[string]string
		expiration    *int32
		want          time.Duration
		wantRequested bool
		wantErr       string // field path; empty means no error
	}{
		"nothing requested": {},
		"annotation": {
			annotations: map[string]string{DurationAnnotation: "2160h"}, want: 2160 * time.Hour, wantRequested: true,
		},
		"compound annotation": {
			annotations: map[string]string{DurationAnnotation: "1h30m"}, want: 90 * time.Minute, wantRequested: true,
		},
		"expirationSeconds": {
			expiration: seconds(3600), want: time.Hour, wantRequested: true,
		},
		"annotation wins over expirationSeconds": {
			annotations: map[string]string{DurationAnnotation: "48h"}, expiration: seconds(3600),
			want: 48 * time.Hour, wantRequested: true,
		},
		"short durations are returned for the caller to refuse": {
			annotations: map[string]string{DurationAnnotation: "5m"}, want: 5 * time.Minute, wantRequested: true,
		},
		"unrelated annotations are ignored": {
			annotations: map[string]string{"example.com/duration": "garbage"},
		},
		"garbage annotation": {
			annotations: map[string]string{DurationAnnotation: "garbage"},
			wantErr:     "metadata.annotations[experimental.cert-manager.io/request-duration]",
		},
		"bare number annotation": {
			annotations: map[string]string{DurationAnnotation: "3600"},
			wantErr:     "metadata.annotations[experimental.cert-manager.io/request-duration]",
		},
		"empty annotation is still the annotation": {
			annotations: map[string]string{DurationAnnotation: ""}, expiration: seconds(3600),
			wantErr: "metadata.annotations[experimental.cert-manager.io/request-duration]",
		},
		"negative annotation": {
			annotations: map[string]string{DurationAnnotation: "-5m"},
			wantErr:     "metadata.annotations[experimental.cert-manager.io/request-duration]",
		},
		"zero annotation": {
			annotations: map[string]string{DurationAnnotation: "0s"},
			wantErr:     "metadata.annotations[experimental.cert-manager.io/request-duration]",
		},
		"overflowing annotation": {
			annotations: map[string]string{DurationAnnotation: "10000000000h"},
			wantErr:     "metadata.annotations[experimental.cert-manager.io/request-duration]",
		},
		"bad annotation is not rescued by expirationSeconds": {
			annotations: map[string]string{DurationAnnotation: "-1h"}, expiration: seconds(3600),
			wantErr: "metadata.annotations[experimental.cert-manager.io/request-duration]",
		},
		"zero expirationSeconds": {
			expiration: seconds(0), wantErr: "spec.expirationSeconds",
		},
		"negative expirationSeconds": {
			expiration: seconds(-600), wantErr: "spec.expirationSeconds",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			csr := csrWithAnnotations(tc.annotations)
			csr.Spec.ExpirationSeconds = tc.expiration
			got, requested, err := RequestedDuration(csr)
			if tc.wantErr != "" {
				wantFieldError(t, err, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("RequestedDuration error = %v", err)
			}
			if got != tc.want || requested != tc.wantRequested {
				t.Errorf("RequestedDuration = %v, %t; want %v, %t", got, requested, tc.want, tc.wantRequested)
			}
		})
	}
}

func TestRequestedDurationQuotesLongValuesShortly(t *testing.T) {
	long := "x"
	for len(long) < 10000 {
		long += long
	}
	_, _, err := RequestedDuration(csrWithAnnotations(map[string]string{DurationAnnotation: long}))
	if err == nil || len(err.Error()) > 300 {
		t.Errorf("error for a %d-byte annotation is %d bytes long, want a short message", len(long), len(err.Error()))
	}
}

func TestRequestedDurationNil(t *testing.T) {
	if _, _, err := RequestedDuration(nil); err == nil {
		t.Error("RequestedDuration(nil) error = nil")
	}
}

// FuzzRequestedDuration checks that no annotation value panics, that every
// accepted value is positive, and that an accepted value means what it means to
// cert-manager's own DurationFromCertificateSigningRequest.
func FuzzRequestedDuration(f *testing.F) {
	f.Fuzz(func(t *testing.T, value string) {
		csr := csrWithAnnotations(map[string]string{DurationAnnotation: value})
		d, requested, err := RequestedDuration(csr)
		if err != nil {
			if d != 0 || requested {
				t.Fatalf("RequestedDuration(%q) = %v, %t with error %v", value, d, requested, err)
			}
			if errors.Is(err, ErrNotCertManager) {
				t.Fatalf("unexpected sentinel in %v", err)
			}
			return
		}
		if !requested || d <= 0 {
			t.Fatalf("RequestedDuration(%q) = %v, %t; accepted values must be positive and requested", value, d, requested)
		}
		cm, err := pki.DurationFromCertificateSigningRequest(csr)
		if err != nil || cm != d {
			t.Fatalf("RequestedDuration(%q) = %v but cert-manager reads %v, %v", value, d, cm, err)
		}
	})
}
