package csr

import (
	"errors"
	"strings"
	"testing"

	cmcsrutil "github.com/cert-manager/cert-manager/pkg/controller/certificatesigningrequests/util"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

func TestParseSignerNameAccepts(t *testing.T) {
	tests := map[string]struct {
		name string
		want policyv1alpha1.IssuerReference
	}{
		"issuer": {
			name: "issuers.cert-manager.io/team-a.ca",
			want: policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: "team-a", Name: "ca"},
		},
		"issuer name keeps the dots after the namespace": {
			name: "issuers.cert-manager.io/ns.a.b",
			want: policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: "ns", Name: "a.b"},
		},
		"cluster issuer": {
			name: "clusterissuers.cert-manager.io/ca",
			want: policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindClusterIssuer, Name: "ca"},
		},
		"cluster issuer name keeps its dots": {
			name: "clusterissuers.cert-manager.io/a.b",
			want: policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindClusterIssuer, Name: "a.b"},
		},
		"longest namespace": {
			name: "issuers.cert-manager.io/" + strings.Repeat("n", 63) + ".x",
			want: policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: strings.Repeat("n", 63), Name: "x"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseSignerName(tc.name)
			if err != nil {
				t.Fatalf("ParseSignerName(%q) error = %v", tc.name, err)
			}
			if got != tc.want {
				t.Errorf("ParseSignerName(%q) = %+v, want %+v", tc.name, got, tc.want)
			}
			if back := got.SignerName(); back != tc.name {
				t.Errorf("SignerName() = %q, want %q", back, tc.name)
			}
		})
	}
}

// Names outside cert-manager's two signer domains belong to someone else and
// must be recognisable so callers skip them quietly.
func TestParseSignerNameNotCertManager(t *testing.T) {
	for _, name := range []string{
		"",
		"garbage",
		"kubernetes.io/kube-apiserver-client",
		"kubernetes.io/legacy-unknown",
		"example.com/issuers.cert-manager.io/ns.x",
		"awspcaclusterissuers.awspca.cert-manager.io/ca",
		"issuers.cert-manager.io.evil.example/ns.ca",
		"certificates.cert-manager.io/ns.ca",
		"Issuers.cert-manager.io/ns.ca",
		"issuers.Cert-Manager.io/ns.ca",
		"cert-manager.io/ca",
		"/ns.ca",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseSignerName(name)
			if !errors.Is(err, ErrNotCertManager) {
				t.Errorf("ParseSignerName(%q) error = %v, want ErrNotCertManager", name, err)
			}
		})
	}
}

// Names aimed at our domains but unusable are errors the requester can act on.
func TestParseSignerNameRejects(t *testing.T) {
	tests := map[string]struct {
		name    string
		mention string
	}{
		"no path":                          {"issuers.cert-manager.io", "contains 0 '/'"},
		"empty path":                       {"issuers.cert-manager.io/", "path is empty"},
		"issuer without a name":            {"issuers.cert-manager.io/ns", "separated by '.'"},
		"issuer with an empty name":        {"issuers.cert-manager.io/ns.", "name is missing"},
		"issuer with an empty namespace":   {"issuers.cert-manager.io/.ca", "starts with '.'"},
		"issuer name with an empty label":  {"issuers.cert-manager.io/ns..ca", `name ".ca"`},
		"issuer name ending in a dot":      {"issuers.cert-manager.io/ns.ca.", `name "ca."`},
		"extra slash in issuer path":       {"issuers.cert-manager.io/ns/ca", "contains 2 '/'"},
		"trailing slash":                   {"issuers.cert-manager.io/ns.ca/", "contains 2 '/'"},
		"double slash":                     {"clusterissuers.cert-manager.io//ca", "contains 2 '/'"},
		"uppercase namespace":              {"issuers.cert-manager.io/NS.ca", `namespace "NS"`},
		"underscore in namespace":          {"issuers.cert-manager.io/n_s.ca", `namespace "n_s"`},
		"namespace too long":               {"issuers.cert-manager.io/" + strings.Repeat("n", 64) + ".ca", "namespace"},
		"cluster issuer empty path":        {"clusterissuers.cert-manager.io/", "path is empty"},
		"cluster issuer leading dot":       {"clusterissuers.cert-manager.io/.ca", "starts with '.'"},
		"cluster issuer empty label":       {"clusterissuers.cert-manager.io/a..b", `name "a..b"`},
		"cluster issuer uppercase":         {"clusterissuers.cert-manager.io/CA", `name "CA"`},
		"cluster issuer name too long":     {"clusterissuers.cert-manager.io/" + strings.Repeat("a", 254), "name"},
		"cluster issuer with a space":      {"clusterissuers.cert-manager.io/my ca", `name "my ca"`},
		"cluster issuer with path segment": {"clusterissuers.cert-manager.io/a/b", "contains 2 '/'"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ref, err := ParseSignerName(tc.name)
			if err == nil {
				t.Fatalf("ParseSignerName(%q) = %+v, want an error", tc.name, ref)
			}
			if errors.Is(err, ErrNotCertManager) {
				t.Fatalf("ParseSignerName(%q) error = %v, must not be ErrNotCertManager", tc.name, err)
			}
			wantFieldError(t, err, "spec.signerName", tc.mention)
		})
	}
}

func TestIssuerReferenceSignerName(t *testing.T) {
	const issuer, clusterIssuer = policyv1alpha1.IssuerKindIssuer, policyv1alpha1.IssuerKindClusterIssuer
	tests := map[policyv1alpha1.IssuerReference]string{
		{Kind: issuer, Namespace: "ns", Name: "ca"}:        "issuers.cert-manager.io/ns.ca",
		{Kind: issuer, Namespace: "ns", Name: "a.b"}:       "issuers.cert-manager.io/ns.a.b",
		{Kind: clusterIssuer, Name: "ca"}:                  "clusterissuers.cert-manager.io/ca",
		{Kind: clusterIssuer, Name: "a.b"}:                 "clusterissuers.cert-manager.io/a.b",
		{Kind: clusterIssuer, Namespace: "x", Name: "a.b"}: "clusterissuers.cert-manager.io/a.b",
	}
	for ref, want := range tests {
		if got := ref.SignerName(); got != want {
			t.Errorf("%+v.SignerName() = %q, want %q", ref, got, want)
		}
	}
}

// FuzzParseSignerName checks that parsing never panics, that every accepted name
// formats back to itself, and that we never disagree with cert-manager's own
// split about which issuer an accepted name means.
func FuzzParseSignerName(f *testing.F) {
	f.Fuzz(func(t *testing.T, name string) {
		ref, err := ParseSignerName(name)
		if err != nil {
			if ref != (policyv1alpha1.IssuerReference{}) {
				t.Fatalf("ParseSignerName(%q) returned %+v with error %v", name, ref, err)
			}
			return
		}
		if got := ref.SignerName(); got != name {
			t.Fatalf("ParseSignerName(%q).SignerName() = %q", name, got)
		}
		again, err := ParseSignerName(ref.SignerName())
		if err != nil || again != ref {
			t.Fatalf("reparse of %q = %+v, %v; want %+v", name, again, err, ref)
		}
		cm, ok := cmcsrutil.SignerIssuerRefFromSignerName(name)
		kind, kindOK := cmcsrutil.IssuerKindFromType(cm.Type)
		if !ok || !kindOK || kind != string(ref.Kind) || cm.Namespace != ref.Namespace || cm.Name != ref.Name {
			t.Fatalf("ParseSignerName(%q) = %+v but cert-manager reads %+v (ok=%t)", name, ref, cm, ok)
		}
	})
}
