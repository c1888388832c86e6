package controllers

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/utils/ptr"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// Failed reasons of the signing gate, as cert-manager's CSR signers name them where they have
// one.
const (
	ReasonDeniedReference    = "DeniedReference"
	ReasonInvalidDuration    = "InvalidDuration"
	ReasonErrorParseDuration = "ErrorParseDuration"
	ReasonPolicyViolation    = "PolicyViolation"
	ReasonInvalidRequest     = "InvalidRequest"
	// ReasonIssuedCertificateMismatch: an upstream returned a certificate that is not what the
	// gate decided (less than was approved, or more), so it is not delivered.
	ReasonIssuedCertificateMismatch = "IssuedCertificateMismatch"
)

// ReasonNoSignerPolicy is the event of an approved CSR whose signer no SignerPolicy governs, so
// nothing is signed for it. One whose governing policy is not Ready yet gets ReasonWaiting, as
// at approval.
const ReasonNoSignerPolicy = "NoSignerPolicy"

// minimumDuration is the shortest certificate Kubernetes (spec.expirationSeconds) and
// cert-manager issue.
const minimumDuration = 600 * time.Second

// signingInputs is everything the gate reads for one CSR. Fields after the CSR are filled only
// as far as the gate gets: issuer is nil when it does not exist, and so on.
type signingInputs struct {
	csr    *certificatesv1.CertificateSigningRequest
	ref    policyv1alpha1.IssuerReference
	refErr error
	issuer cmapi.GenericIssuer
	// mayReference is the API server's answer to the reference SubjectAccessReview (Issuers only).
	mayReference bool
	policies     policy.Policies
	namespaces   namespaceFacts
	signers      *signer.Registry
	evaluator    *policy.Evaluator
	requests     *csr.Requests
}

// verdictKind is what the signing controller does with a CSR.
type verdictKind int

const (
	// verdictSkip: nothing to do (not this operator's, or already decided).
	verdictSkip verdictKind = iota
	// verdictWait: not now; an event says why and a watch brings the CSR back.
	verdictWait
	// verdictFail: never; the CSR gets a Failed condition.
	verdictFail
	// verdictSign: dispatch to the signer with the grant.
	verdictSign
)

// String names the verdict in logs.
func (k verdictKind) String() string {
	return [...]string{verdictSkip: "skip", verdictWait: "wait", verdictFail: "fail", verdictSign: "sign"}[k]
}

// verdict is the gate's one decision about a CSR.
type verdict struct {
	kind    verdictKind
	reason  string
	message string
	// warning makes a wait's event a Warning: something is wrong, not merely in progress.
	warning bool
	grant   grant
}

// grant is what the gate decided the certificate holds, and the policy that decided it.
type grant struct {
	// policy allows the request; nil before the policies were consulted.
	policy    *policyv1alpha1.SignerPolicy
	requested time.Duration // zero when the CSR asked for none
	lifetime  time.Duration
	isCA      bool
	usages    []certificatesv1.KeyUsage
	parsed    *x509.CertificateRequest
	typ       signer.IssuerType
}

// needsSigning reports whether a CSR is one the gate must look at beyond its conditions: read
// the issuer, ask the API server and list the policies only for those.
func needsSigning(c *certificatesv1.CertificateSigningRequest) bool {
	return csr.IsApproved(c) && !csr.IsFailed(c) && !csr.IsDenied(c) && !csr.IsIssued(c)
}

// gate decides, without a client, what to do with a CSR that is not yet issued, in the order
// of the design: signerName, conditions, issuer, reference, duration, the request itself, the
// requester's own policy, issuer readiness, signer.
func gate(in *signingInputs) verdict {
	c := in.csr
	switch {
	case errors.Is(in.refErr, csr.ErrNotCertManager), csr.IsFailed(c), csr.IsDenied(c), csr.IsIssued(c):
		return verdict{kind: verdictSkip}
	case in.refErr != nil:
		return verdict{kind: verdictWait, warning: true, reason: ReasonInvalidSignerName, message: in.refErr.Error()}
	case !csr.IsApproved(c):
		return verdict{kind: verdictWait, reason: ReasonWaitingApproval, message: "waiting for the CSR to be approved"}
	case in.issuer == nil:
		return verdict{kind: verdictWait, warning: true, reason: ReasonIssuerNotFound, message: in.ref.String() + " not found"}
	case in.ref.Kind == policyv1alpha1.IssuerKindIssuer && !in.mayReference:
		return failed(ReasonDeniedReference, fmt.Sprintf("requester %q may not reference Issuer %s/%s: needs verb reference on signers.cert-manager.io",
			c.Spec.Username, in.ref.Namespace, in.ref.Name))
	}
	g, refused := requestedGrant(c, in.requests)
	if refused != nil {
		return *refused
	}
	if v, ok := policyVerdict(in, &g); !ok {
		return v
	}
	if cond := issuerReadyCondition(in.issuer); cond != nil && cond.Status == cmmeta.ConditionFalse {
		// cert-manager's own verdict on the issuer; its update wakes the CSR through the watch.
		return verdict{kind: verdictWait, reason: ReasonIssuerNotReady, message: "issuer is not Ready: " + cond.Message}
	}
	g.typ, _ = signer.TypeOf(in.issuer.GetSpec())
	if _, ok := in.signers.Get(g.typ); !ok {
		return verdict{kind: verdictWait, warning: true, reason: ReasonUnsupportedIssuerType,
			message: fmt.Sprintf("the issuer is configured for %q, which this operator does not sign for", g.typ)}
	}
	return verdict{kind: verdictSign, grant: g}
}

// requestedGrant reads what the CSR asks for: its lifetime, CA flag, usages and parsed request.
// A CSR that cannot be read fails, whatever the policies say, since no policy can change it.
func requestedGrant(c *certificatesv1.CertificateSigningRequest, requests *csr.Requests) (grant, *verdict) {
	requested, wasRequested, err := csr.RequestedDuration(c)
	if err != nil {
		return grant{}, ptr.To(failed(ReasonErrorParseDuration, err.Error()))
	}
	if wasRequested && requested < minimumDuration {
		return grant{}, ptr.To(failed(ReasonInvalidDuration,
			fmt.Sprintf("requested duration %s is shorter than the minimum %s", requested, minimumDuration)))
	}
	isCA, err := csr.RequestedIsCA(c)
	if err != nil {
		return grant{}, ptr.To(failed(ReasonInvalidRequest, err.Error()))
	}
	parsed, err := requests.Parse(c)
	if err != nil {
		return grant{}, ptr.To(failed(ReasonInvalidRequest, err.Error()))
	}
	if !wasRequested {
		requested = 0
	}
	return grant{requested: requested, isCA: isCA, usages: c.Spec.Usages, parsed: parsed}, nil
}

// policyVerdict applies the requester's own policy in full, approval mode set aside: a CSR is
// signed only as a Ready policy that lists its requester allows, whoever approved it. It fills
// in the policy and lifetime of g and reports true when signing may go on.
func policyVerdict(in *signingInputs, g *grant) (verdict, bool) {
	d := in.evaluator.EvaluateForSigning(in.policies, signingRequest(in.csr, g, in.namespaces))
	switch d.Result {
	case policy.Approve:
		g.policy, g.lifetime = in.policies.Named(d.Policy), d.Lifetime
		return verdict{}, true
	case policy.NotGoverned:
		// Fail closed: an approval alone signs nothing. The CSR stays approved, and the policy
		// watch brings it back when a policy for its signer appears.
		return verdict{kind: verdictWait, warning: true, reason: ReasonNoSignerPolicy, message: fmt.Sprintf(
			"no SignerPolicy governs signer %s, so this operator signs nothing for it; the CSR is signed once a Ready SignerPolicy for the signer allows it",
			in.csr.Spec.SignerName)}, false
	case policy.Wait:
		return verdict{kind: verdictWait, reason: ReasonWaiting, message: d.Message()}, false
	}
	return failed(ReasonPolicyViolation, d.WithViolations("not signed: no SignerPolicy allows this request as it would be issued")), false
}

// signingRequest is the evaluator's view of a CSR the gate has already read without fault.
func signingRequest(c *certificatesv1.CertificateSigningRequest, g *grant, namespaces namespaceFacts) policy.Request {
	req := policy.Request{
		SignerName: c.Spec.SignerName,
		Requester:  requesterOf(c),
		CSR:        g.parsed,
		Usages:     g.usages,
		Duration:   g.requested,
		IsCA:       g.isCA,
	}
	namespaces.into(&req)
	return req
}

func failed(reason, message string) verdict {
	return verdict{kind: verdictFail, reason: reason, message: message}
}

func issuerReadyCondition(issuer cmapi.GenericIssuer) *cmapi.IssuerCondition {
	for i, c := range issuer.GetStatus().Conditions {
		if c.Type == cmapi.IssuerConditionReady {
			return &issuer.GetStatus().Conditions[i]
		}
	}
	return nil
}
