package acme

// Reasons this signer reports. The controller turns pending reasons into Normal events and
// permanent ones into the Failed condition's reason, so they are stable CamelCase words; the
// order reasons are the ones cert-manager's ACME CSR signer emits.
const (
	// ReasonOrderCreated: the order was created and its URL stored on the CSR. Pending.
	ReasonOrderCreated = "OrderCreated"
	// ReasonChallengePresented: a challenge was presented (HTTP-01 key authorization served,
	// DNS record written, Ingress created). Pending.
	ReasonChallengePresented = "ChallengePresented"
	// ReasonOrderPending: the order waits for the server (validation, issuance). Pending.
	ReasonOrderPending = "OrderPending"
	// ReasonOrderFailed: the server refused or invalidated the order; the message carries the
	// server's problem detail. Permanent.
	ReasonOrderFailed = "OrderFailed"
	// ReasonInvalidOrder: the CSR asks for something no ACME order can give (a common name
	// outside the SANs, email or URI SANs, a CA certificate), or the order asks the signer to
	// act for a name the CSR does not request or on a URL off the issuer's ACME server.
	// Permanent.
	ReasonInvalidOrder = "InvalidOrder"
	// ReasonProgressAnnotationIgnored: the CSR carried an order URL or challenge records this
	// operator did not seal for it; they were cleared and the order goes on without them.
	// Pending.
	ReasonProgressAnnotationIgnored = "ProgressAnnotationIgnored"
	// ReasonUnsupportedSolver: the solver chosen for an identifier is one this operator does
	// not implement (webhook, gatewayHTTPRoute, ...). Permanent.
	ReasonUnsupportedSolver = "UnsupportedSolver"
	// ReasonNoMatchingSolver: no solver of the issuer matches an identifier and a challenge
	// type the server offers. Permanent.
	ReasonNoMatchingSolver = "NoMatchingSolver"
	// ReasonPresentFailed: a solver could not present or the server refused to start a
	// validation; usually credentials or a nameserver the issuer's owner can fix. Pending.
	ReasonPresentFailed = "PresentFailed"
	// ReasonAccountRegistrationFailed: the ACME server refused the account (wrong External
	// Account Binding, terms, key). Pending: fixing the issuer or its Secrets is enough.
	ReasonAccountRegistrationFailed = "AccountRegistrationFailed"
	// ReasonInvalidIssuer: spec.acme cannot be used as it is (no server, an unreadable
	// caBundle, an account key lego cannot sign with). Pending until the issuer is fixed.
	ReasonInvalidIssuer = "InvalidIssuer"
	// ReasonProfileNotOffered: spec.acme.profile names a profile the directory does not
	// offer. Pending until the issuer or the server changes.
	ReasonProfileNotOffered = "ProfileNotOffered"
	// ReasonRateLimited: the server asked to slow down. Pending.
	ReasonRateLimited = "RateLimited"
)

// Annotations the signer keeps on the CSR. They are the durable half of the order state: a
// restarted operator resumes from them. Their values are JSON sealed with an HMAC (see sealer);
// a value the operator did not seal is ignored.
const (
	// OrderURLAnnotation holds the URL of the CSR's ACME order.
	OrderURLAnnotation = "acme.policy.signerpolicy.dev/order-url"
	// ChallengesAnnotation holds the challenges presented and not yet cleaned up, as JSON.
	ChallengesAnnotation = "acme.policy.signerpolicy.dev/challenges"
)
