package controllers_test

import (
	"os"
	"testing"

	"github.com/signerpolicy/signer-policy-operator/controllers"
	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

var (
	// env is the control plane and manager every test in this package shares.
	env *harness.Env
	// records are the governance records the operator wrote.
	records = &harness.AuditSink{}
)

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, &env, controllers.Options{
		SupportedTypes: []signer.IssuerType{signer.TypeCA, signer.TypeSelfSigned, signer.TypeVault, signer.TypeVenafi, signer.TypeACME},
		AuditLog:       records.Logger(),
	}))
}
