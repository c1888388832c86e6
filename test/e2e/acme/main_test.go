// Package acme_test proves the ACME signer end to end: the operator's manager on a real control
// plane (test/harness) drives the real lego client against a real Pebble, which validates
// HTTP-01 challenges by connecting to the operator's challenge listener on loopback and DNS-01
// challenges by querying the test's nameserver, which the signer updates over RFC 2136.
package acme_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/signerpolicy/signer-policy-operator/controllers"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/acme"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/ca"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
	"github.com/signerpolicy/signer-policy-operator/test/pebble"
)

// clusterResourceNamespace holds ClusterIssuers' Secrets and the challenge Ingresses.
const clusterResourceNamespace = "signer-policy-system"

// challengeService is the Service the operator's deployment would put in front of the HTTP-01
// listener; envtest runs no Service controller, so it only names the Ingresses' backend.
var challengeService = types.NamespacedName{Namespace: clusterResourceNamespace, Name: "signer-policy-acme-http01"}

// The EAB key IDs and HMAC keys the EAB-requiring Pebble knows.
const (
	eabKeyID      = "kid-1"
	eabOtherKeyID = "kid-2"
)

var (
	// env is the control plane and manager every test shares.
	env *harness.Env
	// operator is how the manager is (re)started, for the restart test.
	operator controllers.Options
	// records holds the governance records every manager of the suite writes.
	records = &harness.AuditSink{}
	// peers are the ACME peers.
	peers struct {
		challtestsrv *pebble.ChallTestSrv
		dns          *pebble.DNSServer
		pebble       *pebble.Server
		eabPebble    *pebble.Server
		eabKeys      map[string]string
		// http01Addr is where the operator's HTTP-01 challenge server listens, and where Pebble
		// connects to validate.
		http01Addr string
	}
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "acme-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := startPeers(dir); err != nil {
		fmt.Fprintln(os.Stderr, "starting the ACME peers:", err, "; logs in", dir)
		_ = stopPeers()
		return 1
	}
	code := harness.Main(m, &env, operator)
	if err := stopPeers(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the ACME peers:", err)
	}
	if code != 0 {
		fmt.Fprintln(os.Stderr, "Peer logs kept in", dir)
		return code
	}
	_ = os.RemoveAll(dir)
	return code
}

// startPeers installs Pebble and pebble-challtestsrv if needed, starts pebble-challtestsrv, the
// RFC 2136 nameserver and two Pebbles (one requiring External Account Binding) and sets up the
// operator's options.
func startPeers(dir string) error {
	root, err := harness.ModuleRoot()
	if err != nil {
		return err
	}
	bins, err := pebble.Install(root)
	if err != nil {
		return err
	}
	if peers.challtestsrv, err = pebble.StartChallTestSrv(bins.ChallTestSrv, dir); err != nil {
		return err
	}
	if peers.dns, err = pebble.StartDNS("acme.test", peers.challtestsrv); err != nil {
		return err
	}
	ports, err := pebble.FreePorts(1)
	if err != nil {
		return err
	}
	http01Port := ports[0]
	peers.http01Addr = "127.0.0.1:" + strconv.Itoa(http01Port)
	peers.eabKeys = map[string]string{
		eabKeyID:      base64.RawURLEncoding.EncodeToString([]byte("an HMAC key for the tests, 32+ bytes long")),
		eabOtherKeyID: base64.RawURLEncoding.EncodeToString([]byte("another HMAC key, for the HS512 binding test: HS512 needs 64 bytes or more")),
	}
	day := uint64(24 * 3600)
	for _, p := range []struct {
		name string
		srv  **pebble.Server
		opts pebble.Options
	}{
		{"pebble", &peers.pebble, pebble.Options{Blocklist: []string{"blocked.acme.test"}, AlternateRoots: 1, Profiles: map[string]pebble.Profile{
			"default": {Description: "90 days", ValidityPeriod: 90 * day}, "shortlived": {Description: "6 days", ValidityPeriod: 6 * day},
		}}},
		{"pebble-eab", &peers.eabPebble, pebble.Options{EABKeys: peers.eabKeys}},
	} {
		p.opts.Binary, p.opts.HTTPPort, p.opts.DNSServer = bins.Pebble, http01Port, peers.challtestsrv.DNSAddr
		p.opts.Dir = filepath.Join(dir, p.name)
		if err := os.MkdirAll(p.opts.Dir, 0o700); err != nil {
			return err
		}
		if *p.srv, err = pebble.Start(p.opts); err != nil {
			return err
		}
	}
	operator = controllers.Options{
		Signers: func(mgr ctrl.Manager) (*signer.Registry, error) {
			acmeSigner, err := acme.New(mgr, acme.Options{
				HTTP01Address: peers.http01Addr,
				HTTP01Service: challengeService,
				PollInterval:  250 * time.Millisecond, MaxPollInterval: 2 * time.Second,

				// The challenge server reads ClusterIssuers' account keys there.
				ClusterResourceNamespace: clusterResourceNamespace,
			})
			if err != nil {
				return nil, err
			}
			return signer.NewRegistry(
				signer.Entry{Type: signer.TypeCA, Signer: ca.New(mgr.GetAPIReader())},
				signer.Entry{Type: signer.TypeACME, Signer: acmeSigner},
			)
		},
		ClusterResourceNamespace: clusterResourceNamespace,
		Concurrency:              8,
		AuditLog:                 records.Logger(),
	}
	return nil
}

// stopPeers stops whatever startPeers started.
func stopPeers() error {
	var errs []error
	for _, s := range []*pebble.Server{peers.pebble, peers.eabPebble} {
		if s != nil {
			errs = append(errs, s.Stop())
		}
	}
	if peers.dns != nil {
		errs = append(errs, peers.dns.Close())
	}
	if peers.challtestsrv != nil {
		peers.challtestsrv.Stop()
	}
	return errors.Join(errs...)
}
