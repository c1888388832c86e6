package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"

	"github.com/signerpolicy/signer-policy-operator/test/harness"
	"github.com/signerpolicy/signer-policy-operator/test/pki"
)

// tenant is one team of the tenancy part: its namespace, the admin who holds only
// namespace-admin rights there, and the service account its workload runs as.
type tenant struct {
	ns, admin, caName string
}

func (t tenant) signerName() string { return "issuers.cert-manager.io/" + t.ns + ".ca" }

var tenants = []tenant{
	{ns: "team-b", admin: "bo", caName: "Team B Root CA"},
	{ns: "team-c", admin: "cleo", caName: "Team C Root CA"},
}

// showTenancy plays tenant self-service: the platform team delegates the CA Issuers of two team
// namespaces, each team's admin writes its own NamespacedSignerPolicy with their own credentials,
// each team's workload gets a certificate from its own Issuer, and one team's workload asking the
// other's Issuer is denied.
func showTenancy(ctx context.Context, env *harness.Env, k kubectl, dir string) error {
	if err := delegateToTenants(ctx, env, k); err != nil {
		return err
	}
	admins, err := tenantAdmins(ctx, env, k, dir)
	if err != nil {
		return err
	}
	if err := tenantsWritePolicies(k, admins); err != nil {
		return err
	}
	workloads := map[string]user{}
	for _, t := range tenants {
		web, err := newServiceAccount(env, dir, t.ns, "web")
		if err != nil {
			return err
		}
		workloads[t.ns] = web
		step(fmt.Sprintf("%s's workload (service account web) asks %s's Issuer for web.%s.svc", t.ns, t.ns, t.ns))
		name, c, err := issued(ctx, env, k, web, t.signerName(),
			&x509.CertificateRequest{DNSNames: []string{"web." + t.ns + ".svc", "web." + t.ns + ".svc.cluster.local"}})
		if err != nil {
			return err
		}
		if err := k.show("get", "csr", name, "-o", `jsonpath={.status.conditions[?(@.type=="Approved")].message}{"\n"}`); err != nil {
			return err
		}
		if err := printCertificate(c); err != nil {
			return err
		}
	}
	if err := showBeyondDelegation(ctx, env, k, workloads["team-c"]); err != nil {
		return err
	}
	return showCrossTenantDenial(ctx, env, k, workloads["team-c"])
}

// showBeyondDelegation has team-c's workload ask for a lifetime its own policy leaves open but the
// delegation does not allow: the denial names the delegating policy's field.
func showBeyondDelegation(ctx context.Context, env *harness.Env, k kubectl, web user) error {
	step("team-c's workload asks for 60 days: team-c's policy sets no max, the delegation's 30 days hold")
	name, err := submit(ctx, web, tenants[1].signerName(), &x509.CertificateRequest{DNSNames: []string{"web.team-c.svc"}},
		map[string]string{"experimental.cert-manager.io/request-duration": "1440h"}, pki.ECDSA)
	if err != nil {
		return err
	}
	if _, err := waitFor(ctx, env, name, isDecided); err != nil {
		return err
	}
	return k.show("get", "csr", name, "-o", `jsonpath={.status.conditions[?(@.type=="Denied")].message}{"\n"}`)
}

// delegateToTenants is the platform team's part: the tenant roles, the namespaces with their CA
// Issuers, the delegating SignerPolicy, and the Issuers' CA keypairs.
func delegateToTenants(ctx context.Context, env *harness.Env, k kubectl) error {
	step("Tenancy: the platform team delegates the CA Issuers of team-b and team-c to the teams")
	for _, f := range []string{"config/rbac/tenants/namespacedsignerpolicy_roles.yaml", "config/samples/tenancy/platform.yaml"} {
		if err := k.show("apply", "--server-side", "-f", f); err != nil {
			return err
		}
	}
	step("The teams' CA keypairs go into the Secrets their Issuers name")
	for _, t := range tenants {
		ca, err := pki.NewAuthority(t.caName, nil, 365*24*time.Hour)
		if err != nil {
			return err
		}
		if err := env.Admin.Create(ctx, ca.Secret(t.ns, "ca")); err != nil {
			return err
		}
	}
	if err := k.waitFor("signerpolicy/tenant-delegation", "condition=Ready"); err != nil {
		return err
	}
	return k.show("get", "signerpolicy", "tenant-delegation")
}

// tenantAdmins gives each team an admin with only what a namespace admin holds in the team's
// namespace, and waits until the API server's authorizer lets them write policies there.
func tenantAdmins(ctx context.Context, env *harness.Env, k kubectl, dir string) (map[string]user, error) {
	step("Each team's admin gets namespace-admin rights in the team's namespace, nothing more")
	fmt.Println("\nKubernetes aggregates namespacedsignerpolicies-edit into admin through kube-controller-manager," +
		"\nwhich this local control plane does not run, so each admin is bound to both roles here.")
	admins := map[string]user{}
	for _, t := range tenants {
		for _, role := range []string{"admin", "namespacedsignerpolicies-edit"} {
			if err := k.show("create", "rolebinding", "-n", t.ns, t.admin+":"+role, "--clusterrole", role, "--user", t.admin); err != nil {
				return nil, err
			}
		}
		u, err := newUser(env, dir, t.admin)
		if err != nil {
			return nil, err
		}
		if err := waitUntilAllowed(ctx, u, t.ns, "patch", "namespacedsignerpolicies"); err != nil {
			return nil, err
		}
		admins[t.ns] = u
	}
	return admins, nil
}

// tenantsWritePolicies has each team's admin apply the team's own policy with their own
// kubeconfig, shows that one cannot write into the other's namespace, and lists the result.
func tenantsWritePolicies(k kubectl, admins map[string]user) error {
	for _, t := range tenants {
		step(fmt.Sprintf("%s, %s's admin, applies %s's NamespacedSignerPolicy with their own kubeconfig", t.admin, t.ns, t.ns))
		if err := k.as(admins[t.ns]).show("apply", "--server-side", "-f", "config/samples/tenancy/"+t.ns+".yaml"); err != nil {
			return err
		}
	}
	step("cleo, team-c's admin, cannot write a policy in team-b's namespace")
	if err := k.as(admins["team-c"]).showRefused("apply", "--server-side", "-f", "config/samples/tenancy/team-b.yaml"); err != nil {
		return err
	}

	step("The platform team sees every team's policy in force, and which SignerPolicy delegates it")
	for _, t := range tenants {
		if err := k.show("wait", "--for=condition=Ready", "-n", t.ns, "namespacedsignerpolicy/web", "--timeout=60s"); err != nil {
			return err
		}
	}
	if err := k.show("get", "namespacedsignerpolicies", "-A"); err != nil {
		return err
	}
	step("team-b's policy's status: the delegation, the bounds that hold under it, the RBAC it generated")
	return k.show("get", "nsp", "-n", "team-b", "web", "-o", "jsonpath={.status}{\"\\n\"}")
}

// showCrossTenantDenial has team-c's workload ask team-b's Issuer. Its own policy's RBAC lets it
// create CSRs at all; no policy governing team-b's Issuer names it, so it is denied.
func showCrossTenantDenial(ctx context.Context, env *harness.Env, k kubectl, web user) error {
	step("team-c's workload asks team-b's Issuer for web.team-b.svc: denied, naming team-b's policy")
	name, err := submit(ctx, web, tenants[0].signerName(),
		&x509.CertificateRequest{DNSNames: []string{"web.team-b.svc"}}, nil, pki.ECDSA)
	if err != nil {
		return err
	}
	if _, err := waitFor(ctx, env, name, isDecided); err != nil {
		return err
	}
	if err := k.show("get", "csr", name); err != nil {
		return err
	}
	return k.show("get", "csr", name, "-o", `jsonpath={.status.conditions[?(@.type=="Denied")].message}{"\n"}`)
}

// newServiceAccount is a client and kubeconfig authenticating as the namespace's service account,
// with the groups the API server gives service accounts. Its CSRs are named after it.
func newServiceAccount(env *harness.Env, dir, ns, name string) (user, error) {
	u, err := newUser(env, dir, "system:serviceaccount:"+ns+":"+name, "system:serviceaccounts", "system:serviceaccounts:"+ns)
	u.name = ns + "-" + name
	return u, err
}

// waitUntilAllowed waits until the API server's authorizer, which learns of new RoleBindings a
// moment after they are written, lets the user do verb on resource in the namespace.
func waitUntilAllowed(ctx context.Context, u user, ns, verb, resource string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: verb, Group: "policy.signerpolicy.dev", Resource: resource},
		}}
		if err := u.client.Create(ctx, review); err != nil {
			return err
		}
		if review.Status.Allowed {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s may not %s %s in %s", u.name, verb, resource, ns)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// showRefused prints a kubectl command and its output like show, for a command the API server
// must refuse: it is an error if the command succeeds.
func (k kubectl) showRefused(args ...string) error {
	fmt.Printf("\n$ kubectl %s\n", strings.Join(quote(args), " "))
	cmd := exec.Command(k.path, append([]string{"--kubeconfig", k.kubeconfig}, args...)...)
	cmd.Dir = k.root
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
	if err := cmd.Run(); err == nil {
		return fmt.Errorf("kubectl %s succeeded; it should have been refused", strings.Join(args, " "))
	}
	return nil
}
