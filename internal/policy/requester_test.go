package policy

import (
	"strings"
	"testing"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

func TestRequester(t *testing.T) {
	requesters := v1alpha1.Subjects{
		Users:           []string{"alice"},
		Groups:          []string{"team-a"},
		ServiceAccounts: []v1alpha1.ServiceAccountReference{{Namespace: "team-a", Name: "web"}},
	}
	tests := []struct {
		name      string
		requester Requester
		want      []string
	}{
		{name: "listed user", requester: Requester{Username: "alice"}},
		{name: "member of a listed group", requester: Requester{Username: "bob", Groups: []string{"other", "team-a"}}},
		{name: "listed service account", requester: Requester{Username: "system:serviceaccount:team-a:web"}},
		{name: "service account of another namespace", requester: Requester{Username: "system:serviceaccount:team-b:web"},
			want: []string{"spec.requesters FieldValueForbidden"}},
		{name: "service account username with extra colon", requester: Requester{Username: "system:serviceaccount:team-a:web:x"},
			want: []string{"spec.requesters FieldValueForbidden"}},
		{name: "nobody listed", requester: Requester{Username: "mallory", Groups: []string{"system:authenticated"}},
			want: []string{"spec.requesters FieldValueForbidden"}},
		{name: "user names are case-sensitive", requester: Requester{Username: "Alice"},
			want: []string{"spec.requesters FieldValueForbidden"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := basePolicy("p")
			p.Spec.Requesters = requesters
			req := baseRequest(t, baseTemplate())
			req.Requester = tt.requester
			errs := violations(&p, req)
			assertFields(t, errs, tt.want...)
			if len(errs) > 0 && !strings.Contains(errs[0].Detail, tt.requester.Username) {
				t.Errorf("detail %q does not name the requester", errs[0].Detail)
			}
		})
	}
}
