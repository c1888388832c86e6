package gitops

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/signerpolicy/signer-policy-operator/internal/bundle"
	"github.com/signerpolicy/signer-policy-operator/test/harness"
)

// healthKey is the argocd-cm key Argo CD reads a SignerPolicy's health script from.
const healthKey = "resource.customizations.health.policy.signerpolicy.dev_SignerPolicy"

// argoHealth is what Argo CD reports.
type argoHealth struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// healthScript is the script as config/gitops ships it: the argocd-cm key its kustomization
// builds from argocd-health.lua.
func healthScript(t *testing.T) string {
	t.Helper()
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := bundle.Build(filepath.Join(root, "config", "gitops"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].GetKind() != "ConfigMap" || objs[0].GetName() != "argocd-cm" || objs[0].GetNamespace() != "argocd" {
		t.Fatalf("config/gitops builds %d objects, want argocd-cm in argocd alone", len(objs))
	}
	script, _, _ := unstructured.NestedString(objs[0].Object, "data", healthKey)
	if script == "" {
		t.Fatalf("argocd-cm has no %s", healthKey)
	}
	return script
}

// runHealthScript runs the script the way Argo CD runs a health check from argocd-cm: the object
// in the global obj (maps as tables, lists as arrays, numbers as numbers), only the package, base
// and table libraries open (no string or math library unless the customization opts in), a
// second to finish, and a table with a known status as the answer.
func runHealthScript(script string, obj *unstructured.Unstructured) (argoHealth, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for name, open := range map[string]lua.LGFunction{lua.LoadLibName: lua.OpenPackage, lua.BaseLibName: lua.OpenBase, lua.TabLibName: lua.OpenTable} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(open), Protect: true}, lua.LString(name)); err != nil {
			return argoHealth{}, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj.Object))
	if err := l.DoString(script); err != nil {
		return argoHealth{}, err
	}
	table, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return argoHealth{}, fmt.Errorf("the script returned a %s, not a table", l.Get(-1).Type())
	}
	h := argoHealth{Status: lua.LVAsString(table.RawGetString("status")), Message: lua.LVAsString(table.RawGetString("message"))}
	switch h.Status {
	case "Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown":
		return h, nil
	}
	return h, fmt.Errorf("the script returned status %q, which Argo CD replaces with Unknown", h.Status)
}

// toLua converts an object's JSON values into Lua values as Argo CD does.
func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case json.Number:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case []any:
		arr := l.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(toLua(l, item))
		}
		return arr
	case map[string]any:
		table := l.CreateTable(0, len(v))
		for key, item := range v {
			table.RawSetH(lua.LString(key), toLua(l, item))
		}
		return table
	}
	return lua.LNil
}

// Reasons the control plane cannot easily produce (an issuer type, too many issuers) and shapes
// of status the operator never writes still get an answer that makes sense.
func TestArgoCDHealthOfEveryReadyReason(t *testing.T) {
	script := healthScript(t)
	policy := func(generation, observed int64, conditions ...map[string]any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "policy.signerpolicy.dev/v1alpha1", "kind": "SignerPolicy",
			"metadata": map[string]any{"name": "p", "generation": generation},
			"status":   map[string]any{"observedGeneration": observed},
		}}
		list := make([]any, len(conditions))
		for i, c := range conditions {
			list[i] = c
		}
		if len(conditions) > 0 {
			_ = unstructured.SetNestedSlice(u.Object, list, "status", "conditions")
		}
		return u
	}
	ready := func(status, reason string) map[string]any {
		return map[string]any{"type": "Ready", "status": status, "reason": reason, "message": "m"}
	}
	informational := map[string]any{"type": "SignerShared", "status": "True", "reason": "OtherPoliciesOnSigner", "message": "m"}
	for _, c := range []struct {
		name   string
		policy *unstructured.Unstructured
		want   string
	}{
		{"Ready", policy(3, 3, informational, ready("True", "Ready")), "Healthy"},
		{"IssuerNotFound", policy(1, 1, ready("False", "IssuerNotFound")), "Progressing"},
		{"RBACFailed", policy(1, 1, ready("False", "RBACFailed")), "Progressing"},
		{"InvalidPolicy", policy(1, 1, ready("False", "InvalidPolicy")), "Degraded"},
		{"UnsupportedIssuerType", policy(1, 1, ready("False", "UnsupportedIssuerType")), "Degraded"},
		{"TooManyIssuers", policy(1, 1, ready("False", "TooManyIssuers")), "Degraded"},
		{"a reason of a later release", policy(1, 1, ready("False", "SomethingNew")), "Progressing"},
		{"Ready Unknown", policy(1, 1, ready("Unknown", "InvalidPolicy")), "Progressing"},
		{"stale Ready", policy(2, 1, ready("True", "Ready")), "Progressing"},
		{"status without conditions", policy(1, 1), "Progressing"},
		{"only informational conditions", policy(1, 1, informational), "Progressing"},
		{"no status", &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"generation": int64(1)}}}, "Progressing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := runHealthScript(script, c.policy)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != c.want {
				t.Errorf("health %s (%s), want %s", got.Status, got.Message, c.want)
			}
		})
	}
}
