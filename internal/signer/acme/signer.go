package acme

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// Options configure the ACME signer.
type Options struct {
	// Client writes what the signer creates: generated account key Secrets and HTTP-01
	// challenge Ingresses. New defaults it to the manager's client.
	Client client.Client
	// Secrets reads Secrets (account keys, EAB keys, DNS provider credentials) straight from
	// the API server, so key material is never cached. New defaults it to the manager's API
	// reader.
	Secrets client.Reader
	// HTTP01Address is where the HTTP-01 challenge server listens (":8089"); empty runs no
	// server, leaving HTTP-01 to a replica that does.
	HTTP01Address string
	// HTTP01Service is the Service in front of every replica's HTTP01Address; the Ingresses of
	// http01.ingress solvers route to it, in its namespace. Without it those solvers are
	// refused.
	HTTP01Service types.NamespacedName
	// HTTP01ServicePort is the Service's port (default 80).
	HTTP01ServicePort int32
	// ClusterResourceNamespace is where ClusterIssuers' Secrets live. The challenge server
	// reads a ClusterIssuer's account key there to check the challenges of its CSRs, and
	// answers none for ClusterIssuers without it.
	ClusterResourceNamespace string
	// PollInterval is the first wait before looking at a pending order again, doubled every
	// second idle look up to MaxPollInterval (defaults 2s and 30s).
	PollInterval, MaxPollInterval time.Duration
	// Clock defaults to the real clock.
	Clock clock.PassiveClock
}

// Signer is the ACME signer. It is safe for concurrent use: accounts and order states are
// guarded per issuer and per CSR.
type Signer struct {
	client                   client.Client
	secrets                  client.Reader
	clusterResourceNamespace string
	http01Service            types.NamespacedName
	http01ServicePort        int32
	poll                     pollBackoff
	clock                    clock.PassiveClock
	accounts                 accounts
	states                   stateStore
}

var _ signer.Signer = (*Signer)(nil)

// New builds the signer for the manager. When opts.HTTP01Address is set it also registers
// HTTP01TokenIndex on CSRs and adds the HTTP-01 ChallengeServer to the manager, as a runnable
// every replica runs (it needs no leader).
func New(mgr manager.Manager, opts Options) (*Signer, error) {
	if opts.Client == nil {
		opts.Client = mgr.GetClient()
	}
	if opts.Secrets == nil {
		opts.Secrets = mgr.GetAPIReader()
	}
	s := NewSigner(opts)
	// The index serves the challenge server only; a manager without one (a Deployment that
	// does not sign) then needs no informer on CSRs for this signer.
	if opts.HTTP01Address != "" {
		err := mgr.GetFieldIndexer().IndexField(context.Background(), &certificatesv1.CertificateSigningRequest{}, HTTP01TokenIndex, IndexHTTP01Tokens)
		if err != nil {
			return nil, fmt.Errorf("indexing CSRs by HTTP-01 token: %w", err)
		}
		server := s.NewChallengeServer(opts.HTTP01Address, mgr.GetClient(), mgr.GetLogger().WithName("acme-http01"))
		if err := mgr.Add(server); err != nil {
			return nil, fmt.Errorf("adding the HTTP-01 challenge server: %w", err)
		}
	}
	return s, nil
}

// NewSigner builds the signer alone, without index or challenge server; New is what main.go
// uses. opts.Client and opts.Secrets must be set.
func NewSigner(opts Options) *Signer {
	s := &Signer{
		client: opts.Client, secrets: opts.Secrets, clusterResourceNamespace: opts.ClusterResourceNamespace,
		http01Service: opts.HTTP01Service, http01ServicePort: opts.HTTP01ServicePort,
		poll:  pollBackoff{base: opts.PollInterval, max: opts.MaxPollInterval},
		clock: opts.Clock,
	}
	if s.http01ServicePort == 0 {
		s.http01ServicePort = 80
	}
	if s.poll.base <= 0 {
		s.poll.base = defaultPollInterval
	}
	if s.poll.max < s.poll.base {
		s.poll.max = max(defaultMaxPollInterval, s.poll.base)
	}
	if s.clock == nil {
		s.clock = clock.RealClock{}
	}
	return s
}

// Sign looks at the CSR's order once and takes the next step: it returns the chain once the
// order is valid, a *PendingError while it is not, and a *PermanentError when it never will be.
func (s *Signer) Sign(ctx context.Context, req signer.Request) (signer.PEMChain, error) {
	spec, err := acmeSpec(req)
	if err != nil {
		return nil, err
	}
	names, err := orderIdentifiers(req.Parsed, req.IsCA)
	if err != nil {
		return nil, err
	}
	acct, err := s.account(ctx, req.Issuer, req.ResourceNamespace)
	if err != nil {
		return nil, err
	}
	seal := sealer{keys: acct.keys, csrUID: req.CSR.UID, signerName: req.CSR.Spec.SignerName, server: spec.Server}
	st := s.states.load(req.CSR, s.clock.Now(), seal, acct.binding)
	if len(st.ignored) > 0 {
		return nil, s.dropUnsealed(ctx, req, st)
	}
	ctx = ctrl.LoggerInto(ctx, ctrl.LoggerFrom(ctx).WithValues("signer", "acme", "order", st.orderURL))
	run := &orderRun{s: s, req: req, spec: spec, acct: acct, st: st, seal: seal, names: names}
	var chain []byte
	if st.orderURL == "" {
		err = run.create(ctx)
	} else {
		chain, err = run.resume(ctx)
	}
	if _, pending := signer.AsPending(err); !pending && (chain != nil || errors.As(err, new(*signer.PermanentError))) {
		// The order reached an end; the annotations keep its URL for the record.
		s.states.forget(req.CSR.UID)
	}
	return chain, err
}

// dropUnsealed clears the annotations that held values this operator did not seal for the CSR and
// issuer, so that nothing reads them again (the challenge server's index included), and reports
// them once. It is a pending report, not a failure: such values come from a requester who set
// them, but also from a CSR re-created from a copy of another, an upgrade from unsealed
// annotations, or a rotated account key, and in every case the order can go on from what the
// operator can vouch for, a new one if need be. The contract gives signers no way to emit a
// Warning event, so the reason (a distinct one, to alert on) goes out as the pending event, and
// the operator's log names the CSR.
func (s *Signer) dropUnsealed(ctx context.Context, req signer.Request, st *orderState) error {
	for _, key := range st.ignored {
		if err := req.Progress.Annotate(ctx, key, ""); err != nil {
			return fmt.Errorf("clearing the %s annotation: %w", key, err)
		}
	}
	ignored := strings.Join(st.ignored, ", ")
	st.ignored = nil
	ctrl.LoggerFrom(ctx).Info("ignored and cleared progress annotations this operator did not seal", "csr", req.CSR.Name, "annotations", ignored)
	return signer.PendingAfter(s.poll.base, ReasonProgressAnnotationIgnored,
		"ignored and cleared %s: not sealed by this operator for this CSR with the issuer's ACME account key and server (set when the CSR was created or copied, or the issuer's account changed); the order goes on without them",
		ignored)
}

// acmeSpec checks what only the controller's dispatch can get wrong; an error rather than a
// panic keeps the other CSRs going.
func acmeSpec(req signer.Request) (*cmacme.ACMEIssuer, error) {
	if req.Issuer == nil || req.Issuer.GetSpec() == nil || req.Issuer.GetSpec().ACME == nil {
		return nil, errors.New("acme signer: issuer is not an ACME issuer")
	}
	if req.CSR == nil || req.Parsed == nil {
		return nil, errors.New("acme signer: request carries no parsed CertificateSigningRequest")
	}
	return req.Issuer.GetSpec().ACME, nil
}
