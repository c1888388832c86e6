package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/audit"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
)

// This file holds what the approval controller does for signers that are not cert-manager
// issuers (kubernetes.io/kubelet-serving, kubernetes.io/kube-apiserver-client, example.com/*):
// it approves and denies their CSRs against the policies whose spec.signerNames cover them, and
// never signs them; kube-controller-manager or the signer's own controller does.

// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch

// approvalSkips reports whether the approval controller leaves a CSR entirely alone, without an
// event or a record: a malformed cert-manager signer name (the signing controller reports it), or
// another signer that no policy governs, which belongs to whoever else approves it.
func approvalSkips(signerName string, policies []policyv1alpha1.SignerPolicy) bool {
	_, err := csr.ParseSignerName(signerName)
	switch {
	case err == nil:
		return false
	case !errors.Is(err, csr.ErrNotCertManager):
		return true
	}
	return !slices.ContainsFunc(policies, func(p policyv1alpha1.SignerPolicy) bool {
		return slices.ContainsFunc(p.Spec.SignerNames, func(n string) bool { return policy.SignerNameMatches(n, signerName) })
	})
}

// policiesForOtherSigner lists the policies whose spec.signerNames hold signerName itself or its
// domain's wildcard, each once.
func policiesForOtherSigner(ctx context.Context, c client.Reader, signerName string) ([]policyv1alpha1.SignerPolicy, error) {
	var out []policyv1alpha1.SignerPolicy
	for _, key := range policy.SignerNameKeys(signerName) {
		var list policyv1alpha1.SignerPolicyList
		if err := c.List(ctx, &list, client.MatchingFields{policyBySignerNameIndex: key}, readOnly); err != nil {
			return nil, err
		}
		for _, p := range list.Items {
			if !slices.ContainsFunc(out, func(o policyv1alpha1.SignerPolicy) bool { return o.Name == p.Name }) {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// signerIndexKeys are the policy index keys that may govern signerName: itself, and for a signer
// that is not cert-manager's its domain's wildcard too.
func signerIndexKeys(signerName string) []string {
	if policy.IsCertManagerSigner(signerName) {
		return []string{signerName}
	}
	return policy.SignerNameKeys(signerName)
}

// readNodeFacts gives the evaluator the Node of a node that asks a kubelet-serving policy for a
// serving certificate, and the addresses every other Node states. The node's own Node is read past
// the cache: one the cache has not seen yet would get its kubelet a denial, which is final. A Node
// that is gone or going leaves the request without one, and every SAN is then refused.
func readNodeFacts(ctx context.Context, cache, reader client.Reader, c *certificatesv1.CertificateSigningRequest,
	policies []policyv1alpha1.SignerPolicy, req *policy.Request) error {
	if !slices.ContainsFunc(policies, func(p policyv1alpha1.SignerPolicy) bool { return p.Spec.KubeletServing != nil }) {
		return nil
	}
	name, ok := policy.NodeName(c.Spec.Username)
	if !ok {
		return nil
	}
	var n corev1.Node
	if err := reader.Get(ctx, client.ObjectKey{Name: name}, &n); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("reading Node %s: %w", name, err)
	}
	if n.DeletionTimestamp != nil {
		return nil
	}
	node := &policy.Node{Name: n.Name}
	for _, a := range n.Status.Addresses {
		node.Addresses = append(node.Addresses, policy.NodeAddress{Type: string(a.Type), Address: a.Address})
	}
	req.Node = node
	others, err := otherNodeAddresses(ctx, cache, n.Name)
	req.OtherNodeAddresses = others
	return err
}

// otherNodeAddresses maps the addresses the other Nodes state, and their own names, to their
// names, from the cache: a kubelet writes its own Node's status, so an address two Nodes state is
// neither's alone, and another Node's name is never this one's.
func otherNodeAddresses(ctx context.Context, cache client.Reader, self string) (map[string]string, error) {
	var nodes corev1.NodeList
	if err := cache.List(ctx, &nodes, readOnly); err != nil {
		return nil, fmt.Errorf("listing Nodes: %w", err)
	}
	others := map[string]string{}
	for i := range nodes.Items {
		if nodes.Items[i].Name == self {
			continue
		}
		// A Node's own name is its name alone, whatever addresses the Node states.
		others[strings.ToLower(nodes.Items[i].Name)] = nodes.Items[i].Name
		for _, a := range nodes.Items[i].Status.Addresses {
			if key, ok := policy.NodeAddressKey(policy.NodeAddress{Type: string(a.Type), Address: a.Address}); ok {
				others[key] = nodes.Items[i].Name
			}
		}
	}
	return others, nil
}

// governedEvents are the records owed for a CSR: all of them for a cert-manager signer; for
// another signer only the approval or denial, and only while a policy governs it, since its
// signer, not the operator, issues or fails it, and a signer no policy governs is not the
// operator's to record.
func governedEvents(ctx context.Context, c client.Reader, r *certificatesv1.CertificateSigningRequest, owed []string) ([]string, error) {
	if policy.IsCertManagerSigner(r.Spec.SignerName) {
		return owed, nil
	}
	policies, err := policiesForOtherSigner(ctx, c, r.Spec.SignerName)
	if err != nil || approvalSkips(r.Spec.SignerName, policies) {
		return nil, err
	}
	return slices.DeleteFunc(slices.Clone(owed), func(e string) bool { return e != audit.EventApproved && e != audit.EventDenied }), nil
}
