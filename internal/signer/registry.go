package signer

import (
	"fmt"
	"reflect"
	"slices"
)

// Entry pairs an issuer type with the signer that serves it.
type Entry struct {
	Type   IssuerType
	Signer Signer
}

// Registry maps issuer types to their signers. It is built once in main.go from explicitly
// constructed signers and never changes afterwards, so it is safe for concurrent use.
type Registry struct {
	signers map[IssuerType]Signer
}

// NewRegistry builds a registry from entries. A duplicate, unknown or empty type, or a nil
// signer, is an error: each would otherwise surface only when the first CSR for that issuer
// type arrives, as a CSR that is never signed.
func NewRegistry(entries ...Entry) (*Registry, error) {
	signers := make(map[IssuerType]Signer, len(entries))
	for _, e := range entries {
		if !isKnownType(e.Type) {
			return nil, fmt.Errorf("signer registry: unknown issuer type %q", e.Type)
		}
		if isNil(e.Signer) {
			return nil, fmt.Errorf("signer registry: nil signer for issuer type %s", e.Type)
		}
		if _, dup := signers[e.Type]; dup {
			return nil, fmt.Errorf("signer registry: issuer type %s registered twice", e.Type)
		}
		signers[e.Type] = e.Signer
	}
	return &Registry{signers: signers}, nil
}

// Get returns the signer for t.
func (r *Registry) Get(t IssuerType) (Signer, bool) {
	if r == nil {
		return nil, false
	}
	s, ok := r.signers[t]
	return s, ok
}

// Types returns the registered issuer types, sorted so that status messages and logs listing
// them are stable.
func (r *Registry) Types() []IssuerType {
	if r == nil {
		return nil
	}
	types := make([]IssuerType, 0, len(r.signers))
	for t := range r.signers {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// isKnownType reports whether TypeOf can ever return t; a signer registered under any other
// name could never be dispatched to, which is a typo in main.go.
func isKnownType(t IssuerType) bool {
	switch t {
	case TypeCA, TypeSelfSigned, TypeVault, TypeVenafi, TypeACME:
		return true
	}
	return false
}

// isNil also catches a typed nil pointer in the interface, the usual way a nil signer gets in
// (a constructor result that was never assigned).
func isNil(s Signer) bool {
	if s == nil {
		return true
	}
	v := reflect.ValueOf(s)
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return v.IsNil()
	}
	return false
}
