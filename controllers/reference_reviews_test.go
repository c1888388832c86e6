package controllers

import (
	"context"
	"fmt"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/signertest"
)

// settledReviews is a cache whose RBAC watch has synced and last saw a change long ago.
func settledReviews() (*referenceReviews, *clocktesting.FakeClock) {
	clk := clocktesting.NewFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	return newReferenceReviews(DefaultReferenceReviewTTL, clk, func() bool { return true }), clk
}

func keep(c *referenceReviews, key referenceKey, ns string) {
	c.keepAllowed(c.ask(key, ns))
}

var alice = authorizationv1.SubjectAccessReviewSpec{User: "alice", UID: "u-1", Groups: []string{"team-a", "system:authenticated"},
	Extra: map[string]authorizationv1.ExtraValue{"scopes": {"x"}}}

// An allowance belongs to the whole identity the review was asked with and to one Issuer: an
// identity differing in anything, even only its UID, a group or an extra value, asks for itself.
func TestReferenceReviewsShareAnAllowanceOnlyWithTheSameIdentityAndIssuer(t *testing.T) {
	c, _ := settledReviews()
	keep(c, keyOf(&alice, "team-a", "ca"), "team-a")
	same := alice
	if !c.allowed(keyOf(&same, "team-a", "ca")) {
		t.Fatal("the same identity and issuer found nothing kept")
	}
	others := map[string]func(*authorizationv1.SubjectAccessReviewSpec) (string, string){
		"user": func(s *authorizationv1.SubjectAccessReviewSpec) (string, string) {
			s.User = "alice2"
			return "team-a", "ca"
		},
		"uid": func(s *authorizationv1.SubjectAccessReviewSpec) (string, string) {
			s.UID = "u-2"
			return "team-a", "ca"
		},
		"one group fewer": func(s *authorizationv1.SubjectAccessReviewSpec) (string, string) {
			s.Groups = s.Groups[:1]
			return "team-a", "ca"
		},
		"another group": func(s *authorizationv1.SubjectAccessReviewSpec) (string, string) {
			s.Groups = []string{"team-b", "system:authenticated"}
			return "team-a", "ca"
		},
		"extra value": func(s *authorizationv1.SubjectAccessReviewSpec) (string, string) {
			s.Extra = map[string]authorizationv1.ExtraValue{"scopes": {"y"}}
			return "team-a", "ca"
		},
		"no extra": func(s *authorizationv1.SubjectAccessReviewSpec) (string, string) {
			s.Extra = nil
			return "team-a", "ca"
		},
		"extra key": func(s *authorizationv1.SubjectAccessReviewSpec) (string, string) {
			s.Extra = map[string]authorizationv1.ExtraValue{"scope": {"x"}}
			return "team-a", "ca"
		},
		"issuer name":      func(*authorizationv1.SubjectAccessReviewSpec) (string, string) { return "team-a", "ca2" },
		"issuer namespace": func(*authorizationv1.SubjectAccessReviewSpec) (string, string) { return "team-b", "ca" },
		// Fields are quoted, so moving a character from one field to the next is another key.
		"shifted fields": func(s *authorizationv1.SubjectAccessReviewSpec) (string, string) { return "team-", "aca" },
	}
	for name, edit := range others {
		s := alice
		ns, issuer := edit(&s)
		if c.allowed(keyOf(&s, ns, issuer)) {
			t.Errorf("%s: found alice's allowance", name)
		}
	}
}

// A Role or RoleBinding change drops the allowances of its namespace; a ClusterRole or
// ClusterRoleBinding change drops them all.
func TestReferenceReviewsDropAllowancesWhenRBACChanges(t *testing.T) {
	c, clk := settledReviews()
	a, b := keyOf(&alice, "team-a", "ca"), keyOf(&alice, "team-b", "ca")
	keep(c, a, "team-a")
	keep(c, b, "team-b")
	c.onNamespacedChange(&metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "revoked"}})
	if c.allowed(a) {
		t.Error("an allowance outlived a RoleBinding change in its namespace")
	}
	if !c.allowed(b) {
		t.Error("a RoleBinding change in team-a dropped team-b's allowance")
	}
	clk.Step(time.Minute) // past the settling time, and past b's TTL: keep b afresh
	keep(c, b, "team-b")
	c.invalidateAll()
	if c.allowed(b) {
		t.Error("an allowance outlived a ClusterRoleBinding change")
	}
	if c.order.Len() != 0 || len(c.entries) != 0 {
		t.Errorf("%d entries still held after every allowance was dropped", c.order.Len())
	}
}

// A tombstone (a deletion the watch missed and learnt of by listing) drops its namespace, or
// everything when its key names none.
func TestReferenceReviewsDropAllowancesOnTombstones(t *testing.T) {
	for _, tt := range []struct {
		key    string
		keepsB bool
	}{{key: "team-a/revoked", keepsB: true}, {key: "", keepsB: false}} {
		c, _ := settledReviews()
		a, b := keyOf(&alice, "team-a", "ca"), keyOf(&alice, "team-b", "ca")
		keep(c, a, "team-a")
		keep(c, b, "team-b")
		c.onNamespacedChange(toolscache.DeletedFinalStateUnknown{Key: tt.key})
		if c.allowed(a) || c.allowed(b) != tt.keepsB {
			t.Errorf("tombstone %q: team-a kept %t, team-b kept %t; want false, %t", tt.key, c.allowed(a), c.allowed(b), tt.keepsB)
		}
	}
}

// An answer asked while RBAC changed may be the old one, and so may one asked just after a
// change, before the API server's own authorizer saw it: neither is kept.
func TestReferenceReviewsKeepNoAnswerAskedAroundAChange(t *testing.T) {
	c, clk := settledReviews()
	key := keyOf(&alice, "team-a", "ca")
	ticket := c.ask(key, "team-a")
	c.invalidateNamespace("team-a")
	c.keepAllowed(ticket)
	if c.allowed(key) {
		t.Fatal("kept an answer asked while a RoleBinding of its namespace changed")
	}
	ticket = c.ask(key, "team-a")
	c.invalidateAll()
	c.keepAllowed(ticket)
	if c.allowed(key) {
		t.Fatal("kept an answer asked while a ClusterRoleBinding changed")
	}
	clk.Step(referenceReviewSettle / 2)
	keep(c, key, "team-a")
	if c.allowed(key) {
		t.Fatal("kept an answer asked right after a change")
	}
	clk.Step(referenceReviewSettle)
	keep(c, key, "team-a")
	if !c.allowed(key) {
		t.Fatal("kept no answer asked once RBAC had settled")
	}
}

// An allowance lasts the TTL from when it was asked, whatever the watch says; nothing is kept
// before the watch has synced, since until then it cannot tell of a change.
func TestReferenceReviewsExpireAndWaitForTheWatch(t *testing.T) {
	c, clk := settledReviews()
	key := keyOf(&alice, "team-a", "ca")
	keep(c, key, "team-a")
	clk.Step(DefaultReferenceReviewTTL - time.Millisecond)
	if !c.allowed(key) {
		t.Fatal("an allowance expired before its TTL")
	}
	clk.Step(time.Millisecond)
	if c.allowed(key) {
		t.Fatal("an allowance outlived its TTL")
	}
	unsynced := newReferenceReviews(DefaultReferenceReviewTTL, clk, func() bool { return false })
	keep(unsynced, key, "team-a")
	if unsynced.allowed(key) {
		t.Fatal("kept an allowance before the RBAC watch synced")
	}
}

// Memory is bounded: past the cap the oldest allowances go first.
func TestReferenceReviewsHoldAtMostTheirCap(t *testing.T) {
	c, _ := settledReviews()
	keyN := func(i int) referenceKey {
		s := alice
		s.User = fmt.Sprintf("user-%d", i)
		return keyOf(&s, "team-a", "ca")
	}
	for i := range referenceReviewMax + 10 {
		keep(c, keyN(i), "team-a")
	}
	if len(c.entries) != referenceReviewMax || c.order.Len() != referenceReviewMax {
		t.Fatalf("holding %d entries (%d in order), want %d", len(c.entries), c.order.Len(), referenceReviewMax)
	}
	if c.allowed(keyN(0)) || !c.allowed(keyN(referenceReviewMax+9)) {
		t.Error("the oldest allowance was not the one dropped")
	}
}

// Through mayReference: an allowance spares the next CSR of the same requester and Issuer its
// review, a denial never does.
func TestMayReferenceReusesAllowancesButNeverDenials(t *testing.T) {
	ref := policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindIssuer, Namespace: "team-a", Name: "ca"}
	newCSR := func(user string) *certificatesv1.CertificateSigningRequest {
		return &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{
			Username: user, UID: "u-" + user, Groups: []string{"system:authenticated"}}}
	}
	asked := 0
	cl := fake.NewClientBuilder().WithScheme(signertest.Scheme(t)).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(_ context.Context, _ client.WithWatch, obj client.Object, _ ...client.CreateOption) error {
			asked++
			sar := obj.(*authorizationv1.SubjectAccessReview)
			sar.Status.Allowed = sar.Spec.User == "alice"
			return nil
		},
	}).Build()
	references, _ := settledReviews()
	r := &SigningReconciler{Client: cl, References: references}
	for i, tt := range []struct {
		user      string
		want      bool
		wantAsked int
	}{
		{user: "alice", want: true, wantAsked: 1},
		{user: "alice", want: true, wantAsked: 1},    // reused
		{user: "mallory", want: false, wantAsked: 3}, // name, then *
		{user: "mallory", want: false, wantAsked: 5}, // asked again
	} {
		got, err := r.mayReference(context.Background(), newCSR(tt.user), ref)
		if err != nil || got != tt.want || asked != tt.wantAsked {
			t.Fatalf("call %d (%s): mayReference = %t, %v after %d reviews; want %t after %d", i, tt.user, got, err, asked, tt.want, tt.wantAsked)
		}
	}
}
