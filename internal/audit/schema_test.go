package audit

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/go-logr/logr/funcr"
	"github.com/santhosh-tekuri/jsonschema/v6"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// Every kind of record the operator writes is valid against the committed JSON Schema, carries
// its schema version and a recordID that is the same for every copy, and classifies who generated
// the key.
func TestRecordsMatchTheCommittedSchema(t *testing.T) {
	data, err := os.ReadFile("../../docs/governance-record.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("record.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("record.json")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	records := New(funcr.NewJSON(func(obj string) { lines = append(lines, obj) }, funcr.Options{}), "kube-system", "signer-policy-system")

	csr := func(username string) *certificatesv1.CertificateSigningRequest {
		return &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "c", UID: types.UID("u-" + username)},
			Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: "issuers.cert-manager.io/ns.ca", Username: username,
				Usages: []certificatesv1.KeyUsage{"server auth"}}}
	}
	rbac := []policyv1alpha1.GeneratedObject{{Kind: "Role", Name: "signerpolicy:p:reference", Namespace: "ns"}}
	approved := ForCSR(EventApproved, csr("alice"))
	approved.Policy, approved.Reason, approved.RBAC = "p", "SignerPolicyApproved", rbac
	approved.Approver = &Approver{Source: ApproverOperator, Identity: &Identity{Username: "system:serviceaccount:signer-policy-system:op"}}
	denied := ForCSR(EventDenied, csr("system:serviceaccount:shop:web"))
	denied.Reason, denied.Message = "KubectlDeny", "denied"
	denied.Approver = &Approver{Source: ApproverWebhook, Identity: &Identity{Username: "sam", UID: "s-1", Groups: []string{"security"},
		Extra: map[string][]string{"scopes": {"x"}}}}
	manual := ForCSR(EventManualReview, csr("system:node:n1"))
	manual.Policy = "p"
	failed := ForCSR(EventFailed, csr("system:serviceaccount:kube-system:x"))
	failed.Reason, failed.RequestedLifetime = "PolicyViolation", "72h0m0s"
	issued := ForCSR(EventIssued, csr("system:serviceaccount:signer-policy-system:y"))
	issued.GrantedLifetime, issued.Policy, issued.RBAC = "24h0m0s", "p", rbac
	issued.Approver = &Approver{Source: ApproverAmbiguous, Candidates: []Identity{{Username: "sam"}, {Username: "ann"}}}
	failed.Approver = &Approver{Source: ApproverUnknown}
	issued.Issuer = &Issuer{Kind: "Issuer", Namespace: "ns", Name: "ca", Type: "CA"}
	issued.Certificate = &Certificate{Serial: "1a", SHA256Fingerprint: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		NotBefore: "2026-12-02T10:00:00Z", NotAfter: "2026-12-03T10:00:00Z"}
	want := map[string]string{EventApproved: KeyOriginUser, EventDenied: KeyOriginWorkload, EventManualReview: KeyOriginNode,
		EventFailed: KeyOriginPlatformController, EventIssued: KeyOriginPlatformController}
	for _, r := range []Record{approved, denied, manual, failed, issued} {
		records.Write(r)
		records.Write(r) // a second copy, as after a restart
	}

	ids := map[string]string{}
	for _, line := range lines {
		var entry struct {
			Record json.RawMessage `json:"record"`
		}
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatal(err)
		}
		value, err := jsonschema.UnmarshalJSON(bytes.NewReader(entry.Record))
		if err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(value); err != nil {
			t.Errorf("record does not match the schema: %v\n%s", err, entry.Record)
		}
		var r Record
		if err := json.Unmarshal(entry.Record, &r); err != nil {
			t.Fatal(err)
		}
		if r.SchemaVersion != SchemaVersion || r.KeyOrigin != want[r.Event] {
			t.Errorf("%s record: schemaVersion %q keyOrigin %q, want %q %q", r.Event, r.SchemaVersion, r.KeyOrigin, SchemaVersion, want[r.Event])
		}
		if id, seen := ids[r.Event]; seen && id != r.RecordID {
			t.Errorf("two copies of the %s record have IDs %s and %s", r.Event, id, r.RecordID)
		}
		ids[r.Event] = r.RecordID
	}
	if len(ids) != 5 {
		t.Errorf("record IDs %v, want one per event", ids)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("two events share the record ID %s", id)
		}
		seen[id] = true
	}
}
