// Package venafi signs CertificateSigningRequests for cert-manager Venafi issuers, Venafi TLS
// Protect Datacenter (TPP) and Venafi Cloud, through vcert.
//
// Issuance is asynchronous at the service, so signing is "request, then poll", and no call
// ever waits for the service to finish:
//
//   - A CSR without a pickup ID is requested: its own PKCS#10 request (a user-provided CSR, in
//     vcert's terms), the lifetime the gate decided and the custom fields of the
//     venafi.experimental.cert-manager.io/custom-fields annotation. The pickup ID the service
//     answers with is stored in the venafi.experimental.cert-manager.io/pickup-id annotation
//     before Sign reports pending, so a restarted operator carries on with it and never
//     requests twice for one CSR.
//   - A CSR with a pickup ID is retrieved: "pending" is reported with a growing delay, a
//     certificate is checked (the chain parses, the leaf carries the CSR's public key) and
//     returned, and a rejection by the service fails the CSR with the service's message.
//
// The polling backoff is derived from the time the request was made, stored next to the
// pickup ID in the policy.signerpolicy.dev/venafi-requested-at annotation: each wait is as long
// as the request has already been waiting, bounded by MinPoll and MaxPoll. Polls therefore come
// at about MinPoll, 2×MinPoll, 4×MinPoll ... after the request and then every MaxPoll, with no
// write to the CSR per poll, and the schedule survives restarts.
package venafi

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/Venafi/vcert/v5/pkg/certificate"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	experimentalapi "github.com/cert-manager/cert-manager/pkg/apis/experimental/v1alpha1"
	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// Annotations the signer reads and writes on a CSR. The first two are cert-manager's, honoured
// as it documents them, so CSRs move between cert-manager's experimental controller and this
// operator without losing their place.
const (
	// CustomFieldsAnnotation holds the custom fields to send with the request, a JSON list of
	// {"name": ..., "value": ..., "type": "Plain"} objects.
	CustomFieldsAnnotation = experimentalapi.CertificateSigningRequestVenafiCustomFieldsAnnotationKey
	// PickupIDAnnotation holds the ID the service answered the request with.
	PickupIDAnnotation = experimentalapi.CertificateSigningRequestVenafiPickupIDAnnotationKey
	// RequestedAtAnnotation holds when the request was made (RFC 3339), for the poll backoff.
	RequestedAtAnnotation = "policy.signerpolicy.dev/venafi-requested-at"
)

// Reasons of the Venafi signer. Where cert-manager's Venafi CSR controller has a name for the
// same outcome it is reused, so existing alerts keep matching.
const (
	// ReasonErrorCustomFields: the custom-fields annotation is not valid. Permanent.
	ReasonErrorCustomFields = "ErrorCustomFields"
	// ReasonErrorLogin: the service refused the issuer's credentials. Pending: fixing the
	// Secret is enough.
	ReasonErrorLogin = "ErrorLogin"
	// ReasonErrorVenafiInit: the issuer's Venafi configuration cannot be used (no TPP or Cloud
	// section, an invalid URL or CA bundle, an unknown zone). Pending: fixing the issuer is
	// enough.
	ReasonErrorVenafiInit = "ErrorVenafiInit"
	// ReasonIssuancePending: the certificate was requested and the service has not issued it
	// yet. Pending.
	ReasonIssuancePending = "IssuancePending"
	// ReasonErrorRequest: the CSR cannot be requested: vcert cannot represent it, it breaks
	// the zone's policy, or the service refused the request. Permanent.
	ReasonErrorRequest = "ErrorRequest"
	// ReasonRejected: the service rejected the request or failed to issue it, and said why.
	// Permanent.
	ReasonRejected = "Rejected"
	// ReasonErrorRetrieve: the service no longer knows the pickup ID. Permanent.
	ReasonErrorRetrieve = "ErrorRetrieve"
	// ReasonErrorParse: the service returned a chain that does not parse as one chain.
	// Permanent.
	ReasonErrorParse = "ErrorParse"
	// ReasonErrorKeyMatch: the service returned a certificate for another public key.
	// Permanent.
	ReasonErrorKeyMatch = "ErrorKeyMatch"
)

// Defaults of Options.
const (
	DefaultMinPoll     = 5 * time.Second
	DefaultMaxPoll     = 5 * time.Minute
	DefaultRetryAfter  = time.Minute
	DefaultHTTPTimeout = 30 * time.Second
	DefaultUserAgent   = "signer-policy-operator"
	// origin is what the service records as the requesting tool.
	origin = "signer-policy-operator"
)

// Options configure a Signer.
type Options struct {
	// APIReader reads the issuers' Secrets and, just before a certificate is requested, the CSR
	// itself. It must read from the API server (mgr.GetAPIReader()), not a cache: credentials
	// are never cached, and a stale copy of the CSR could miss a pickup ID stored moments ago
	// and request a second certificate.
	APIReader client.Reader
	// Clock tells the time for the poll backoff; clock.RealClock{} when nil.
	Clock clock.PassiveClock
	// MinPoll and MaxPoll bound the wait between retrievals of a pending certificate
	// (DefaultMinPoll, DefaultMaxPoll when zero).
	MinPoll, MaxPoll time.Duration
	// RetryAfter is when a CSR waiting for the issuer's configuration (a missing Secret,
	// refused credentials, an unknown zone) is tried again; DefaultRetryAfter when zero. The
	// signing controller does not watch Venafi issuers' Secrets, so this is what picks up a
	// repaired Secret.
	RetryAfter time.Duration
	// RootCAs are trusted for services whose issuer names no CA bundle; Venafi Cloud issuers
	// have no field for one. Nil trusts the system roots.
	RootCAs *x509.CertPool
	// HTTPTimeout bounds each HTTP request to the service; DefaultHTTPTimeout when zero.
	HTTPTimeout time.Duration
	// UserAgent is sent with every request; DefaultUserAgent when empty.
	UserAgent string
}

// Signer requests certificates from Venafi TPP and Venafi Cloud.
type Signer struct {
	reader           client.Reader
	clock            clock.PassiveClock
	minPoll, maxPoll time.Duration
	retryAfter       time.Duration
	rootCAs          *x509.CertPool
	httpTimeout      time.Duration
	userAgent        string
}

var _ signer.Signer = (*Signer)(nil)

// New returns a Venafi signer. It fails for options that would make every CSR fail later: no
// APIReader, or MinPoll above MaxPoll.
func New(opts Options) (*Signer, error) {
	if opts.APIReader == nil {
		return nil, errors.New("venafi signer: Options.APIReader is required")
	}
	s := &Signer{
		reader:      opts.APIReader,
		clock:       opts.Clock,
		minPoll:     orDefault(opts.MinPoll, DefaultMinPoll),
		maxPoll:     orDefault(opts.MaxPoll, DefaultMaxPoll),
		retryAfter:  orDefault(opts.RetryAfter, DefaultRetryAfter),
		rootCAs:     opts.RootCAs,
		httpTimeout: orDefault(opts.HTTPTimeout, DefaultHTTPTimeout),
		userAgent:   opts.UserAgent,
	}
	if s.clock == nil {
		s.clock = clock.RealClock{}
	}
	if s.userAgent == "" {
		s.userAgent = DefaultUserAgent
	}
	if s.minPoll > s.maxPoll {
		return nil, fmt.Errorf("venafi signer: MinPoll %s is above MaxPoll %s", s.minPoll, s.maxPoll)
	}
	return s, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Sign requests a certificate for req or, once requested, retrieves it; see the package
// documentation for the sequence.
//
// Until a certificate is requested, the custom-fields annotation is checked before anything is
// read or sent, so a CSR that can never be requested fails at once, whatever the state of the
// issuer or the service. Once requested, the fields have been sent and no longer matter.
func (s *Signer) Sign(ctx context.Context, req signer.Request) (signer.PEMChain, error) {
	spec, err := venafiSpec(req)
	if err != nil {
		return nil, err
	}
	var fields []certificate.CustomField
	if req.CSR.Annotations[PickupIDAnnotation] == "" {
		if fields, err = parseCustomFields(req.CSR.Annotations[CustomFieldsAnnotation]); err != nil {
			return nil, signer.Permanent(ReasonErrorCustomFields, "annotation %s: %w", CustomFieldsAnnotation, err)
		}
	}
	marks, err := s.progressMarks(ctx, req.CSR)
	if err != nil {
		return nil, err
	}
	sess, err := s.open(ctx, req, spec)
	if err != nil {
		return nil, s.withRetry(err)
	}
	if marks.pickupID != "" {
		chain, err := s.retrieve(ctx, sess, req, marks)
		return chain, s.withRetry(err)
	}
	return nil, s.withRetry(s.order(ctx, sess, req, fields))
}

func venafiSpec(req signer.Request) (*cmapi.VenafiIssuer, error) {
	// Only the controller's dispatch can get these wrong; an error rather than a panic keeps the
	// other CSRs going.
	if req.Issuer == nil || req.Issuer.GetSpec() == nil || req.Issuer.GetSpec().Venafi == nil {
		return nil, errors.New("venafi signer: issuer is not a Venafi issuer")
	}
	if req.CSR == nil || req.Parsed == nil || req.Progress == nil {
		return nil, errors.New("venafi signer: request lacks the CSR, its parsed request or a progress recorder")
	}
	return req.Issuer.GetSpec().Venafi, nil
}

// marks are the signer's progress markers on a CSR.
type marks struct {
	pickupID, requestedAt string
}

// progressMarks returns the CSR's pickup ID and request time. Without a pickup ID on the copy
// the controller passed, the CSR is read again from the API server before anything is ordered:
// that copy usually comes from the informer cache, which can lag behind an annotation this
// signer stored moments ago, and ordering on its word would request a second certificate.
func (s *Signer) progressMarks(ctx context.Context, c *certificatesv1.CertificateSigningRequest) (marks, error) {
	m := marks{pickupID: c.Annotations[PickupIDAnnotation], requestedAt: c.Annotations[RequestedAtAnnotation]}
	if m.pickupID != "" {
		return m, nil
	}
	var fresh certificatesv1.CertificateSigningRequest
	if err := s.reader.Get(ctx, client.ObjectKey{Name: c.Name}, &fresh); err != nil {
		if apierrors.IsNotFound(err) {
			return marks{}, fmt.Errorf("CSR %s no longer exists", c.Name)
		}
		return marks{}, fmt.Errorf("reading CSR %s before requesting its certificate: %w", c.Name, err)
	}
	if c.UID != "" && fresh.UID != c.UID {
		return marks{}, fmt.Errorf("CSR %s was replaced by another object of the same name", c.Name)
	}
	return marks{pickupID: fresh.Annotations[PickupIDAnnotation], requestedAt: fresh.Annotations[RequestedAtAnnotation]}, nil
}

// withRetry gives a pending error that names no delay the signer's RetryAfter: the signing
// controller does not watch Venafi issuers' Secrets, so only a timed retry notices a repair.
func (s *Signer) withRetry(err error) error {
	if pe, ok := signer.AsPending(err); ok && pe.RequeueAfter <= 0 {
		pe.RequeueAfter = s.retryAfter
	}
	return err
}

// issuerName names the issuer in messages.
func issuerName(issuer cmapi.GenericIssuer) string {
	if issuer.GetNamespace() == "" {
		return fmt.Sprintf("ClusterIssuer %q", issuer.GetName())
	}
	return fmt.Sprintf("Issuer %q", issuer.GetNamespace()+"/"+issuer.GetName())
}
