// Package acme signs CertificateSigningRequests through an ACME server (RFC 8555) configured
// by a cert-manager Issuer's or ClusterIssuer's spec.acme, with the operator itself as the ACME
// client: only cert-manager's CRDs need to be installed.
//
// The signer drives one ACME order per CSR through lego's low-level API (acme/api) and never
// waits inside a reconcile for the server to validate anything: each call to Sign looks at the
// order once, does the next step (create, present a challenge, tell the server to validate,
// finalize, download) and reports pending with a short, capped backoff. Everything a restarted
// operator needs to resume is stored on the CSR as annotations before Sign reports pending:
// the order URL and the challenges presented so far. The requester chooses a CSR's annotations
// when creating it, so every value is sealed with an HMAC keyed from the issuer's ACME account
// key and bound to the CSR and the issuer; a value that does not open is ignored and cleared
// (see sealer). Whatever the annotations say, the signer acts only on URLs of the issuer's ACME
// server and only for the names the CSR requests.
//
// HTTP-01 challenges are answered by a listener the operator runs in every replica (see
// ChallengeServer); it finds challenge records through a cache index over those annotations,
// so any replica can answer whichever replica presented the challenge, and answers only records
// that open, on approved CSRs of ACME issuers, with the key authorization of the issuer's own
// account. DNS-01 challenges are written with lego's DNS providers.
package acme

// The signer reads and generates ACME account keys, reads solver credentials, and creates and
// deletes the Ingresses that route HTTP-01 challenges to the operator.
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;create
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;create;delete
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests,verbs=get;list;watch;patch
