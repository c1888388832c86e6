package acme

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	"github.com/go-acme/lego/v4/acme"
	"github.com/go-acme/lego/v4/acme/api"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// orderRun is one look at one CSR's order, within one call to Sign.
type orderRun struct {
	s    *Signer
	req  signer.Request
	spec *cmacme.ACMEIssuer
	acct *account
	st   *orderState
	// seal seals the progress this run stores on the CSR.
	seal  sealer
	names []string
	// changed says the challenge records changed and must be stored before Sign returns.
	changed bool
	// moved says this look changed something on the order, which resets the backoff.
	moved bool
}

// create orders the CSR's identifiers and stores the order URL on the CSR before reporting
// pending, so that neither a restart nor a lagging cache leads to a second order.
func (r *orderRun) create(ctx context.Context) error {
	opts := &api.OrderOptions{}
	if r.spec.EnableDurationFeature {
		opts.NotAfter = r.s.clock.Now().Add(r.req.Duration)
	}
	if p := r.spec.Profile; p != "" {
		offered := r.acct.core.GetDirectory().Meta.Profiles
		if _, ok := offered[p]; !ok {
			return signer.PendingAfter(r.s.poll.max, ReasonProfileNotOffered, "spec.acme.profile %q is not offered by %s (offered: %v)",
				p, r.spec.Server, slices.Sorted(maps.Keys(offered)))
		}
		opts.Profile = p
	}
	order, err := r.acct.core.Orders.NewWithOptions(r.names, opts)
	if err != nil {
		return classifyOrderError(err, "creating the ACME order", r.s.poll.max)
	}
	if order.Location == "" {
		return errors.New("the ACME server created an order but returned no order URL")
	}
	if err := r.onServer("order URL", order.Location); err != nil {
		return err
	}
	r.st.orderURL = order.Location
	if err := r.req.Progress.Annotate(ctx, OrderURLAnnotation, r.seal.orderURL(order.Location)); err != nil {
		return fmt.Errorf("storing the order URL on the CSR: %w", err)
	}
	return signer.PendingAfter(r.s.poll.base, ReasonOrderCreated, "created ACME order %s for %s", order.Location, strings.Join(r.names, ", "))
}

// resume looks at the stored order and takes the step its status calls for.
func (r *orderRun) resume(ctx context.Context) ([]byte, error) {
	// Only a sealed annotation or this process's memory gets here, but nothing signed with the
	// account goes anywhere but the issuer's server.
	if err := r.onServer("order URL", r.st.orderURL); err != nil {
		return nil, r.fail(ctx, err)
	}
	// The order URL may have been created by a reconcile whose annotation write failed; it is
	// written again before anything else, the write being what makes the order resumable. The
	// seal is deterministic, so a stored value compares equal.
	if sealed := r.seal.orderURL(r.st.orderURL); r.req.CSR.Annotations[OrderURLAnnotation] != sealed {
		if err := r.req.Progress.Annotate(ctx, OrderURLAnnotation, sealed); err != nil {
			return nil, fmt.Errorf("storing the order URL on the CSR: %w", err)
		}
	}
	order, err := r.acct.core.Orders.Get(r.st.orderURL)
	if err != nil {
		return nil, r.orderLookupFailed(ctx, err)
	}
	if !sameIdentifiers(r.names, order.Identifiers) {
		return nil, r.fail(ctx, signer.Permanent(ReasonOrderFailed, "the order %s is for %v, not for this CSR's %v",
			r.st.orderURL, identifierValues(order.Identifiers), r.names))
	}
	if err := r.checkOrderURLs(order.Order); err != nil {
		return nil, r.fail(ctx, err)
	}
	progressed := order.Status != r.st.lastStatus
	r.st.lastStatus = order.Status
	switch order.Status {
	case acme.StatusPending:
		return nil, r.advance(ctx, order.Order, progressed)
	case acme.StatusReady:
		if err := r.cleanUpAll(ctx); err != nil {
			return nil, err
		}
		return r.finalize(ctx, order.Order)
	case acme.StatusProcessing:
		return nil, r.pending(progressed, ReasonOrderPending, "the ACME server is issuing the certificate for order %s", r.st.orderURL)
	case acme.StatusValid:
		if err := r.cleanUpAll(ctx); err != nil {
			return nil, err
		}
		return r.download(ctx, order.Order)
	case acme.StatusInvalid:
		return nil, r.fail(ctx, signer.Permanent(ReasonOrderFailed, "the ACME order %s is invalid: %s", r.st.orderURL, r.invalidDetail(order.Order)))
	}
	return nil, r.fail(ctx, signer.Permanent(ReasonOrderFailed, "the ACME order %s is %q", r.st.orderURL, order.Status))
}

// onServer refuses a URL that is not on the issuer's ACME server (spec.acme.server's scheme, host
// and port). Every URL the signer posts to with the account key or acts on passes through it: an
// order, authorization, challenge, finalize or certificate URL elsewhere comes from a server that
// is not the one the issuer trusts, and following it could have the signer present challenges
// for someone else's order.
func (r *orderRun) onServer(what, url string) error {
	if sameOrigin(r.spec.Server, url) {
		return nil
	}
	return signer.Permanent(ReasonInvalidOrder, "the %s %q is not on the issuer's ACME server %s; refusing to use it", what, url, r.spec.Server)
}

// checkOrderURLs checks the URLs of the order the signer may act on next.
func (r *orderRun) checkOrderURLs(order acme.Order) error {
	for _, url := range order.Authorizations {
		if err := r.onServer("authorization URL", url); err != nil {
			return err
		}
	}
	if err := r.onServer("finalize URL", order.Finalize); err != nil {
		return err
	}
	if order.Certificate != "" {
		return r.onServer("certificate URL", order.Certificate)
	}
	return nil
}

// orderLookupFailed: a server that no longer knows the order (expired, or another account's)
// will never finish it; anything else is retried.
func (r *orderRun) orderLookupFailed(ctx context.Context, err error) error {
	// A nonce lego gave up retrying is the server's trouble, not the order's.
	if errors.As(err, new(*acme.NonceError)) {
		return fmt.Errorf("reading the ACME order %s: %w", r.st.orderURL, err)
	}
	if p, ok := problemOf(err); ok && p.HTTPStatus >= http.StatusBadRequest && p.HTTPStatus < http.StatusInternalServerError {
		if p.HTTPStatus == http.StatusTooManyRequests {
			return classifyOrderError(err, "reading the ACME order", r.s.poll.max)
		}
		return r.fail(ctx, signer.Permanent(ReasonOrderFailed, "the ACME order %s can no longer be read: %s", r.st.orderURL, describe(p)))
	}
	return fmt.Errorf("reading the ACME order %s: %w", r.st.orderURL, err)
}

// finalize submits the CSR's own PKCS#10 request, so the requester's private key never leaves
// the requester, and delivers the certificate at once if the server issues synchronously.
func (r *orderRun) finalize(ctx context.Context, order acme.Order) ([]byte, error) {
	final, err := r.acct.core.Orders.UpdateForCSR(order.Finalize, r.req.Parsed.Raw)
	if err != nil {
		if p, ok := problemOf(err); ok && strings.HasSuffix(p.Type, ":orderNotReady") {
			// Finalized by an earlier reconcile whose outcome was lost; the next look sees it.
			return nil, r.pending(true, ReasonOrderPending, "the ACME order %s is being finalized", r.st.orderURL)
		}
		err = classifyOrderError(err, "finalizing the ACME order", r.s.poll.max)
		if _, permanent := signer.AsPermanent(err); permanent {
			return nil, r.fail(ctx, err)
		}
		return nil, err
	}
	if final.Status == acme.StatusValid && final.Certificate != "" {
		return r.download(ctx, final.Order)
	}
	return nil, r.pending(true, ReasonOrderPending, "finalized ACME order %s; waiting for the certificate", r.st.orderURL)
}

// download fetches the certificate with its chains, picks the preferred one and checks that it
// certifies the CSR's key.
func (r *orderRun) download(ctx context.Context, order acme.Order) ([]byte, error) {
	chains, err := r.acct.core.Certificates.GetAll(order.Certificate, true)
	if err != nil {
		return nil, fmt.Errorf("downloading the certificate of order %s: %w", r.st.orderURL, err)
	}
	chain, err := chooseChain(chains, order.Certificate, r.spec.PreferredChain)
	if err != nil {
		return nil, r.fail(ctx, err)
	}
	if err := verifyChain(chain, r.req.Parsed); err != nil {
		return nil, r.fail(ctx, err)
	}
	ctrl.LoggerFrom(ctx).V(1).Info("downloaded the certificate", "certificate", order.Certificate)
	return chain, nil
}

// invalidDetail is the server's reason for an invalid order: the order's problem document, or
// else the failed challenges' ones.
func (r *orderRun) invalidDetail(order acme.Order) string {
	if order.Error != nil {
		return describe(order.Error)
	}
	var details []string
	for _, url := range order.Authorizations {
		authz, err := r.acct.core.Authorizations.Get(url)
		if err != nil {
			continue
		}
		for _, ch := range authz.Challenges {
			if ch.Error != nil {
				details = append(details, authz.Identifier.Value+": "+describe(ch.Error))
			}
		}
	}
	if len(details) == 0 {
		return "the server gave no reason"
	}
	return strings.Join(details, "; ")
}

// pending reports the order as waiting, with a delay that grows while nothing moves.
func (r *orderRun) pending(progressed bool, reason, format string, args ...any) error {
	if progressed || r.moved || r.changed {
		r.st.idlePolls = 0
	} else {
		r.st.idlePolls++
	}
	return signer.PendingAfter(r.s.poll.after(r.st.idlePolls), reason, format, args...)
}

// fail cleans up whatever is presented before reporting a permanent failure: nothing will
// validate those challenges any more.
func (r *orderRun) fail(ctx context.Context, err error) error {
	if cleanupErr := r.cleanUpAll(ctx); cleanupErr != nil {
		ctrl.LoggerFrom(ctx).Error(cleanupErr, "storing the cleaned-up challenges of a failed order")
	}
	return err
}

func identifierValues(ids []acme.Identifier) []string {
	values := make([]string, 0, len(ids))
	for _, id := range ids {
		values = append(values, id.Value)
	}
	return values
}
