package cli

import (
	"context"
	"fmt"
	"sort"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
)

// eventNamespace is where the API server's clients record events about cluster-scoped objects
// such as CSRs, the operator's included.
const eventNamespace = corev1.NamespaceDefault

// listPolicies reads every SignerPolicy; the evaluator picks those that govern a signer, as the
// controllers' index-backed lookup and the evaluator together do.
func listPolicies(ctx context.Context, c client.Reader) ([]policyv1alpha1.SignerPolicy, error) {
	var list policyv1alpha1.SignerPolicyList
	if err := c.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("listing SignerPolicies: %w", err)
	}
	return list.Items, nil
}

// listAllPolicies reads every SignerPolicy and the NamespacedSignerPolicies of the namespace of
// the Issuer signerName names, which are all that may govern its CSRs. A user who may not read
// the namespaced ones gets a note, since a verdict without them may not be the operator's.
func listAllPolicies(ctx context.Context, c client.Reader, signerName string) (policy.Policies, []string, error) {
	cluster, err := listPolicies(ctx, c)
	if err != nil {
		return policy.Policies{}, nil, err
	}
	ps := policy.Policies{Cluster: cluster}
	ref, err := csr.ParseSignerName(signerName)
	if err != nil || ref.Kind != policyv1alpha1.IssuerKindIssuer {
		return ps, nil, nil
	}
	var list policyv1alpha1.NamespacedSignerPolicyList
	if err := c.List(ctx, &list, client.InNamespace(ref.Namespace)); err != nil {
		return ps, []string{fmt.Sprintf("the NamespacedSignerPolicies of namespace %s could not be read (%v); a verdict without them may not be the operator's", ref.Namespace, err)}, nil
	}
	ps.Namespaced = list.Items
	return ps, nil, nil
}

// readNamespaceLabels gives req the labels of the namespaces its policies may select on, read
// with the user's credentials. A namespace the user may not read is taken to have no labels the
// way the evaluator takes a missing one (no selector selects it); the notes say which, so that a
// verdict that depends on it is not mistaken for the operator's.
func readNamespaceLabels(ctx context.Context, c client.Reader, req *policy.Request) (notes []string) {
	read := func(name string) map[string]string {
		if name == "" {
			return nil
		}
		var ns corev1.Namespace
		err := c.Get(ctx, client.ObjectKey{Name: name}, &ns)
		switch {
		case err == nil:
			return policy.NamespaceLabels(&ns)
		case apierrors.IsNotFound(err):
			return nil
		}
		notes = append(notes, fmt.Sprintf("the labels of namespace %s could not be read (%v); a selector over them is taken to select nothing, "+
			"which the operator, reading them, may not do", name, err))
		return nil
	}
	serviceAccount, issuer := policy.LabelledNamespaces(req.Requester.Username, req.SignerName)
	req.ServiceAccountNamespaceLabels = read(serviceAccount)
	req.IssuerNamespaceLabels = read(issuer)
	return notes
}

// csrEvents lists the events about the CSR named name, oldest first.
func csrEvents(ctx context.Context, c client.Reader, name string) ([]corev1.Event, error) {
	var list corev1.EventList
	if err := c.List(ctx, &list, client.InNamespace(eventNamespace),
		client.MatchingFieldsSelector{Selector: fields.AndSelectors(
			fields.OneTermEqualSelector("involvedObject.kind", "CertificateSigningRequest"),
			fields.OneTermEqualSelector("involvedObject.name", name))}); err != nil {
		return nil, err
	}
	events := list.Items
	sort.SliceStable(events, func(i, j int) bool { return eventTime(&events[i]).Before(eventTime(&events[j])) })
	return events, nil
}

// eventTime is when an event last happened, whichever of its timestamps its recorder set.
func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// whoAmI asks the API server who the client authenticates as: the identity it would record on a
// CSR the user creates.
func whoAmI(ctx context.Context, c client.Client) (policy.Requester, error) {
	review := &authenticationv1.SelfSubjectReview{}
	if err := c.Create(ctx, review); err != nil {
		return policy.Requester{}, fmt.Errorf("asking the API server who you are (SelfSubjectReview): %w", err)
	}
	u := review.Status.UserInfo
	extra := map[string][]string{}
	for k, v := range u.Extra {
		extra[k] = v
	}
	if len(extra) == 0 {
		extra = nil
	}
	return policy.Requester{Username: u.Username, UID: u.UID, Groups: u.Groups, Extra: extra}, nil
}
