package signer

import (
	"reflect"
	"slices"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
)

var (
	secretKeySelectorType = reflect.TypeFor[cmmeta.SecretKeySelector]()
	localObjectRefType    = reflect.TypeFor[cmmeta.LocalObjectReference]()
)

// ReferencedSecrets lists, sorted and once each, the names of the Secrets an issuer spec refers
// to: the CA key pair, Vault, Venafi and ACME credentials, CA bundles, solver keys. The signing
// controller indexes issuers by them so that a Secret that appears or changes wakes the CSRs
// waiting for it. It walks cert-manager's types rather than naming fields, so a reference that
// a new cert-manager release adds is not missed; naming a Secret that is not one only costs a
// spare wake-up.
func ReferencedSecrets(spec *cmapi.IssuerSpec) []string {
	var names []string
	collectSecrets(reflect.ValueOf(spec).Elem(), &names)
	slices.Sort(names)
	return slices.Compact(names)
}

func collectSecrets(v reflect.Value, names *[]string) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			collectSecrets(v.Elem(), names)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			collectSecrets(v.Index(i), names)
		}
	case reflect.Struct:
		if v.Type() == secretKeySelectorType || v.Type() == localObjectRefType {
			if name := v.FieldByName("Name").String(); name != "" {
				*names = append(*names, name)
			}
			return
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			if f.Name == "SecretName" && f.Type.Kind() == reflect.String {
				if name := v.Field(i).String(); name != "" {
					*names = append(*names, name)
				}
				continue
			}
			collectSecrets(v.Field(i), names)
		}
	}
}
