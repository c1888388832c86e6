package controllers

import (
	"context"
	"fmt"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/signerpolicy/signer-policy-operator/internal/audit"
)

// credibleApprover keeps, of the identities the webhook saw write a decision, only those that may
// approve for the CSR's signer, as the API server's CertificateApproval check requires (approve on
// the signer's name or its domain's wildcard). The webhook cannot tell the API server's calls
// from anyone else's, so this is what bounds a forged observation: it can only name someone who
// could have made the decision, and it never hides one who did (the real request was observed too,
// which makes the record ambiguous, listing both).
func credibleApprover(ctx context.Context, c client.Client, signerName string, a *audit.Approver) (*audit.Approver, error) {
	if a == nil || (a.Source != audit.ApproverWebhook && a.Source != audit.ApproverAmbiguous) {
		return a, nil
	}
	candidates := a.Candidates
	if a.Identity != nil {
		candidates = []audit.Identity{*a.Identity}
	}
	var credible []audit.Identity
	for _, id := range candidates {
		ok, err := mayApprove(ctx, c, id, signerName)
		if err != nil {
			return nil, err
		}
		if ok {
			credible = append(credible, id)
		}
	}
	switch len(credible) {
	case 0:
		return &audit.Approver{Source: audit.ApproverUnknown}, nil
	case 1:
		return &audit.Approver{Source: audit.ApproverWebhook, Identity: &credible[0]}, nil
	}
	return &audit.Approver{Source: audit.ApproverAmbiguous, Candidates: credible}, nil
}

func mayApprove(ctx context.Context, c client.Client, id audit.Identity, signerName string) (bool, error) {
	domain, _, _ := strings.Cut(signerName, "/")
	for _, name := range []string{signerName, domain + "/*"} {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: id.Username, UID: id.UID, Groups: id.Groups,
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Group: "certificates.k8s.io", Resource: "signers", Verb: "approve", Name: name,
			},
		}}
		if err := c.Create(ctx, sar); err != nil {
			return false, fmt.Errorf("asking whether %q may approve for %s: %w", id.Username, signerName, err)
		}
		if sar.Status.Allowed {
			return true, nil
		}
	}
	return false, nil
}
