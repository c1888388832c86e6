package controllers

import (
	"context"
	"testing"

	"github.com/go-logr/logr/funcr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	policyv1alpha1 "github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/audit"
	"github.com/signerpolicy/signer-policy-operator/internal/policy"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/signertest"
)

// A record another writer of the process claimed is not written beside it, and is looked at again
// until that writer has written it, or given it up (its write did not land after all, but the
// condition is there, from someone else): then the records controller writes it, so no record
// waits on a change of the CSR that may never come.
func TestARecordGivenUpByItsWriterIsWrittenByTheRecordsController(t *testing.T) {
	c := verdictCSR(t, nil) // approved
	cl := fake.NewClientBuilder().WithScheme(signertest.Scheme(t)).WithObjects(c.DeepCopy()).
		WithIndex(&policyv1alpha1.SignerPolicy{}, policyBySignerNameIndex, indexPolicyBySignerName).
		WithIndex(&policyv1alpha1.SignerPolicy{}, policyBySelectedKindIndex, indexPolicyBySelectedKind).
		Build()
	var written []string
	log := funcr.NewJSON(func(obj string) { written = append(written, obj) }, funcr.Options{})
	evaluator, err := policy.NewEvaluator()
	if err != nil {
		t.Fatal(err)
	}
	ledger := newRecordLedger()
	r := &RecordsReconciler{Client: cl, Audit: audit.New(log), Ledger: ledger, Evaluator: evaluator, Events: approvalEvents}
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(c)}

	claim := ledger.claimFor(c, audit.EventApproved) // the approval controller, about to write
	res, err := r.Reconcile(context.Background(), req)
	if err != nil || res.RequeueAfter == 0 || len(written) != 0 {
		t.Fatalf("with the record in flight: result %+v, err %v, %d records; want a look again later and no record", res, err, len(written))
	}
	claim.release() // its write conflicted: someone else's approval is the one that landed
	if res, err = r.Reconcile(context.Background(), req); err != nil || res.RequeueAfter != 0 || len(written) != 1 {
		t.Fatalf("after the claim was given up: result %+v, err %v, %d records; want the record written once", res, err, len(written))
	}
	if res, _ = r.Reconcile(context.Background(), req); res.RequeueAfter != 0 || len(written) != 1 {
		t.Errorf("a written record was written again or waited on: %+v, %d records", res, len(written))
	}
	if ledger.state(c.UID, audit.EventApproved) != recordWritten {
		t.Errorf("the ledger does not know the record is written")
	}
}
