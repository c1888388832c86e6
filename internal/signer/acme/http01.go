package acme

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// http01Path is where ACME servers fetch HTTP-01 key authorizations (RFC 8555 section 8.3).
const http01Path = "/.well-known/acme-challenge/"

// Labels and annotations on the Ingresses the signer creates.
const (
	// HTTP01SolverLabel marks the signer's challenge Ingresses, so they can be found and
	// cleaned up by hand if a CSR is deleted mid-order.
	HTTP01SolverLabel = "acme.policy.signerpolicy.dev/http01-solver"
	// HTTP01CSRAnnotation names the CSR a challenge Ingress serves (names can exceed the 63
	// characters a label value may hold).
	HTTP01CSRAnnotation = "acme.policy.signerpolicy.dev/csr"
	// ingressClassAnnotation is the pre-ingressClassName way to pick a controller, which
	// cert-manager's http01.ingress.class sets.
	ingressClassAnnotation = "kubernetes.io/ingress.class"
)

// http01Solver answers from the operator's own listener. Its key authorization is presented by
// storing the sealed challenge record on the CSR, which the Signer does for every solver; with an
// ingress it also routes the challenge path for the host to the operator's challenge Service.
type http01Solver struct {
	client  client.Client
	service types.NamespacedName
	port    int32
	ingress *cmacme.ACMEChallengeSolverHTTP01Ingress
	csrName string
}

func (s *Signer) http01Solver(cfg *cmacme.ACMEChallengeSolverHTTP01, req signer.Request) (solver, error) {
	if cfg.GatewayHTTPRoute != nil {
		return nil, signer.Permanent(ReasonUnsupportedSolver, "the http01.gatewayHTTPRoute solver is not supported; use http01.ingress or dns01")
	}
	sol := &http01Solver{client: s.client, service: s.http01Service, port: s.http01ServicePort, ingress: cfg.Ingress, csrName: req.CSR.Name}
	if cfg.Ingress == nil {
		return sol, nil
	}
	if cfg.Ingress.Name != "" {
		return nil, signer.Permanent(ReasonUnsupportedSolver,
			"the http01.ingress.name solver (editing the existing Ingress %q) is not supported; leave name empty to have a challenge Ingress created", cfg.Ingress.Name)
	}
	if s.http01Service.Name == "" {
		return nil, signer.Permanent(ReasonUnsupportedSolver,
			"the http01.ingress solver needs the operator's HTTP-01 challenge Service, which this operator was not given")
	}
	return sol, nil
}

func (h *http01Solver) sequential() bool { return false }

// present routes the challenge; the key authorization is the challenge server's to compute.
func (h *http01Solver) present(ctx context.Context, rec challengeRecord, _ string) error {
	if h.ingress == nil {
		return nil
	}
	err := h.client.Create(ctx, h.challengeIngress(rec))
	if apierrors.IsAlreadyExists(err) {
		return nil // presented before a restart; the name is derived from the token
	}
	if err != nil {
		return fmt.Errorf("creating the HTTP-01 Ingress for %s: %w", rec.Identifier, err)
	}
	return nil
}

func (h *http01Solver) cleanUp(ctx context.Context, rec challengeRecord, _ string) error {
	if h.ingress == nil {
		return nil
	}
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: h.service.Namespace, Name: ingressName(rec.Token)}}
	if err := h.client.Delete(ctx, ing); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting the HTTP-01 Ingress %s/%s: %w", ing.Namespace, ing.Name, err)
	}
	return nil
}

// ingressName derives the Ingress's name from the challenge token, so that a restarted
// operator finds the Ingress it created before.
func ingressName(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "acme-http01-" + hex.EncodeToString(sum[:10])
}

// challengeIngress routes the challenge path for the identifier to the operator's challenge
// Service. It lives in the Service's namespace because an Ingress can only route to Services of
// its own namespace. An IP identifier gets a rule without host, since Ingress hosts are names.
func (h *http01Solver) challengeIngress(rec challengeRecord) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   h.service.Namespace,
			Name:        ingressName(rec.Token),
			Labels:      map[string]string{},
			Annotations: map[string]string{},
		},
	}
	if tmpl := h.ingress.IngressTemplate; tmpl != nil {
		for k, v := range tmpl.Labels {
			ing.Labels[k] = v
		}
		for k, v := range tmpl.Annotations {
			ing.Annotations[k] = v
		}
	}
	ing.Labels[HTTP01SolverLabel] = "true"
	ing.Annotations[HTTP01CSRAnnotation] = h.csrName
	if h.ingress.Class != nil {
		ing.Annotations[ingressClassAnnotation] = *h.ingress.Class
	}
	ing.Spec.IngressClassName = h.ingress.IngressClassName
	host := rec.Identifier
	if rec.Type != "http-01" || isIP(host) {
		host = ""
	}
	pathType := networkingv1.PathTypeExact
	ing.Spec.Rules = []networkingv1.IngressRule{{
		Host: host,
		IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
			Paths: []networkingv1.HTTPIngressPath{{
				Path:     http01Path + rec.Token,
				PathType: &pathType,
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
					Name: h.service.Name,
					Port: networkingv1.ServiceBackendPort{Number: h.port},
				}},
			}},
		}},
	}}
	return ing
}
