//go:build !unit

package approvers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/signerpolicy/signer-policy-operator/internal/approvers"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

var env *harness.Env

func TestMain(m *testing.M) {
	os.Exit(harness.ControlPlaneMain(m, &env))
}

// The elected replica points the webhook Service's EndpointSlice, as config/webhook ships it, at
// its own pod, with no more than config/webhook's Role grants.
func TestTheLeaderPointsTheWebhookServiceAtItself(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	for _, file := range []string{"ca_role.yaml", "service.yaml"} {
		read, err := harness.ReadObjects(filepath.Join(root, "config", "webhook", file))
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, read...)
	}
	for _, u := range objs {
		u.SetNamespace(ns)
		switch u.GetKind() {
		case "RoleBinding":
			_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"kind": "User", "name": "operator"}}, "subjects")
			_ = unstructured.SetNestedField(u.Object, "signer-policy-webhook-ca", "roleRef", "name")
			u.SetName("signer-policy-webhook-ca")
		case "Role":
			u.SetName("signer-policy-webhook-ca")
		default:
			u.SetName(approvers.EndpointName) // as config/default's prefix names them
		}
	}
	if err := harness.Apply(ctx, env.Admin, objs); err != nil {
		t.Fatal(err)
	}
	operator := env.User(t, "operator")
	l := &approvers.LeaderEndpoint{Writer: operator, Namespace: ns, PodName: "elected", PodIP: "10.1.2.3", Port: 9443}
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- l.Start(lctx) }()
	harness.Eventually(t, wait, func() error {
		var slice discoveryv1.EndpointSlice
		if err := env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: approvers.EndpointName}, &slice); err != nil {
			return err
		}
		if len(slice.Endpoints) != 1 || !slices.Equal(slice.Endpoints[0].Addresses, []string{"10.1.2.3"}) ||
			len(slice.Ports) != 1 || *slice.Ports[0].Port != 9443 || slice.Labels["kubernetes.io/service-name"] != approvers.EndpointName {
			return fmt.Errorf("EndpointSlice %+v %+v, want the leader's address on port 9443", slice.Endpoints, slice.Ports)
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The Role lets the operator change that one EndpointSlice, nothing about pods.
	if err := operator.List(ctx, &corev1.PodList{}, client.InNamespace(ns)); err == nil {
		t.Error("the webhook Role lets the operator list pods")
	}
}

const wait = 30 * time.Second
