//go:build !unit

package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/controllers"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// waitForPolicyEvent waits for an event about the SignerPolicy with the given type and reason
// whose note contains every one of the given strings.
func waitForPolicyEvent(t *testing.T, policy, eventType, reason string, contains ...string) {
	t.Helper()
	harness.Eventually(t, wait, func() error {
		var list eventsv1.EventList
		if err := env.Admin.List(context.Background(), &list); err != nil {
			return err
		}
		var seen []string
	events:
		for _, ev := range list.Items {
			if ev.Regarding.Kind != "SignerPolicy" || ev.Regarding.Name != policy {
				continue
			}
			seen = append(seen, ev.Type+"/"+ev.Reason+": "+ev.Note)
			if ev.Type != eventType || ev.Reason != reason {
				continue
			}
			for _, s := range contains {
				if !strings.Contains(ev.Note, s) {
					continue events
				}
			}
			return nil
		}
		return fmt.Errorf("no %s %s event naming %q about SignerPolicy %s; saw %q", eventType, reason, contains, policy, seen)
	})
}

// A policy's readers learn from its events when it comes into force or falls out of it, and
// which generated RBAC objects the operator created, put back or withdrew.
func TestPolicyEventsTellReadyTurnsAndRBACChanges(t *testing.T) {
	ns := env.Namespace(t)
	name := policyName(t)
	p := policyFor(name, policyv1alpha1.IssuerReference{Kind: "Issuer", Namespace: ns, Name: "ca"})
	p.Spec.Approval.Approvers = &policyv1alpha1.Subjects{Users: []string{"approver-" + ns}}
	env.Create(t, p)
	waitForPolicyEvent(t, name, corev1.EventTypeWarning, policyv1alpha1.ReasonIssuerNotFound, "spec.issuerRef")

	env.Create(t, caIssuer(ns, "ca"))
	waitForPolicyEvent(t, name, corev1.EventTypeNormal, policyv1alpha1.ReasonReady, "issuers.cert-manager.io/"+ns+".ca")
	reference := "signerpolicy:" + name + ":reference"
	waitForPolicyEvent(t, name, corev1.EventTypeNormal, controllers.ReasonRBACCreated, "Role "+ns+"/"+reference)
	waitForPolicyEvent(t, name, corev1.EventTypeNormal, controllers.ReasonRBACCreated, "ClusterRole signerpolicy:"+name+":approver")

	// Drift: a hand edit of the generated Role is put back, and said so.
	var role rbacv1.Role
	if err := env.Admin.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: reference}, &role); err != nil {
		t.Fatal(err)
	}
	role.Rules[0].ResourceNames = append(role.Rules[0].ResourceNames, "someone-elses-issuer")
	if err := env.Admin.Update(context.Background(), &role); err != nil {
		t.Fatal(err)
	}
	waitForPolicyEvent(t, name, corev1.EventTypeNormal, controllers.ReasonRBACUpdated, "Role "+ns+"/"+reference)

	// Dropping the approvers withdraws their ClusterRole.
	readyStatus(t, name, metav1.ConditionTrue)
	if err := env.Admin.Get(context.Background(), client.ObjectKey{Name: name}, p); err != nil {
		t.Fatal(err)
	}
	p.Spec.Approval.Approvers = nil
	if err := env.Admin.Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	waitForPolicyEvent(t, name, corev1.EventTypeNormal, controllers.ReasonRBACDeleted, "ClusterRole signerpolicy:"+name+":approver")
}
