package controllers

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

func modePolicy(name string, mode policyv1alpha1.ApprovalMode, approvers ...string) policyv1alpha1.SignerPolicy {
	p := policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 3}, Spec: policyv1alpha1.SignerPolicySpec{
		IssuerRef: &policyv1alpha1.IssuerReference{Kind: policyv1alpha1.IssuerKindClusterIssuer, Name: "ca"},
		Approval:  policyv1alpha1.Approval{Mode: mode},
	}}
	if len(approvers) > 0 {
		p.Spec.Approval.Approvers = &policyv1alpha1.Subjects{Users: approvers}
	}
	return p
}

func TestSharedCondition(t *testing.T) {
	manual, automatic, defaulted := modePolicy("m", policyv1alpha1.ApprovalManual, "ann"), modePolicy("z-auto", policyv1alpha1.ApprovalAutomatic), modePolicy("a-default", "")
	tests := []struct {
		name       string
		self       policyv1alpha1.SignerPolicy
		onSigner   []policyv1alpha1.SignerPolicy
		wantOthers []policyv1alpha1.OtherPolicy
		status     metav1.ConditionStatus
		reason     string
		mention    string
	}{
		{"alone", manual, []policyv1alpha1.SignerPolicy{manual}, nil, metav1.ConditionFalse, policyv1alpha1.ReasonSignerExclusive, "clusterissuers.cert-manager.io/ca"},
		{"Manual beside Automatic ones, an omitted mode counting as Automatic", manual, []policyv1alpha1.SignerPolicy{automatic, manual, defaulted},
			[]policyv1alpha1.OtherPolicy{{Name: "a-default", Mode: "Automatic"}, {Name: "z-auto", Mode: "Automatic"}},
			metav1.ConditionTrue, policyv1alpha1.ReasonAutomaticPolicyOnSigner, "a-default, z-auto"},
		{"Automatic beside a Manual one", automatic, []policyv1alpha1.SignerPolicy{automatic, manual},
			[]policyv1alpha1.OtherPolicy{{Name: "m", Mode: "Manual"}}, metav1.ConditionTrue, policyv1alpha1.ReasonOtherPoliciesOnSigner, "SignerPolicies m also govern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			others, more := otherPoliciesOf(&tt.self, tt.onSigner)
			if !slices.Equal(others, tt.wantOthers) || more {
				t.Errorf("other policies %v (more: %t), want %v", others, more, tt.wantOthers)
			}
			c := sharedCondition(&tt.self, others, more)
			if c.Status != tt.status || c.Reason != tt.reason || c.ObservedGeneration != 3 || !strings.Contains(c.Message, tt.mention) {
				t.Errorf("condition %+v, want %s %s at generation 3 mentioning %q", c, tt.status, tt.reason, tt.mention)
			}
		})
	}
}

// A signer with many policies lists ten in each status, the Automatic ones first, and says there
// are others without counting them, so one more policy on the signer rewrites no other status.
func TestOtherPoliciesAreBounded(t *testing.T) {
	self := modePolicy("self", policyv1alpha1.ApprovalManual, "ann")
	onSigner := []policyv1alpha1.SignerPolicy{self}
	for i := range 30 {
		onSigner = append(onSigner, modePolicy(fmt.Sprintf("manual-%02d", i), policyv1alpha1.ApprovalManual))
	}
	onSigner = append(onSigner, modePolicy("z-auto", policyv1alpha1.ApprovalAutomatic))
	others, more := otherPoliciesOf(&self, onSigner)
	if len(others) != maxOtherPolicies || !more || others[0].Name != "z-auto" || others[1].Name != "manual-00" {
		t.Fatalf("others %v (more: %t), want ten, z-auto first, then manual-00", others, more)
	}
	c := sharedCondition(&self, others, more)
	if c.Reason != policyv1alpha1.ReasonAutomaticPolicyOnSigner || !strings.Contains(c.Message, "Automatic SignerPolicies z-auto also govern") {
		t.Errorf("condition %+v, want AutomaticPolicyOnSigner naming z-auto alone", c)
	}
	onSigner = append(onSigner, modePolicy("manual-99", policyv1alpha1.ApprovalManual))
	again, _ := otherPoliciesOf(&self, onSigner)
	if !slices.Equal(again, others) || sharedCondition(&self, again, true) != c {
		t.Errorf("one more Manual policy changed the status: %v", again)
	}
}

// The warnings are events only when they newly hold, so a resync does not repeat them, and the
// approvers condition exists only for Manual policies.
func TestSetInteractions(t *testing.T) {
	lonelyManual := modePolicy("m", policyv1alpha1.ApprovalManual)
	others := []policyv1alpha1.OtherPolicy{{Name: "auto", Mode: policyv1alpha1.ApprovalAutomatic}}
	var status policyv1alpha1.SignerPolicyStatus
	warnings := setInteractions(&status, nil, sharedCondition(&lonelyManual, others, false), approversCondition(&lonelyManual))
	var reasons []string
	for _, w := range warnings {
		reasons = append(reasons, w.Reason)
	}
	if want := []string{policyv1alpha1.ReasonAutomaticPolicyOnSigner, policyv1alpha1.ReasonNoApprovers}; !slices.Equal(reasons, want) {
		t.Fatalf("warnings %v, want %v", reasons, want)
	}
	if again := setInteractions(&status, status.Conditions, sharedCondition(&lonelyManual, others, false), approversCondition(&lonelyManual)); len(again) != 0 {
		t.Errorf("warnings repeated on an unchanged policy: %v", again)
	}

	automatic := modePolicy("m", policyv1alpha1.ApprovalAutomatic)
	if w := setInteractions(&status, status.Conditions, sharedCondition(&automatic, others, false), approversCondition(&automatic)); len(w) != 0 {
		t.Errorf("an Automatic policy got warnings %v", w)
	}
	for _, c := range status.Conditions {
		if c.Type == policyv1alpha1.ConditionApproversNamed {
			t.Errorf("an Automatic policy keeps condition %+v", c)
		}
	}
	named := modePolicy("m", policyv1alpha1.ApprovalManual, "ann")
	if c := approversCondition(&named); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("a Manual policy naming approvers: %+v", c)
	}
}

func TestMayShow(t *testing.T) {
	full := modePolicy("q", policyv1alpha1.ApprovalAutomatic)
	for i := range maxOtherPolicies {
		full.Status.OtherPolicies = append(full.Status.OtherPolicies, policyv1alpha1.OtherPolicy{Name: fmt.Sprintf("p-%02d", i), Mode: policyv1alpha1.ApprovalAutomatic})
	}
	manual := modePolicy("m", policyv1alpha1.ApprovalManual)
	manual.Status.OtherPolicies = full.Status.OtherPolicies
	short := modePolicy("s", policyv1alpha1.ApprovalAutomatic)
	auto := func(name string) policyv1alpha1.OtherPolicy {
		return policyv1alpha1.OtherPolicy{Name: name, Mode: policyv1alpha1.ApprovalAutomatic}
	}
	tests := []struct {
		name      string
		neighbour *policyv1alpha1.SignerPolicy
		changed   policyv1alpha1.OtherPolicy
		size      int
		want      bool
	}{
		{"a small signer asks everyone", &full, auto("z"), maxOtherPolicies + 2, true},
		{"sorting after a full list changes nothing", &full, auto("z"), 1000, false},
		{"a Manual policy after a full list: still Automatic first", &full, policyv1alpha1.OtherPolicy{Name: "a", Mode: policyv1alpha1.ApprovalManual}, 1000, false},
		{"sorting into a full list", &full, auto("p-00a"), 1000, true},
		{"a listed one changing or leaving", &full, auto("p-03"), 1000, true},
		{"a short list", &short, auto("z"), 1000, true},
		{"an Automatic one beside a Manual neighbour", &manual, auto("z"), 1000, true},
	}
	for _, tt := range tests {
		if got := mayShow(tt.neighbour, tt.changed, tt.size); got != tt.want {
			t.Errorf("%s: mayShow = %t, want %t", tt.name, got, tt.want)
		}
	}
}
