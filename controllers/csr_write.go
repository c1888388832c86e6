package controllers

import (
	"context"
	"fmt"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// landedTimeout bounds the read that settles whether a write landed.
const landedTimeout = 5 * time.Second

// csrWrite is one write to a CSR, and how to recognise it in the CSR as stored.
type csrWrite struct {
	// what names the write in errors, such as "marking the CSR Failed".
	what string
	// send performs the write; on success it leaves the written CSR in place.
	send func(context.Context) error
	// landed reports whether a CSR read back holds this write (and not someone else's).
	landed func(*certificatesv1.CertificateSigningRequest) bool
}

// writeCSR is the protocol every write to a CSR goes through, so that what a write owes (an
// event, a metric, a governance record) is delivered exactly when the write is stored:
//   - it returns the CSR as written when send succeeds;
//   - a conflict returns an error: the CSR changed (perhaps someone else decided it), and the
//     requeue re-reads it before anything is decided again;
//   - any other error may be a lost response to a write that landed, so it re-reads the CSR past
//     the cache and returns it when landed finds the write there, and an error otherwise.
//
// A caller records only after writeCSR returns a CSR, so a write is recorded once if it landed
// and never if it did not; a reconcile retried after an error writes, and records, again.
func writeCSR(ctx context.Context, reader client.Reader, c *certificatesv1.CertificateSigningRequest, w csrWrite) (*certificatesv1.CertificateSigningRequest, error) {
	err := w.send(ctx)
	if err == nil {
		return c, nil
	}
	if apierrors.IsConflict(err) {
		return nil, fmt.Errorf("%s: %w", w.what, err)
	}
	// A stopping manager cancels ctx, which is often why the response was lost; the one read
	// that settles whether the write landed must still happen.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), landedTimeout)
	defer cancel()
	var got certificatesv1.CertificateSigningRequest
	if rerr := reader.Get(rctx, client.ObjectKey{Name: c.Name}, &got); rerr != nil || !w.landed(&got) {
		return nil, fmt.Errorf("%s: %w", w.what, err)
	}
	return &got, nil
}
