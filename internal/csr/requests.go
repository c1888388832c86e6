package csr

import (
	"container/list"
	"crypto/sha256"
	"crypto/x509"
	"sync"

	certificatesv1 "k8s.io/api/certificates/v1"
)

// Requests parses each distinct spec.request once: the approval, signing and records controllers
// each read every CSR's request, and verifying its signature costs as much as signing a
// certificate. What it returns is shared, so callers must not modify it. It is keyed by the
// request's SHA-256, so a CSR's identity never matters, only its bytes; failures are not kept.
// It is safe for concurrent use and keeps at most its size, forgetting the least recently used.
type Requests struct {
	mu     sync.Mutex
	size   int
	order  *list.List // of *parsedRequest, most recently used first
	byHash map[[sha256.Size]byte]*list.Element
}

type parsedRequest struct {
	hash   [sha256.Size]byte
	parsed *x509.CertificateRequest
}

// NewRequests returns a Requests keeping at most size parsed requests.
func NewRequests(size int) *Requests {
	return &Requests{size: size, order: list.New(), byHash: map[[sha256.Size]byte]*list.Element{}}
}

// Parse is ParseRequest, from memory for a request parsed before. A nil Requests parses every
// time.
func (r *Requests) Parse(c *certificatesv1.CertificateSigningRequest) (*x509.CertificateRequest, error) {
	if r == nil || c == nil {
		return ParseRequest(c)
	}
	hash := sha256.Sum256(c.Spec.Request)
	r.mu.Lock()
	if e, ok := r.byHash[hash]; ok {
		r.order.MoveToFront(e)
		r.mu.Unlock()
		return e.Value.(*parsedRequest).parsed, nil
	}
	r.mu.Unlock()
	parsed, err := ParseRequest(c)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byHash[hash]; !ok {
		r.byHash[hash] = r.order.PushFront(&parsedRequest{hash: hash, parsed: parsed})
		if r.order.Len() > r.size {
			oldest := r.order.Back()
			r.order.Remove(oldest)
			delete(r.byHash, oldest.Value.(*parsedRequest).hash)
		}
	}
	return parsed, nil
}
