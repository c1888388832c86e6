package audit

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRecordIsOneJSONEntryUnderTheAuditLogger(t *testing.T) {
	var lines []string
	log := funcr.NewJSON(func(obj string) { lines = append(lines, obj) }, funcr.Options{})
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "web", UID: "u-1"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			SignerName: "issuers.cert-manager.io/ns.ca", Username: "alice", UID: "a-1", Groups: []string{"devs"},
			Extra:  map[string]certificatesv1.ExtraValue{"scopes": {"x"}},
			Usages: []certificatesv1.KeyUsage{"server auth"},
		},
	}
	r := ForCSR(EventApproved, csr)
	r.Policy, r.Reason, r.Message = "p", "SignerPolicyApproved", "approved by SignerPolicy \"p\""
	New(log).Write(r)

	if len(lines) != 1 {
		t.Fatalf("wrote %d entries, want 1", len(lines))
	}
	var entry struct {
		Logger string `json:"logger"`
		Record Record `json:"record"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &entry); err != nil {
		t.Fatalf("entry is not JSON: %v\n%s", err, lines[0])
	}
	got := entry.Record
	if entry.Logger != "audit" || got.Event != "Approved" || got.CSR != "web" || got.CSRUID != "u-1" ||
		got.Requester.Username != "alice" || got.Requester.Groups[0] != "devs" || got.Requester.Extra["scopes"][0] != "x" ||
		got.SignerName != csr.Spec.SignerName || got.Usages[0] != "server auth" || got.Policy != "p" {
		t.Errorf("entry does not carry the record: %s", lines[0])
	}
	if strings.Contains(lines[0], "certificate") {
		t.Errorf("a decision entry carries certificate fields: %s", lines[0])
	}
}
