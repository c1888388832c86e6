// Package audit writes the governance record: one structured entry for every decision the
// operator makes about a CSR and every certificate it issues. CSRs are garbage-collected by
// kube-controller-manager an hour after they finish, so this record is the durable trail.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/go-logr/logr"
	certificatesv1 "k8s.io/api/certificates/v1"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

// Events a record can describe.
const (
	EventApproved     = "Approved"
	EventDenied       = "Denied"
	EventManualReview = "ManualReview"
	EventIssued       = "Issued"
	EventFailed       = "Failed"
)

// SchemaVersion is the version of Record's schema, docs/governance-record.schema.json. It changes
// when a field changes meaning or goes; new optional fields do not change it.
const SchemaVersion = "v1"

// Key origins: who generated the private key of a CSR, as inferred from the requester's
// authenticated identity (the key never reaches the operator).
const (
	KeyOriginNode               = "node"
	KeyOriginPlatformController = "platform-controller"
	KeyOriginWorkload           = "workload"
	KeyOriginUser               = "user"
)

// Record is one governance entry. Fields that do not apply to an event are omitted.
type Record struct {
	SchemaVersion string `json:"schemaVersion"`
	// RecordID is the same for every copy of one record, so a consumer drops duplicates by it:
	// the operator writes each record at least once.
	RecordID  string    `json:"recordID"`
	Event     string    `json:"event"`
	CSR       string    `json:"csr"`
	CSRUID    string    `json:"csrUID"`
	Requester Requester `json:"requester"`
	// KeyOrigin classifies the requester as the party that generated the key: node,
	// platform-controller (a service account of kube-system or the operator's namespace),
	// workload (any other service account) or user (a person or an outside workflow).
	KeyOrigin  string   `json:"keyOrigin"`
	SignerName string   `json:"signerName"`
	Usages     []string `json:"usages,omitempty"`
	// RequestedLifetime is what the CSR asked for, empty when it asked for nothing.
	RequestedLifetime string `json:"requestedLifetime,omitempty"`
	// GrantedLifetime is what the certificate got after defaults and policy bounds.
	GrantedLifetime string `json:"grantedLifetime,omitempty"`
	IsCA            bool   `json:"isCA"`
	// Policy is the SignerPolicy that made the decision, if one did.
	Policy  string `json:"policy,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Approver is who wrote the Approved or Denied condition: on decision records, and on Issued
	// records for the approval the certificate followed.
	Approver    *Approver                        `json:"approver,omitempty"`
	Issuer      *Issuer                          `json:"issuer,omitempty"`
	Certificate *Certificate                     `json:"certificate,omitempty"`
	RBAC        []policyv1alpha1.GeneratedObject `json:"rbac,omitempty"`
}

// Requester is who asked, as the API server authenticated them.
type Requester struct {
	Username string              `json:"username"`
	UID      string              `json:"uid,omitempty"`
	Groups   []string            `json:"groups,omitempty"`
	Extra    map[string][]string `json:"extra,omitempty"`
}

// How a record knows its approver.
const (
	// ApproverOperator: the operator itself decided, under the identity it runs as.
	ApproverOperator = "operator"
	// ApproverWebhook: the operator's observing admission webhook saw the request that wrote the
	// condition, and the API server authenticated the approver as given.
	ApproverWebhook = "webhook"
	// ApproverAmbiguous: the webhook saw more than one identity write this same condition (a race
	// of which one landed); Candidates lists them all rather than guess.
	ApproverAmbiguous = "ambiguous"
	// ApproverUnknown: the webhook was not consulted (it was down or unreachable, or the operator
	// restarted since), so the record does not guess.
	ApproverUnknown = "unknown"
)

// Approver is who approved or denied a CSR.
type Approver struct {
	Source     string     `json:"source"`
	Identity   *Identity  `json:"identity,omitempty"`
	Candidates []Identity `json:"candidates,omitempty"`
}

// Identity is a user as the API server authenticated them.
type Identity struct {
	Username string              `json:"username"`
	UID      string              `json:"uid,omitempty"`
	Groups   []string            `json:"groups,omitempty"`
	Extra    map[string][]string `json:"extra,omitempty"`
}

// Issuer is the cert-manager issuer that signed.
type Issuer struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Type      string `json:"type,omitempty"`
}

// Certificate identifies an issued certificate.
type Certificate struct {
	Serial            string `json:"serial"`
	SHA256Fingerprint string `json:"sha256Fingerprint"`
	NotBefore         string `json:"notBefore"`
	NotAfter          string `json:"notAfter"`
}

// ForCSR starts a record with what every event shares: the CSR and its requester.
func ForCSR(event string, csr *certificatesv1.CertificateSigningRequest) Record {
	r := Record{
		Event: event, CSR: csr.Name, CSRUID: string(csr.UID), SignerName: csr.Spec.SignerName,
		Requester: Requester{Username: csr.Spec.Username, UID: csr.Spec.UID, Groups: csr.Spec.Groups},
	}
	if len(csr.Spec.Extra) > 0 {
		r.Requester.Extra = make(map[string][]string, len(csr.Spec.Extra))
		for k, v := range csr.Spec.Extra {
			r.Requester.Extra[k] = append([]string(nil), v...)
		}
	}
	for _, u := range csr.Spec.Usages {
		r.Usages = append(r.Usages, string(u))
	}
	return r
}

// Logger writes records through the logger named "audit", so that log pipelines can route
// them apart from operational logs.
type Logger struct {
	log logr.Logger
	// platform are the namespaces whose service accounts are platform controllers.
	platform []string
}

// New returns a Logger writing under log; the service accounts of platformNamespaces (kube-system
// and the operator's own) are classified as platform controllers.
func New(log logr.Logger, platformNamespaces ...string) *Logger {
	return &Logger{log: log.WithName("audit"), platform: platformNamespaces}
}

// Write emits one record, completing what every record carries.
func (l *Logger) Write(r Record) {
	r.SchemaVersion = SchemaVersion
	r.RecordID = RecordID(r.CSRUID, r.Event)
	r.KeyOrigin = keyOrigin(r.Requester.Username, l.platform)
	l.log.Info("governance record", "record", r)
}

// RecordID is derived from what makes a record one: the CSR (by UID, since names are reused) and
// the event, of which each CSR has each at most once.
func RecordID(csrUID, event string) string {
	sum := sha256.Sum256([]byte(csrUID + "/" + event))
	return hex.EncodeToString(sum[:16])
}

func keyOrigin(username string, platform []string) string {
	if strings.HasPrefix(username, "system:node:") {
		return KeyOriginNode
	}
	rest, isServiceAccount := strings.CutPrefix(username, "system:serviceaccount:")
	if !isServiceAccount {
		return KeyOriginUser
	}
	ns, _, _ := strings.Cut(rest, ":")
	if slices.Contains(platform, ns) {
		return KeyOriginPlatformController
	}
	return KeyOriginWorkload
}
