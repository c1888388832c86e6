package cli

import (
	"fmt"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
)

// csrState is where a submitted CSR stands; the zero value is a CSR not submitted yet.
type csrState struct {
	name                                        string
	submitted, approved, denied, failed, issued bool
	failedReason                                string
}

func stateOf(c *certificatesv1.CertificateSigningRequest) csrState {
	st := csrState{name: c.Name, submitted: true, approved: csr.IsApproved(c), denied: csr.IsDenied(c), failed: csr.IsFailed(c), issued: csr.IsIssued(c)}
	if f := csr.Condition(c, certificatesv1.CertificateFailed); f != nil {
		st.failedReason = f.Reason
	}
	return st
}

// hints says what to change for the request to get its certificate, from where the CSR stands
// and what each governing policy says.
func hints(st csrState, e *evaluation, req *policy.Request) []string {
	if st.issued {
		return []string{fmt.Sprintf("Nothing: the certificate is in status.certificate "+
			"(kubectl get csr %s -o jsonpath='{.status.certificate}' | base64 -d).", st.name)}
	}
	var h []string
	switch {
	case st.denied:
		h = append(h, "A denied CSR stays denied: submit a new CSR that a policy allows.")
	case st.failed:
		h = append(h, fmt.Sprintf("A Failed CSR stays failed (%s; docs/troubleshooting.md explains each reason): "+
			"submit a new CSR once the cause is fixed.", st.failedReason))
	}
	if len(e.governing) == 0 {
		return append(h, fmt.Sprintf("No SignerPolicy governs %s, so the operator neither approves nor signs its CSRs: "+
			"use a signer name a policy governs (kubectl get signerpolicies lists them), or ask the platform team for a policy.", req.SignerName))
	}
	if a := firstOf(e.verdicts, allows); a != nil {
		return append(h, allowedHint(st, e.stage, a.policy))
	}
	var listed []string
	for _, v := range e.verdicts {
		switch v.kind {
		case refuses:
			h = append(h, fmt.Sprintf("Under %s, which lists you: request only what it allows (the errors above say "+
				"what it refuses), or ask its owners to change %s.", policy.Describe(v.policy.Name), fieldsOf(v.errors)))
		case notReady:
			h = append(h, fmt.Sprintf("%s is not Ready: its owners must fix what its Ready condition says; "+
				"until then the operator neither denies nor signs under it.", policy.Describe(v.policy.Name)))
		case notARequester:
			listed = append(listed, v.policy.Name)
		}
	}
	if len(listed) == len(e.verdicts) {
		h = append(h, fmt.Sprintf("No SignerPolicy governing %s lists %s as a requester: ask the platform team to add you, "+
			"or a group of yours, to spec.requesters of one of %s (kubectl signerpolicy policies --signer %s shows them), "+
			"or use a signer whose policy lists you.", req.SignerName, describeRequester(req.Requester), quoteAll(listed), req.SignerName))
	}
	return h
}

// allowedHint is the way forward when policy p allows the request.
func allowedHint(st csrState, s stage, p *policyv1alpha1.SignerPolicy) string {
	switch {
	case st.denied || st.failed:
		return fmt.Sprintf("%s allows this request now: submit it again.", policy.Describe(p.Name))
	case s == atSigning:
		return fmt.Sprintf("%s allows the request as it would be issued: if no certificate comes, the events above say "+
			"what signing waits for (docs/troubleshooting.md explains each reason).", policy.Describe(p.Name))
	case policy.IsManual(p) && st.submitted:
		return fmt.Sprintf("%s allows it and its approval is manual: ask one of its approvers (%s) to run "+
			"`kubectl certificate approve %s`.", policy.Describe(p.Name), describeSubjects(p.Spec.Approval.Approvers), st.name)
	case policy.IsManual(p):
		return fmt.Sprintf("%s allows it and its approval is manual: once submitted, one of its approvers (%s) decides.",
			policy.Describe(p.Name), describeSubjects(p.Spec.Approval.Approvers))
	case st.submitted:
		return fmt.Sprintf("%s approves it: if it stays pending, check that the operator runs.", policy.Describe(p.Name))
	}
	return fmt.Sprintf("Nothing: %s approves it as it is.", policy.Describe(p.Name))
}

func firstOf(verdicts []verdict, kind verdictKind) *verdict {
	for i := range verdicts {
		if verdicts[i].kind == kind {
			return &verdicts[i]
		}
	}
	return nil
}

// fieldsOf lists the policy fields that refused, each once.
func fieldsOf(errs field.ErrorList) string {
	var fields []string
	for _, e := range errs {
		if !slices.Contains(fields, e.Field) {
			fields = append(fields, e.Field)
		}
	}
	return strings.Join(fields, ", ")
}

func quoteAll(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(quoted, ", ")
}

// describeSubjects lists users, groups and service accounts, or says there are none.
func describeSubjects(s *policyv1alpha1.Subjects) string {
	if s == nil {
		return "none named"
	}
	var parts []string
	if len(s.Users) > 0 {
		parts = append(parts, "users "+strings.Join(s.Users, ", "))
	}
	if len(s.Groups) > 0 {
		parts = append(parts, "groups "+strings.Join(s.Groups, ", "))
	}
	if len(s.ServiceAccounts) > 0 {
		names := make([]string, len(s.ServiceAccounts))
		for i, sa := range s.ServiceAccounts {
			names[i] = sa.Namespace + "/" + sa.Name
		}
		parts = append(parts, "service accounts "+strings.Join(names, ", "))
	}
	for _, sel := range s.ServiceAccountSelectors {
		names := "any name"
		if len(sel.Names) > 0 {
			names = strings.Join(sel.Names, ", ")
		}
		parts = append(parts, fmt.Sprintf("service accounts %s in namespaces selected by %s", names, metav1.FormatLabelSelector(&sel.NamespaceSelector)))
	}
	if len(parts) == 0 {
		return "none named"
	}
	return strings.Join(parts, "; ")
}
