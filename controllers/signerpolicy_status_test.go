package controllers

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

// one is what the controller observes of a policy's issuerRef.
func one(ref policyv1alpha1.IssuerReference, found bool, typ signer.IssuerType) policyObservation {
	return policyObservation{issuers: []observedIssuer{{ref: ref, found: found, typ: typ}}}
}

func TestReadyCondition(t *testing.T) {
	supported := map[signer.IssuerType]bool{signer.TypeCA: true}
	issuer := policyv1alpha1.IssuerReference{Kind: "Issuer", Namespace: "ns", Name: "ca"}
	cluster := policyv1alpha1.IssuerReference{Kind: "ClusterIssuer", Name: "root"}
	tests := []struct {
		name        string
		ref         policyv1alpha1.IssuerReference
		obs         policyObservation
		rbacErr     error
		wantStatus  metav1.ConditionStatus
		wantReason  string
		wantMessage string
	}{
		{"issuer missing", issuer, one(issuer, false, ""), nil, metav1.ConditionFalse, policyv1alpha1.ReasonIssuerNotFound, `spec.issuerRef: Issuer "ca" in namespace "ns" not found`},
		{"cluster issuer missing", cluster, one(cluster, false, ""), nil, metav1.ConditionFalse, policyv1alpha1.ReasonIssuerNotFound, `spec.issuerRef: ClusterIssuer "root" not found`},
		{"no type configured", issuer, one(issuer, true, ""), nil, metav1.ConditionFalse, policyv1alpha1.ReasonUnsupportedIssuerType, "none of ca, selfSigned"},
		{"type without a signer", issuer, one(issuer, true, signer.TypeVault), nil, metav1.ConditionFalse, policyv1alpha1.ReasonUnsupportedIssuerType, "configured for Vault"},
		{"RBAC not applied", issuer, one(issuer, true, signer.TypeCA), errors.New("forbidden"), metav1.ConditionFalse, policyv1alpha1.ReasonRBACFailed, "generating RBAC: forbidden"},
		{"a rule that does not compile, whatever else holds", issuer, policyObservation{issuers: one(issuer, true, signer.TypeCA).issuers,
			invalid: field.ErrorList{field.Invalid(field.NewPath("spec", "validations").Index(0).Child("rule"), "x ==", "does not compile: Syntax error")}},
			nil, metav1.ConditionFalse, policyv1alpha1.ReasonInvalidPolicy, `spec.validations[0].rule: Invalid value: "x ==": does not compile: Syntax error`},
		{"supported type", issuer, one(issuer, true, signer.TypeCA), nil, metav1.ConditionTrue, policyv1alpha1.ReasonReady, "issuers.cert-manager.io/ns.ca"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Generation: 7}, Spec: policyv1alpha1.SignerPolicySpec{IssuerRef: &tt.ref}}
			c := readyCondition(p, tt.obs, tt.rbacErr, supported)
			if c.Type != "Ready" || c.Status != tt.wantStatus || c.Reason != tt.wantReason || c.ObservedGeneration != 7 {
				t.Errorf("got %s=%s reason %s generation %d, want Ready=%s reason %s generation 7", c.Type, c.Status, c.Reason, c.ObservedGeneration, tt.wantStatus, tt.wantReason)
			}
			if !strings.Contains(c.Message, tt.wantMessage) {
				t.Errorf("message %q does not contain %q", c.Message, tt.wantMessage)
			}
		})
	}
}

// A selection is in force once it governs an issuer of a type the operator signs for, and not when
// it selects none, too many, or only issuers it cannot sign for.
func TestReadyConditionOfASelection(t *testing.T) {
	supported := map[signer.IssuerType]bool{signer.TypeCA: true}
	ca := func(name string, typ signer.IssuerType) observedIssuer {
		return observedIssuer{ref: policyv1alpha1.IssuerReference{Kind: "ClusterIssuer", Name: name}, found: true, typ: typ}
	}
	many := make([]observedIssuer, maxGovernedIssuers+1)
	for i := range many {
		many[i] = ca(fmt.Sprintf("ca-%d", i), signer.TypeCA)
	}
	tests := []struct {
		name       string
		issuers    []observedIssuer
		wantStatus metav1.ConditionStatus
		wantReason string
		mention    string
	}{
		{"none yet", nil, metav1.ConditionFalse, policyv1alpha1.ReasonIssuerNotFound, "spec.issuers: no existing ClusterIssuer matches"},
		{"only types without a signer", []observedIssuer{ca("v", signer.TypeVault)}, metav1.ConditionFalse, policyv1alpha1.ReasonUnsupportedIssuerType, "none of the 1 issuers"},
		{"neither issuerRef nor issuers", nil, metav1.ConditionFalse, policyv1alpha1.ReasonInvalidPolicy, "names none of issuerRef, issuers and signerNames"},
		{"too many", many, metav1.ConditionFalse, policyv1alpha1.ReasonTooManyIssuers, "narrow"},
		{"some it signs for", []observedIssuer{ca("corp-a", signer.TypeCA), ca("corp-v", signer.TypeVault)}, metav1.ConditionTrue, policyv1alpha1.ReasonReady,
			"CSRs of the 2 issuers spec.issuers selects are governed by this policy (status.signerNames); it signs for clusterissuers.cert-manager.io/corp-a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &policyv1alpha1.SignerPolicy{Spec: policyv1alpha1.SignerPolicySpec{
				Issuers: &policyv1alpha1.IssuerSelector{Kind: policyv1alpha1.IssuerKindClusterIssuer, Names: []string{"corp-*"}}}}
			if tt.wantReason == policyv1alpha1.ReasonInvalidPolicy {
				p.Spec.Issuers = nil
			}
			c := readyCondition(p, policyObservation{issuers: tt.issuers}, nil, supported)
			if c.Status != tt.wantStatus || c.Reason != tt.wantReason || !strings.Contains(c.Message, tt.mention) {
				t.Errorf("got %s %s %q, want %s %s mentioning %q", c.Status, c.Reason, c.Message, tt.wantStatus, tt.wantReason, tt.mention)
			}
		})
	}
}

func TestReadyTurned(t *testing.T) {
	ready := metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: policyv1alpha1.ReasonReady, Message: "governed"}
	missing := metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: policyv1alpha1.ReasonIssuerNotFound, Message: "not found"}
	rbacFailed := metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: policyv1alpha1.ReasonRBACFailed, Message: "forbidden"}
	reworded := missing
	reworded.Message = "spec.issuerRef: not found, said differently"
	tests := []struct {
		name       string
		previous   *metav1.Condition
		next       metav1.Condition
		wantType   string
		wantTurned bool
	}{
		{"first Ready", nil, ready, "Normal", true},
		{"first not Ready", nil, missing, "Warning", true},
		{"comes into force", &missing, ready, "Normal", true},
		{"falls out of force", &ready, missing, "Warning", true},
		{"not Ready for another reason", &missing, rbacFailed, "Warning", true},
		{"still Ready", &ready, ready, "", false},
		{"same reason, new message", &missing, reworded, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ, turned := readyTurned(tt.previous, tt.next)
			if typ != tt.wantType || turned != tt.wantTurned {
				t.Errorf("readyTurned = %q, %v; want %q, %v", typ, turned, tt.wantType, tt.wantTurned)
			}
		})
	}
}
