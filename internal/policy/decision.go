package policy

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Result is what the approval controller should do with a CSR.
type Result string

const (
	// NotGoverned: no SignerPolicy governs the CSR's signerName; leave the CSR alone.
	NotGoverned Result = "NotGoverned"
	// Approve: an Automatic policy allows the CSR.
	Approve Result = "Approve"
	// Deny: every governing policy is Ready and Automatic, and none allows the CSR.
	Deny Result = "Deny"
	// Wait: no policy allows the CSR yet, and a governing policy is not Ready, so a refusal now
	// could be wrong; keep the CSR pending.
	Wait Result = "Wait"
	// Manual: people decide; Policy names the Manual policy that would allow the CSR, if any.
	Manual Result = "Manual"
)

// Decision is the outcome of evaluating a CSR against the policies governing its signer.
type Decision struct {
	Result Result
	// Policy names the policy that allows the CSR: set with Approve, and with Manual when a
	// Manual policy would allow it.
	Policy string
	// Lifetime is what the allowing policy grants: the requested lifetime, or the policy's
	// default, clamped at signing to its max. Set with Approve.
	Lifetime time.Duration
	// Violations lists, sorted by policy name, each Ready policy that refused the CSR. It is
	// empty when a policy allows the CSR, because other policies' refusals no longer matter.
	Violations []PolicyViolation
	// NotReady lists, sorted, the governing policies that are not Ready; set with Wait.
	NotReady []string
}

// PolicyViolation holds why one policy refused a CSR.
type PolicyViolation struct {
	Policy string
	Errors field.ErrorList
}

// notARequester is 1 when the policy refused the CSR only because it does not name the requester.
func (v PolicyViolation) notARequester() int {
	if len(v.Errors) == 1 && v.Errors[0].Field == "spec.requesters" {
		return 1
	}
	return 0
}

// maxListedViolations bounds Message: a CSR condition is read by people, and an event message is
// cut at 1 KiB by the API server anyway.
const maxListedViolations = 10

// Message is the human text for the CSR's condition or event.
func (d Decision) Message() string {
	switch d.Result {
	case NotGoverned:
		return "no SignerPolicy governs this signer"
	case Approve:
		return "approved by " + Describe(d.Policy)
	case Wait:
		head := "waiting for policy " + quoteAll(d.NotReady) + " to become Ready"
		if len(d.Violations) > 0 {
			head += "; no Ready policy allows this request"
		}
		return withViolations(head, d.Violations)
	case Manual:
		if d.Policy != "" {
			return Describe(d.Policy) + " allows this request; its approval is manual, so an approver decides"
		}
		return withViolations("no SignerPolicy allows this request; approval is manual, so an approver decides", d.Violations)
	case Deny:
		return withViolations("denied: no SignerPolicy allows this request", d.Violations)
	}
	return fmt.Sprintf("unknown decision %q", string(d.Result))
}

// Responsible names the policy a decision is about: the allowing policy when there is one, else
// the first policy that names the requester in the order Message lists refusals, or "" when no
// policy names the requester. Metrics and dashboards group decisions by it.
func (d Decision) Responsible() string {
	if d.Policy != "" {
		return d.Policy
	}
	for _, v := range orderedViolations(d.Violations) {
		if v.notARequester() == 0 {
			return v.Policy
		}
	}
	return ""
}

// WithViolations is head followed by why each policy refused, as Message lists them.
func (d Decision) WithViolations(head string) string {
	return withViolations(head, d.Violations)
}

func withViolations(head string, violations []PolicyViolation) string {
	if len(violations) == 0 {
		return head
	}
	violations = orderedViolations(violations)
	var b strings.Builder
	b.WriteString(head)
	b.WriteString(":")
	// One error per line, the policies that name the requester first, so that a message cut short
	// keeps what the requester can act on.
	for i, v := range violations {
		if i == maxListedViolations {
			fmt.Fprintf(&b, "\n- and %d more policies", len(violations)-i)
			break
		}
		for _, err := range v.Errors {
			fmt.Fprintf(&b, "\n- policy %q: %s", v.Policy, err.Error())
		}
	}
	return b.String()
}

// orderedViolations puts the policies that name the requester first: theirs are the errors to act
// on. The order is otherwise kept (by policy name).
func orderedViolations(violations []PolicyViolation) []PolicyViolation {
	violations = slices.Clone(violations)
	slices.SortStableFunc(violations, func(a, b PolicyViolation) int {
		return cmp.Compare(a.notARequester(), b.notARequester())
	})
	return violations
}

func quoteAll(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	return strings.Join(quoted, ", ")
}
