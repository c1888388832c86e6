//go:build tools

// Package controlplane pins the commands this module builds so that `go mod tidy` keeps them.
package controlplane

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
