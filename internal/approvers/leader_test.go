//go:build !unit

package approvers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/signerpolicy/signer-policy-operator/internal/approvers"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

var env *harness.Env

func TestMain(m *testing.M) {
	os.Exit(harness.ControlPlaneMain(m, &env))
}

// The elected replica labels its own pod for the webhook Service and takes the label off the pod
// of the replica that led before it, with no more than config/webhook's Role grants.
func TestTheLeaderLabelsItsPodAndUnlabelsTheOldLeader(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	roles, err := harness.ReadObjects(filepath.Join(root, "config", "webhook", "ca_role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range roles {
		u.SetNamespace(ns)
		if u.GetKind() == "RoleBinding" {
			_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"kind": "User", "name": "operator"}}, "subjects")
		}
	}
	if err := harness.Apply(ctx, env.Admin, roles); err != nil {
		t.Fatal(err)
	}
	if err := env.Admin.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "default"}}); err != nil {
		t.Fatal(err)
	}
	pod := func(name string, labels map[string]string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "manager", Image: "controller:latest"}}}}
		if err := env.Admin.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	old := pod("old-leader", map[string]string{approvers.LeaderLabel: "true", "control-plane": "controller-manager"})
	elected := pod("elected", map[string]string{"control-plane": "controller-manager"})
	other := pod("unrelated", map[string]string{"app": "x"})

	operator := env.User(t, "operator")
	l := &approvers.LeaderLabeler{Reader: operator, Writer: operator, Namespace: ns, Pod: elected.Name}
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- l.Start(lctx) }()
	harness.Eventually(t, wait, func() error {
		return labelsAre(ctx, map[*corev1.Pod]string{old: "", elected: "true", other: ""})
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

const wait = 30 * time.Second

func labelsAre(ctx context.Context, want map[*corev1.Pod]string) error {
	for p, value := range want {
		var got corev1.Pod
		if err := env.Admin.Get(ctx, client.ObjectKeyFromObject(p), &got); err != nil {
			return err
		}
		if got.Labels[approvers.LeaderLabel] != value {
			return fmt.Errorf("pod %s has leader label %q, want %q", p.Name, got.Labels[approvers.LeaderLabel], value)
		}
	}
	return nil
}
