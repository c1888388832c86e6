package controllers

import (
	"context"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// landedTimeout bounds the read that settles whether a write landed.
const landedTimeout = 5 * time.Second

// landed tells a write that failed from one whose response was lost: after a write returned an
// error it re-reads the CSR from the API server, bypassing the cache, and returns it when check
// finds the write in it, so that the governance record a landed write owes is still written.
func landed(ctx context.Context, reader client.Reader, name string,
	check func(*certificatesv1.CertificateSigningRequest) bool) (*certificatesv1.CertificateSigningRequest, bool) {
	// A stopping manager cancels ctx, which is often why the response was lost; the one read
	// that settles whether the write landed must still happen.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), landedTimeout)
	defer cancel()
	var got certificatesv1.CertificateSigningRequest
	if err := reader.Get(rctx, client.ObjectKey{Name: name}, &got); err != nil {
		return nil, false
	}
	return &got, check(&got)
}
