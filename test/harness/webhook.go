package harness

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/signerpolicy/signer-policy-operator/internal/approvers"
)

// Names of the approval-observing webhook as config/default installs them, which the shipped RBAC
// names.
const (
	webhookConfiguration = "signer-policy-approval-observer"
	webhookCASecret      = "signer-policy-webhook-ca"
	// operatorNamespace and operatorServiceAccountName make up OperatorServiceAccount.
	operatorNamespace          = "signer-policy-system"
	operatorServiceAccountName = "signer-policy-operator"
)

// approvalWebhook makes the API server call the operator's approval-observing webhook, served by
// the in-process manager on a loopback port: config/webhook's configuration and CA Role are
// installed as shipped, except that the webhook is reached at https://localhost:<port> instead of
// through a Service (envtest has no Service network). The operator is its own CA, as in a cluster:
// it creates the CA Secret and writes the caBundle, with the RBAC config/webhook grants it.
func (e *Env) approvalWebhook(operator *rest.Config) (webhook.Server, *approvers.Serving, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	objs, err := ReadObjects(filepath.Join(root, "config", "webhook", "manifests.yaml"))
	if err != nil {
		return nil, nil, err
	}
	roles, err := ReadObjects(filepath.Join(root, "config", "webhook", "ca_role.yaml"))
	if err != nil {
		return nil, nil, err
	}
	for _, u := range objs {
		u.SetName(webhookConfiguration)
		hooks, _, _ := unstructured.NestedSlice(u.Object, "webhooks")
		for _, h := range hooks {
			hook := h.(map[string]any)
			path, _, _ := unstructured.NestedString(hook, "clientConfig", "service", "path")
			hook["clientConfig"] = map[string]any{"url": "https://localhost:" + strconv.Itoa(port) + path}
		}
		if err := unstructured.SetNestedSlice(u.Object, hooks, "webhooks"); err != nil {
			return nil, nil, err
		}
	}
	for _, u := range roles {
		u.SetName("signer-policy-webhook-ca")
		u.SetNamespace(operatorNamespace)
		if u.GetKind() == "RoleBinding" {
			_ = unstructured.SetNestedField(u.Object, "signer-policy-webhook-ca", "roleRef", "name")
			_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{
				"kind": "ServiceAccount", "name": operatorServiceAccountName, "namespace": operatorNamespace}}, "subjects")
		}
	}
	if err := Apply(context.Background(), e.Admin, append(objs, roles...)); err != nil {
		return nil, nil, err
	}
	serving, err := approvers.NewServing(operator, approvers.ServingOptions{
		CASecret: types.NamespacedName{Namespace: operatorNamespace, Name: webhookCASecret},
		DNSNames: []string{"localhost"}, WebhookConfiguration: webhookConfiguration,
	})
	if err != nil {
		return nil, nil, err
	}
	return webhook.NewServer(webhook.Options{Host: "127.0.0.1", Port: port, TLSOpts: []func(*tls.Config){serving.TLSOption}}), serving, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a port for the webhook: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
