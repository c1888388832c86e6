package acme_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/signerpolicy/signer-policy-operator/internal/signer/acme"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// The operator is stopped once the order exists and started again (a new manager and a new
// signer, with nothing in memory): it resumes the order sealed on the CSR, and Pebble sees one
// order for the CSR's name. Not parallel: every test shares the manager this one stops.
func TestRestartResumesTheSameOrder(t *testing.T) {
	sol := httpSolver()
	// Holds the order at "challenge presented" long enough for the stop to land mid-order.
	sol.WaitInsteadOfSelfCheck = &metav1.Duration{Duration: 3 * time.Second}
	iss := newIssuer(t, baseSpec(peers.pebble, sol), false)
	name := unique() + ".restart.acme.test"
	r := request{tmpl: x509.CertificateRequest{DNSNames: []string{name}}}
	c, key := iss.submit(t, r)

	var orderURL string
	harness.Eventually(t, issueTimeout, func() error {
		var cur certificatesv1.CertificateSigningRequest
		if err := env.Admin.Get(context.Background(), client.ObjectKeyFromObject(c), &cur); err != nil {
			return err
		}
		if orderURL = cur.Annotations[acme.OrderURLAnnotation]; orderURL == "" {
			return fmt.Errorf("no order URL on %s yet", c.Name)
		}
		return nil
	})
	if err := env.StopManager(); err != nil {
		t.Fatalf("stopping the manager: %v", err)
	}
	started := false
	defer func() {
		if !started {
			_ = env.StartManager(operator)
		}
	}()
	var stopped certificatesv1.CertificateSigningRequest
	if err := env.Admin.Get(context.Background(), client.ObjectKeyFromObject(c), &stopped); err != nil {
		t.Fatal(err)
	}
	if len(stopped.Status.Certificate) > 0 {
		t.Fatalf("the certificate was issued before the operator stopped; nothing was resumed")
	}
	if err := env.StartManager(operator); err != nil {
		t.Fatalf("starting the manager again: %v", err)
	}
	started = true

	got := waitIssued(t, c)
	verifyIssued(t, got, key, iss.root(t, 0), r)
	if got.Annotations[acme.OrderURLAnnotation] != orderURL {
		t.Errorf("order URL changed across the restart: %s, then %s", orderURL, got.Annotations[acme.OrderURLAnnotation])
	}
	if n := iss.server.Proxy.NewOrders(name); n != 1 {
		t.Errorf("Pebble created %d orders for %s, want 1", n, name)
	}
	// The restarted operator opened what the first one sealed: nothing was ignored.
	if events := eventsOf(c.Name); strings.Contains(events, acme.ReasonProgressAnnotationIgnored) {
		t.Errorf("the restarted operator ignored its own progress: %s", events)
	}
}
