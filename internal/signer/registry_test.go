package signer_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/signerpolicy/signer-policy-operator/internal/signer"
	"github.com/signerpolicy/signer-policy-operator/internal/signer/signertest"
)

func TestRegistryGetAndTypes(t *testing.T) {
	ca, selfSigned := signertest.New(), signertest.New()
	r, err := signer.NewRegistry(
		signer.Entry{Type: signer.TypeSelfSigned, Signer: selfSigned},
		signer.Entry{Type: signer.TypeCA, Signer: ca},
	)
	if err != nil {
		t.Fatalf("NewRegistry error = %v", err)
	}
	if got, ok := r.Get(signer.TypeCA); !ok || got != signer.Signer(ca) {
		t.Errorf("Get(CA) = %v, %t; want the CA signer", got, ok)
	}
	if got, ok := r.Get(signer.TypeSelfSigned); !ok || got != signer.Signer(selfSigned) {
		t.Errorf("Get(SelfSigned) = %v, %t; want the SelfSigned signer", got, ok)
	}
	if got, ok := r.Get(signer.TypeVault); ok || got != nil {
		t.Errorf("Get(Vault) = %v, %t; want nothing", got, ok)
	}
	if got, want := r.Types(), []signer.IssuerType{signer.TypeCA, signer.TypeSelfSigned}; !slices.Equal(got, want) {
		t.Errorf("Types() = %v, want %v", got, want)
	}
}

func TestRegistryTypesIsACopy(t *testing.T) {
	r, err := signer.NewRegistry(signer.Entry{Type: signer.TypeCA, Signer: signertest.New()})
	if err != nil {
		t.Fatalf("NewRegistry error = %v", err)
	}
	r.Types()[0] = signer.TypeVault
	if _, ok := r.Get(signer.TypeCA); !ok || r.Types()[0] != signer.TypeCA {
		t.Errorf("modifying Types() changed the registry")
	}
}

func TestRegistryEmpty(t *testing.T) {
	r, err := signer.NewRegistry()
	if err != nil {
		t.Fatalf("NewRegistry() error = %v", err)
	}
	if len(r.Types()) != 0 {
		t.Errorf("Types() = %v, want none", r.Types())
	}
	var nilRegistry *signer.Registry
	if _, ok := nilRegistry.Get(signer.TypeCA); ok || nilRegistry.Types() != nil {
		t.Errorf("a nil registry must hold nothing")
	}
}

func TestNewRegistryRejects(t *testing.T) {
	var typedNil *signertest.Signer
	tests := map[string]struct {
		entries []signer.Entry
		mention string
	}{
		"duplicate type": {
			entries: []signer.Entry{{Type: signer.TypeCA, Signer: signertest.New()}, {Type: signer.TypeCA, Signer: signertest.New()}},
			mention: "CA registered twice",
		},
		"nil signer": {
			entries: []signer.Entry{{Type: signer.TypeVault}},
			mention: "nil signer for issuer type Vault",
		},
		"typed nil signer": {
			entries: []signer.Entry{{Type: signer.TypeACME, Signer: typedNil}},
			mention: "nil signer for issuer type ACME",
		},
		"empty type": {
			entries: []signer.Entry{{Signer: signertest.New()}},
			mention: `unknown issuer type ""`,
		},
		"unknown type": {
			entries: []signer.Entry{{Type: "ca", Signer: signertest.New()}},
			mention: `unknown issuer type "ca"`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := signer.NewRegistry(tc.entries...)
			if err == nil {
				t.Fatalf("NewRegistry = %v, want an error", r)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
		})
	}
}
