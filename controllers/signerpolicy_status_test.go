package controllers

import (
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
)

func TestReadyCondition(t *testing.T) {
	supported := map[signer.IssuerType]bool{signer.TypeCA: true}
	issuer := policyv1alpha1.IssuerReference{Kind: "Issuer", Namespace: "ns", Name: "ca"}
	cluster := policyv1alpha1.IssuerReference{Kind: "ClusterIssuer", Name: "root"}
	tests := []struct {
		name        string
		ref         policyv1alpha1.IssuerReference
		obs         issuerObservation
		rbacErr     error
		wantStatus  metav1.ConditionStatus
		wantReason  string
		wantMessage string
	}{
		{"issuer missing", issuer, issuerObservation{}, nil, metav1.ConditionFalse, policyv1alpha1.ReasonIssuerNotFound, `spec.issuerRef: Issuer "ca" in namespace "ns" not found`},
		{"cluster issuer missing", cluster, issuerObservation{}, nil, metav1.ConditionFalse, policyv1alpha1.ReasonIssuerNotFound, `spec.issuerRef: ClusterIssuer "root" not found`},
		{"no type configured", issuer, issuerObservation{found: true}, nil, metav1.ConditionFalse, policyv1alpha1.ReasonUnsupportedIssuerType, "none of ca, selfSigned"},
		{"type without a signer", issuer, issuerObservation{found: true, typ: signer.TypeVault}, nil, metav1.ConditionFalse, policyv1alpha1.ReasonUnsupportedIssuerType, "configured for Vault"},
		{"RBAC not applied", issuer, issuerObservation{found: true, typ: signer.TypeCA}, errors.New("forbidden"), metav1.ConditionFalse, policyv1alpha1.ReasonRBACFailed, "generating RBAC: forbidden"},
		{"supported type", issuer, issuerObservation{found: true, typ: signer.TypeCA}, nil, metav1.ConditionTrue, policyv1alpha1.ReasonReady, "issuers.cert-manager.io/ns.ca"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &policyv1alpha1.SignerPolicy{ObjectMeta: metav1.ObjectMeta{Generation: 7}, Spec: policyv1alpha1.SignerPolicySpec{IssuerRef: tt.ref}}
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
