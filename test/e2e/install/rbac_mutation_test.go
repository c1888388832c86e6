package install

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// coveredElsewhere are rules of the ClusterRole that the CA and SelfSigned round trip cannot
// need, because only another signer uses them; their own suites exercise them.
var coveredElsewhere = map[string]string{
	"/serviceaccounts/token:create": "Vault Kubernetes auth with serviceAccountRef; test/e2e/vault " +
		"(TestEveryAuthMethodSignsForIssuersAndClusterIssuers) fails without it, its manager holding config/rbac/role.yaml",
	"networking.k8s.io/ingresses:create,delete,get": "ACME http01.ingress solvers; test/e2e/acme fails without it, " +
		"its manager holding config/rbac/role.yaml",
	"admissionregistration.k8s.io/validatingwebhookconfigurations:get,update[signer-policy-approval-observer]": "the approval-observing " +
		"webhook's CA bundle; controllers (TestAPersonsApprovalAndDenialAreRecordedWithTheirIdentity) fails without it, its manager " +
		"holding config/rbac/role.yaml and serving the webhook",
}

// Least privilege, checked from the other side: for each rule of the operator's ClusterRole, an
// operator holding every rule but that one fails the round trip. A rule whose removal changed
// nothing would be privilege the operator does not need.
func TestEveryClusterRoleRuleIsNeeded(t *testing.T) {
	install(t, render(t, "default"))
	var role rbacv1.ClusterRole
	for _, o := range render(t, "default") {
		if o.GetKind() == "ClusterRole" && o.GetName() == "signer-policy-manager-role" {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &role); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(role.Rules) == 0 {
		t.Fatal("config/default has no signer-policy-manager-role")
	}
	for i, rule := range role.Rules {
		name := describeRule(rule)
		t.Run(name, func(t *testing.T) {
			if why, ok := coveredElsewhere[name]; ok {
				t.Logf("not needed by this round trip: %s", why)
				return
			}
			sa := fmt.Sprintf("mutant-%d", i)
			mutated := rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "test:" + sa},
				Rules: slices.Delete(slices.Clone(role.Rules), i, i+1)}
			env.Create(t, &mutated)
			env.Create(t, &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: "test:" + sa},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: mutated.Name},
				Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: operatorNamespace, Name: sa}},
			})
			stop, err := env.RunManager(asServiceAccount(sa), options(), metricsserver.Options{BindAddress: "0"})
			if err != nil {
				t.Logf("without %s the operator does not start: %v", name, err)
				return
			}
			defer func() { _ = stop() }()
			ctx, cancel := context.WithTimeout(context.Background(), 12*time.Second) // a healthy round trip takes about 2 s
			defer cancel()
			err = tryRoundTrip(ctx, t, env.Namespace(t))
			if err == nil {
				t.Fatalf("the operator completed its round trip without %s: the rule grants more than it needs", name)
			}
			t.Logf("without %s: %v", name, firstLine(err))
		})
	}
}

func describeRule(r rbacv1.PolicyRule) string {
	s := strings.Join(r.APIGroups, ",") + "/" + strings.Join(r.Resources, ",") + ":" + strings.Join(r.Verbs, ",")
	if len(r.ResourceNames) > 0 {
		s += "[" + strings.Join(r.ResourceNames, ",") + "]"
	}
	return s
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
