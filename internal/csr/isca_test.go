package csr

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"github.com/cert-manager/cert-manager/pkg/util/pki"

	testpki "github.com/signerpolicy/signer-policy-operator/test/pki"
)

func TestRequestedIsCA(t *testing.T) {
	tests := map[string]struct {
		annotations map[string]string
		want        bool
		wantErr     bool
	}{
		"absent":            {},
		"true":              {annotations: map[string]string{IsCAAnnotation: "true"}, want: true},
		"false":             {annotations: map[string]string{IsCAAnnotation: "false"}},
		"capitalised True":  {annotations: map[string]string{IsCAAnnotation: "True"}, wantErr: true},
		"yes":               {annotations: map[string]string{IsCAAnnotation: "yes"}, wantErr: true},
		"empty":             {annotations: map[string]string{IsCAAnnotation: ""}, wantErr: true},
		"padded":            {annotations: map[string]string{IsCAAnnotation: " true"}, wantErr: true},
		"unrelated ignored": {annotations: map[string]string{"example.com/is-ca": "maybe"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := RequestedIsCA(csrWithAnnotations(tc.annotations))
			if tc.wantErr {
				wantFieldError(t, err, "metadata.annotations[experimental.cert-manager.io/request-is-ca]", `"true"`, `"false"`)
				return
			}
			if err != nil {
				t.Fatalf("RequestedIsCA error = %v", err)
			}
			if got != tc.want {
				t.Errorf("RequestedIsCA = %t, want %t", got, tc.want)
			}
		})
	}
	if _, err := RequestedIsCA(nil); err == nil {
		t.Error("RequestedIsCA(nil) error = nil")
	}
}

func basicConstraints(t *testing.T, isCA bool) pkix.Extension {
	t.Helper()
	ext, err := pki.MarshalBasicConstraints(isCA, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ext
}

func TestBasicConstraintsIsCA(t *testing.T) {
	tests := map[string]struct {
		extensions          func(t *testing.T) []pkix.Extension
		wantCA, wantPresent bool
		wantErr             string
	}{
		"no extension": {
			extensions: func(*testing.T) []pkix.Extension { return nil },
		},
		"CA": {
			extensions:  func(t *testing.T) []pkix.Extension { return []pkix.Extension{basicConstraints(t, true)} },
			wantCA:      true,
			wantPresent: true,
		},
		"not a CA": {
			extensions:  func(t *testing.T) []pkix.Extension { return []pkix.Extension{basicConstraints(t, false)} },
			wantPresent: true,
		},
		"other extensions only": {
			extensions: func(*testing.T) []pkix.Extension {
				return []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: []byte{0x05, 0x00}}}
			},
		},
		"malformed value": {
			extensions: func(*testing.T) []pkix.Extension {
				return []pkix.Extension{{Id: pki.OIDExtensionBasicConstraints, Value: []byte("garbage")}}
			},
			wantErr: "basic constraints",
		},
		"trailing data": {
			extensions: func(t *testing.T) []pkix.Extension {
				ext := basicConstraints(t, true)
				ext.Value = append(ext.Value, 0x00)
				return []pkix.Extension{ext}
			},
			wantErr: "trailing data",
		},
	}
	for name, tc := range tests {
		for _, alg := range testpki.KeyAlgorithms() {
			t.Run(name+"/"+string(alg), func(t *testing.T) {
				der := testpki.RequestDER(t, testpki.NewKey(t, alg), &x509.CertificateRequest{
					Subject:         pkix.Name{CommonName: "test"},
					ExtraExtensions: tc.extensions(t),
				})
				req, err := x509.ParseCertificateRequest(der)
				if err != nil {
					t.Fatalf("parsing request: %v", err)
				}
				isCA, present, err := BasicConstraintsIsCA(req)
				if tc.wantErr != "" {
					wantFieldError(t, err, "spec.request", tc.wantErr)
					return
				}
				if err != nil {
					t.Fatalf("BasicConstraintsIsCA error = %v", err)
				}
				if isCA != tc.wantCA || present != tc.wantPresent {
					t.Errorf("BasicConstraintsIsCA = %t, %t; want %t, %t", isCA, present, tc.wantCA, tc.wantPresent)
				}
			})
		}
	}
	// crypto/x509 refuses to parse such a request, so only a hand-built one can
	// carry it; the check guards callers that build requests themselves.
	dup := &x509.CertificateRequest{Extensions: []pkix.Extension{basicConstraints(t, false), basicConstraints(t, true)}}
	if _, _, err := BasicConstraintsIsCA(dup); err == nil {
		t.Error("BasicConstraintsIsCA with a duplicated extension error = nil")
	} else {
		wantFieldError(t, err, "spec.request", "more than once")
	}
	if _, _, err := BasicConstraintsIsCA(nil); err == nil {
		t.Error("BasicConstraintsIsCA(nil) error = nil")
	}
}
