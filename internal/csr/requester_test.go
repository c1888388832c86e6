package csr

import (
	"reflect"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
)

func TestRequester(t *testing.T) {
	csr := &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{
		Username: "system:serviceaccount:team-a:app",
		UID:      "0b7e6a4c",
		Groups:   []string{"system:serviceaccounts", "system:authenticated"},
		Extra: map[string]certificatesv1.ExtraValue{
			"authentication.kubernetes.io/pod-name": {"app-0"},
			"scopes":                                {"a", "b"},
		},
	}}
	username, uid, groups, extra := Requester(csr)
	if username != csr.Spec.Username || uid != csr.Spec.UID {
		t.Errorf("Requester = %q, %q; want %q, %q", username, uid, csr.Spec.Username, csr.Spec.UID)
	}
	if !reflect.DeepEqual(groups, []string{"system:serviceaccounts", "system:authenticated"}) {
		t.Errorf("groups = %v", groups)
	}
	wantExtra := map[string][]string{
		"authentication.kubernetes.io/pod-name": {"app-0"},
		"scopes":                                {"a", "b"},
	}
	if !reflect.DeepEqual(extra, wantExtra) {
		t.Errorf("extra = %v, want %v", extra, wantExtra)
	}

	// The CSR may be an informer's cached object; callers must not reach it.
	groups[0] = "system:masters"
	extra["scopes"][0] = "changed"
	extra["new"] = []string{"x"}
	if csr.Spec.Groups[0] != "system:serviceaccounts" || csr.Spec.Extra["scopes"][0] != "a" || len(csr.Spec.Extra) != 2 {
		t.Errorf("modifying Requester results changed the CSR: %+v", csr.Spec)
	}
}

func TestRequesterEmpty(t *testing.T) {
	for name, csr := range map[string]*certificatesv1.CertificateSigningRequest{
		"nil":        nil,
		"empty spec": {},
	} {
		t.Run(name, func(t *testing.T) {
			username, uid, groups, extra := Requester(csr)
			if username != "" || uid != "" || groups != nil || extra != nil {
				t.Errorf("Requester = %q, %q, %v, %v; want zero values", username, uid, groups, extra)
			}
		})
	}
}
