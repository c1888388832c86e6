package venafi

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Venafi/vcert/v5/pkg/certificate"
	"github.com/Venafi/vcert/v5/pkg/endpoint"
	"github.com/Venafi/vcert/v5/pkg/util"
	"github.com/Venafi/vcert/v5/pkg/venafi/tpp"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	"github.com/go-logr/logr"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// order requests a certificate for the CSR and records the pickup ID. It always returns an
// error: pending once the pickup ID is stored, or why the request could not be made.
func (s *Signer) order(ctx context.Context, sess *session, req signer.Request, fields []certificate.CustomField) error {
	sess.rec.reset()
	zone, err := call(sess.conn.ReadZoneConfiguration)
	if err != nil {
		return sess.failure(stepZone, "reading zone "+sess.zone, err)
	}
	vreq, err := buildRequest(zone, req, fields)
	if err != nil {
		return err
	}
	if sess.tpp != nil {
		// As cert-manager does, clear a failed earlier enrollment of the same certificate object
		// first, or TPP would answer this request with the old error ("Fix any errors, and then
		// click Retry"). Without restart, a reset leaves an issued certificate alone.
		sess.rec.reset()
		_, err := call(func() (struct{}, error) { return struct{}{}, sess.tpp.ResetCertificate(vreq, false) })
		if err != nil && !tpp.IsCertNotFound(err) {
			return sess.failure(stepRequest, "the reset of the earlier enrollment of "+vreq.FriendlyName, err)
		}
	}
	sess.rec.reset()
	pickupID, err := call(func() (string, error) { return sess.conn.RequestCertificate(vreq) })
	if err != nil {
		return sess.failure(stepRequest, "the certificate request", err)
	}
	if pickupID == "" {
		return fmt.Errorf("%s at %s for %s answered the certificate request without a pickup ID", sess.service, sess.url, sess.issuer)
	}
	if err := s.persist(ctx, req, PickupIDAnnotation, pickupID); err != nil {
		// Nothing records the order, so the next attempt orders again; the service sees two
		// requests, which is the lesser harm than a CSR that never completes.
		return fmt.Errorf("%s at %s accepted the certificate request with pickup ID %q, but storing it on the CSR failed: %w",
			sess.service, sess.url, pickupID, err)
	}
	log := logr.FromContextOrDiscard(ctx)
	log.Info("requested a certificate from Venafi", "service", sess.service, "url", sess.url, "zone", sess.zone, "pickupID", pickupID)
	// The request time only paces the polls; without it they start again from MinPoll.
	if err := s.persist(ctx, req, RequestedAtAnnotation, s.clock.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		log.Error(err, "storing the request time; polls are paced from the first retrieval instead")
	}
	note := ""
	if len(fields) > 0 && sess.tpp == nil {
		note = "; the custom fields were not sent, Venafi Cloud takes none"
	}
	return signer.PendingAfter(s.minPoll, ReasonIssuancePending, "requested a certificate from %s at %s in zone %q; pickup ID %q%s",
		sess.service, sess.url, sess.zone, pickupID, note)
}

// persist stores an annotation on the CSR through the controller's progress recorder.
//
// It is not retried here: the recorder patches the controller's copy of the CSR in place, so a
// second attempt after a failed one would compute an empty patch and report success for an
// annotation that was never stored. A failure goes back to the controller instead, which reads
// the CSR afresh before the next attempt.
func (s *Signer) persist(ctx context.Context, req signer.Request, key, value string) error {
	return req.Progress.Annotate(ctx, key, value)
}

// buildRequest turns the CSR into a vcert request, as cert-manager's Venafi client does: the
// zone's defaults are applied and its policy checked locally, so that a CSR the zone forbids
// fails with a clear message before anything is sent; the PKCS#10 request the gate judged goes
// out unchanged, with the gate's lifetime, the custom fields and this operator as origin.
//
// The lifetime is always sent: the zone (or its CA) decides whether to honour it, and the
// certificate the service returns carries the lifetime it granted.
func buildRequest(zone *endpoint.ZoneConfiguration, req signer.Request, fields []certificate.CustomField) (*certificate.Request, error) {
	tmpl, err := pki.CertificateTemplateFromCSRPEM(req.RequestPEM())
	if err != nil {
		return nil, signer.Permanent(ReasonErrorRequest, "spec.request cannot be turned into a Venafi request: %w", err)
	}
	// Venafi names the certificate object after the subject and refuses requests without one,
	// as cert-manager documents.
	if tmpl.Subject.String() == "" {
		return nil, signer.Permanent(ReasonErrorRequest,
			"spec.request has an empty subject; Venafi issuers need a common name or another subject field")
	}
	duration := req.Duration
	vreq := certificate.NewRequest(tmpl)
	vreq.Subject = tmpl.Subject
	vreq.ValidityDuration = &duration
	// TPP takes the end date under the attribute name of each CA type; this sends all of them.
	vreq.IssuerHint = util.IssuerHintAllIssuers
	vreq.ChainOption = certificate.ChainOptionRootLast
	vreq.CustomFields = append([]certificate.CustomField{{Type: certificate.CustomFieldOrigin, Value: origin}}, fields...)
	zone.UpdateCertificateRequest(vreq)
	if err := zone.ValidateCertificateRequest(vreq); err != nil {
		return nil, signer.Permanent(ReasonErrorRequest, "spec.request breaks the policy of the Venafi zone: %w", err)
	}
	vreq.FriendlyName = friendlyName(tmpl)
	vreq.CsrOrigin = certificate.UserProvidedCSR
	if err := vreq.SetCSR(req.RequestPEM()); err != nil {
		return nil, signer.Permanent(ReasonErrorRequest, "spec.request: %w", err)
	}
	return vreq, nil
}

// friendlyName names the certificate object in the zone, in cert-manager's order of preference:
// common name, then the first DNS name, URI, email address or IP address.
func friendlyName(tmpl *x509.Certificate) string {
	switch {
	case tmpl.Subject.CommonName != "":
		return tmpl.Subject.CommonName
	case len(tmpl.DNSNames) > 0:
		return tmpl.DNSNames[0]
	case len(tmpl.URIs) > 0:
		return tmpl.URIs[0].String()
	case len(tmpl.EmailAddresses) > 0:
		return tmpl.EmailAddresses[0]
	case len(tmpl.IPAddresses) > 0:
		return tmpl.IPAddresses[0].String()
	}
	// The subject is not empty (checked by the caller), so something names the object.
	return tmpl.Subject.String()
}

// retrieve asks the service for the certificate of the stored pickup ID.
func (s *Signer) retrieve(ctx context.Context, sess *session, req signer.Request, m marks) (signer.PEMChain, error) {
	vreq := &certificate.Request{PickupID: m.pickupID, ChainOption: certificate.ChainOptionRootLast, CsrOrigin: certificate.UserProvidedCSR}
	// With the CSR set, vcert checks that the certificate it gets carries the CSR's key.
	if err := vreq.SetCSR(req.RequestPEM()); err != nil {
		return nil, signer.Permanent(ReasonErrorRequest, "spec.request: %w", err)
	}
	sess.rec.reset()
	pems, err := call(func() (*certificate.PEMCollection, error) { return sess.conn.RetrieveCertificate(vreq) })
	var pending endpoint.ErrCertificatePending
	if errors.As(err, &pending) {
		return nil, s.stillPending(ctx, sess, req, m, pending.Status)
	}
	if err != nil {
		return nil, sess.failure(stepRetrieve, "retrieving pickup ID "+m.pickupID, err)
	}
	return verifiedChain(sess, req, m.pickupID, pems)
}

// stillPending reports the certificate as not issued yet, asking to be called again after the
// backoff. A CSR whose request time was never stored (an interrupted write, or a pickup ID set
// by cert-manager) gets it now, so that its polls slow down from here on.
func (s *Signer) stillPending(ctx context.Context, sess *session, req signer.Request, m marks, status string) error {
	after, known := s.pollDelay(m.requestedAt)
	if !known {
		if err := s.persist(ctx, req, RequestedAtAnnotation, s.clock.Now().UTC().Format(time.RFC3339Nano)); err != nil {
			logr.FromContextOrDiscard(ctx).Error(err, "storing the request time of a pending Venafi certificate")
		}
	}
	detail := ""
	if status = strings.TrimSpace(status); status != "" {
		detail = fmt.Sprintf(" (%s)", sess.redact(bounded(status)))
	}
	return signer.PendingAfter(after, ReasonIssuancePending, "%s at %s has not issued the certificate for pickup ID %q yet%s",
		sess.service, sess.url, m.pickupID, detail)
}

// pollDelay is how long to wait before the next retrieval: as long as the request has been
// waiting, within [MinPoll, MaxPoll]. It reports false when requestedAt cannot be read.
func (s *Signer) pollDelay(requestedAt string) (time.Duration, bool) {
	at, err := time.Parse(time.RFC3339Nano, requestedAt)
	if err != nil {
		return s.minPoll, false
	}
	return min(max(s.clock.Since(at), s.minPoll), s.maxPoll), true
}

// verifiedChain returns the chain the service issued, leaf first and without a self-signed
// root, once it parses as a single chain and its leaf carries the CSR's public key: the service
// is trusted to sign, not to sign the right thing.
func verifiedChain(sess *session, req signer.Request, pickupID string, pems *certificate.PEMCollection) (signer.PEMChain, error) {
	if pems == nil || pems.Certificate == "" {
		return nil, signer.Permanent(ReasonErrorParse, "%s at %s returned no certificate for pickup ID %q", sess.service, sess.url, pickupID)
	}
	blocks := append([]string{pems.Certificate}, pems.Chain...)
	bundle, err := pki.ParseSingleCertificateChainPEM([]byte(strings.Join(blocks, "\n")))
	if err != nil {
		return nil, signer.Permanent(ReasonErrorParse, "%s at %s returned a chain for pickup ID %q that is not one certificate chain: %v",
			sess.service, sess.url, pickupID, err)
	}
	certs, err := pki.DecodeX509CertificateChainBytes(bundle.ChainPEM)
	if err != nil || len(certs) == 0 {
		return nil, signer.Permanent(ReasonErrorParse, "%s at %s returned an unreadable chain for pickup ID %q", sess.service, sess.url, pickupID)
	}
	if ok, err := pki.PublicKeyMatchesCSR(certs[0].PublicKey, req.Parsed); err != nil || !ok {
		return nil, signer.Permanent(ReasonErrorKeyMatch, "%s at %s returned a certificate for pickup ID %q whose public key is not the CSR's",
			sess.service, sess.url, pickupID)
	}
	return signer.PEMChain(bundle.ChainPEM), nil
}
