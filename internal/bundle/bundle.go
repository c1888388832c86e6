// Package bundle renders the Operator Lifecycle Manager bundle from the objects config/manifests
// builds to (the CSV base, the operator as config/default installs it, and the samples) and from
// the external APIs the PROJECT file records, which become the bundle's dependencies. Nothing in
// the bundle is written by hand, and the output is deterministic, so `make bundle` twice changes
// nothing: even createdAt comes from the CSV base rather than the clock.
package bundle

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/blang/semver/v4"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/signerpolicy/signer-policy-operator/internal/manifests"
)

// Package is the OLM package name; Channel its only channel for now.
const (
	Package = "signer-policy-operator"
	Channel = "candidate"
)

// Files maps a path inside the bundle directory to its content.
type Files map[string][]byte

// Annotations of the CSV the generator sets.
const (
	// AnnotationCreatedAt is the bundle's release time, which the CSV base must carry.
	AnnotationCreatedAt = "createdAt"
	// AnnotationSuggestedNamespace is where OperatorHub's console proposes to install.
	AnnotationSuggestedNamespace = "operatorframework.io/suggested-namespace"
)

// Generate renders the bundle's manifests/, metadata/ (with dependencies.yaml declaring
// dependencies) and tests/ (the scorecard config) from config/manifests' objects.
func Generate(objs []*unstructured.Unstructured, dependencies []schema.GroupVersionKind) (Files, error) {
	g := &generator{files: Files{}}
	for _, o := range objs {
		if err := g.add(o); err != nil {
			return nil, fmt.Errorf("%s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	if g.csv == nil {
		return nil, fmt.Errorf("config/manifests has no ClusterServiceVersion base")
	}
	if err := g.finishCSV(); err != nil {
		return nil, err
	}
	annotations, err := yaml.Marshal(map[string]map[string]string{"annotations": Annotations()})
	if err != nil {
		return nil, err
	}
	g.files["metadata/annotations.yaml"] = annotations
	if len(dependencies) > 0 {
		if g.files["metadata/dependencies.yaml"], err = dependenciesFile(dependencies); err != nil {
			return nil, err
		}
	}
	if g.files[scorecardPath], err = scorecardConfig(); err != nil {
		return nil, err
	}
	return g.files, nil
}

// Annotations are the bundle's metadata/annotations.yaml, which bundle.Dockerfile repeats as
// labels.
func Annotations() map[string]string {
	return map[string]string{
		"operators.operatorframework.io.bundle.mediatype.v1":       "registry+v1",
		"operators.operatorframework.io.bundle.manifests.v1":       "manifests/",
		"operators.operatorframework.io.bundle.metadata.v1":        "metadata/",
		"operators.operatorframework.io.bundle.package.v1":         Package,
		"operators.operatorframework.io.bundle.channels.v1":        Channel,
		"operators.operatorframework.io.bundle.channel.default.v1": Channel,
		// Where `operator-sdk scorecard` finds its config in the bundle image.
		"operators.operatorframework.io.test.mediatype.v1": "scorecard+v1",
		"operators.operatorframework.io.test.config.v1":    filepath.Dir(scorecardPath) + "/",
	}
}

type generator struct {
	files       Files
	csv         *operatorsv1alpha1.ClusterServiceVersion
	deployments []appsv1.Deployment
	roles       map[string][]rbacv1.PolicyRule // "ClusterRole/name" or "Role/name"
	bindings    []binding
	examples    []map[string]any
	// crds are the owned CRDs by kind, whose schemas describe the fields descriptors name.
	crds map[string]*unstructured.Unstructured
	// webhooks become the CSV's webhookdefinitions: OLM installs them, provisions their serving
	// certificate and creates the Service in front of them.
	webhooks []admissionregistrationv1.ValidatingWebhook
	// services become manifests, except those in front of webhooks, which OLM makes itself.
	services []*unstructured.Unstructured
}

// binding is a role granted to a service account.
type binding struct {
	role           string // "ClusterRole/name" or "Role/name"
	serviceAccount string
}

func (g *generator) add(o *unstructured.Unstructured) error {
	if g.roles == nil {
		g.roles, g.crds = map[string][]rbacv1.PolicyRule{}, map[string]*unstructured.Unstructured{}
	}
	switch o.GetKind() {
	case "ClusterServiceVersion":
		g.csv = &operatorsv1alpha1.ClusterServiceVersion{}
		return fromUnstructured(o, g.csv)
	case "Deployment":
		var d appsv1.Deployment
		if err := fromUnstructured(o, &d); err != nil {
			return err
		}
		g.deployments = append(g.deployments, d)
	case "ClusterRole", "Role":
		var rules struct {
			Rules []rbacv1.PolicyRule `json:"rules"`
		}
		if err := fromUnstructured(o, &rules); err != nil {
			return err
		}
		g.roles[o.GetKind()+"/"+o.GetName()] = rules.Rules
		if o.GetKind() == "ClusterRole" {
			// Kept as a manifest too: OLM installs unbound ClusterRoles (the metrics reader) as
			// they are; bound ones are dropped in finishCSV in favour of clusterPermissions.
			return g.manifest(o)
		}
	case "ClusterRoleBinding", "RoleBinding":
		var b rbacv1.RoleBinding
		if err := fromUnstructured(o, &b); err != nil {
			return err
		}
		for _, s := range b.Subjects {
			if s.Kind == rbacv1.ServiceAccountKind {
				g.bindings = append(g.bindings, binding{role: b.RoleRef.Kind + "/" + b.RoleRef.Name, serviceAccount: s.Name})
			}
		}
	case "CustomResourceDefinition":
		g.crds[nestedString(o, "spec", "names", "kind")] = o
		return g.manifest(o)
	case "Service":
		g.services = append(g.services, o)
	case "ValidatingWebhookConfiguration":
		var vwc admissionregistrationv1.ValidatingWebhookConfiguration
		if err := fromUnstructured(o, &vwc); err != nil {
			return err
		}
		g.webhooks = append(g.webhooks, vwc.Webhooks...)
	case "Namespace", "ServiceAccount":
		// OLM creates the install namespace, and service accounts from the permissions.
	default:
		// Samples: the owned kinds become alm-examples; others (cert-manager issuers) are only
		// there to make the examples meaningful and are not part of the bundle.
		g.examples = append(g.examples, o.Object)
	}
	return nil
}

func (g *generator) manifest(o *unstructured.Unstructured) error {
	o = o.DeepCopy()
	o.SetNamespace("")
	data, err := marshal(o.Object)
	if err != nil {
		return err
	}
	gv := strings.ReplaceAll(o.GetAPIVersion(), "/", "_")
	g.files[filepath.Join("manifests", o.GetName()+"_"+gv+"_"+strings.ToLower(o.GetKind())+".yaml")] = data
	return nil
}

func (g *generator) finishCSV() error {
	csv := g.csv
	if len(g.deployments) != 1 {
		return fmt.Errorf("config/manifests holds %d Deployments, want the operator's one", len(g.deployments))
	}
	d := g.deployments[0]
	image := d.Spec.Template.Spec.Containers[0].Image
	version, err := versionOf(image)
	if err != nil {
		return err
	}
	csv.Name, csv.Namespace = Package+".v"+version, ""
	csv.Spec.Version.Version, err = parseVersion(version)
	if err != nil {
		return err
	}
	if _, err := time.Parse(time.RFC3339, csv.Annotations[AnnotationCreatedAt]); err != nil {
		return fmt.Errorf("the CSV base's %s annotation %q is not an RFC 3339 time: set it to the release's date (%w)",
			AnnotationCreatedAt, csv.Annotations[AnnotationCreatedAt], err)
	}
	csv.Annotations["containerImage"] = image
	csv.Annotations[AnnotationSuggestedNamespace] = d.Namespace
	csv.Spec.RelatedImages = relatedImages(g.deployments)
	g.completeDescriptors()
	examples, err := g.almExamples()
	if err != nil {
		return err
	}
	csv.Annotations["alm-examples"] = examples
	if err := g.webhookDefinitions(&d); err != nil {
		return err
	}
	strategy := operatorsv1alpha1.StrategyDetailsDeployment{
		DeploymentSpecs: []operatorsv1alpha1.StrategyDeploymentSpec{{Name: d.Name, Label: d.Labels, Spec: d.Spec}},
	}
	strategy.ClusterPermissions, strategy.Permissions = g.permissions()
	csv.Spec.InstallStrategy = operatorsv1alpha1.NamedInstallStrategy{StrategyName: operatorsv1alpha1.InstallStrategyNameDeployment, StrategySpec: strategy}
	for _, b := range g.bindings {
		if strings.HasPrefix(b.role, "ClusterRole/") {
			name := strings.TrimPrefix(b.role, "ClusterRole/")
			delete(g.files, filepath.Join("manifests", name+"_rbac.authorization.k8s.io_v1_clusterrole.yaml"))
		}
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(csv)
	if err != nil {
		return err
	}
	// A CSV's status is OLM's to write; the typed object would carry an empty one.
	delete(content, "status")
	data, err := marshal(content)
	if err != nil {
		return err
	}
	g.files[filepath.Join("manifests", Package+".clusterserviceversion.yaml")] = data
	return nil
}

// webhookCertDir is where OLM mounts the serving certificate it provisions for a webhook
// definition's Deployment.
const webhookCertDir = "/tmp/k8s-webhook-server/serving-certs"

// webhookDefinitions turns config/webhook's configuration into webhookdefinitions served by d,
// makes d serve the certificate OLM mounts instead of being its own CA, and writes the Services
// that are not in front of a webhook as manifests.
func (g *generator) webhookDefinitions(d *appsv1.Deployment) error {
	fronting := map[string]bool{}
	for _, w := range g.webhooks {
		svc := w.ClientConfig.Service
		if svc == nil {
			return fmt.Errorf("webhook %s is not reached through a Service, which OLM needs", w.Name)
		}
		fronting[svc.Name] = true
		g.csv.Spec.WebhookDefinitions = append(g.csv.Spec.WebhookDefinitions, operatorsv1alpha1.WebhookDescription{
			GenerateName: w.Name, Type: operatorsv1alpha1.ValidatingAdmissionWebhook, DeploymentName: d.Name,
			ContainerPort: 443, TargetPort: ptr.To(intstr.FromString("webhook")), WebhookPath: svc.Path,
			Rules: w.Rules, FailurePolicy: w.FailurePolicy, MatchPolicy: w.MatchPolicy, SideEffects: w.SideEffects,
			TimeoutSeconds: w.TimeoutSeconds, AdmissionReviewVersions: w.AdmissionReviewVersions,
		})
	}
	if len(g.webhooks) > 0 {
		c := &d.Spec.Template.Spec.Containers[0]
		c.Args = append(c.Args, "--webhook-cert-dir="+webhookCertDir)
	}
	for _, s := range g.services {
		if !fronting[s.GetName()] {
			if err := g.manifest(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// permissions turns what config/rbac binds to service accounts into the CSV's
// clusterPermissions and permissions, one entry per service account, sorted.
func (g *generator) permissions() (cluster, namespaced []operatorsv1alpha1.StrategyDeploymentPermissions) {
	bySA := map[string]map[bool][]rbacv1.PolicyRule{}
	for _, b := range g.bindings {
		if bySA[b.serviceAccount] == nil {
			bySA[b.serviceAccount] = map[bool][]rbacv1.PolicyRule{}
		}
		isCluster := strings.HasPrefix(b.role, "ClusterRole/")
		bySA[b.serviceAccount][isCluster] = append(bySA[b.serviceAccount][isCluster], g.roles[b.role]...)
	}
	names := make([]string, 0, len(bySA))
	for sa := range bySA {
		names = append(names, sa)
	}
	sort.Strings(names)
	for _, sa := range names {
		if rules := bySA[sa][true]; len(rules) > 0 {
			cluster = append(cluster, operatorsv1alpha1.StrategyDeploymentPermissions{ServiceAccountName: sa, Rules: rules})
		}
		if rules := bySA[sa][false]; len(rules) > 0 {
			namespaced = append(namespaced, operatorsv1alpha1.StrategyDeploymentPermissions{ServiceAccountName: sa, Rules: rules})
		}
	}
	return cluster, namespaced
}

func (g *generator) almExamples() (string, error) {
	var examples []map[string]any
	for _, e := range g.examples {
		u := &unstructured.Unstructured{Object: e}
		if g.crds[u.GetKind()] != nil {
			examples = append(examples, e)
		}
	}
	slices.SortFunc(examples, func(a, b map[string]any) int {
		return strings.Compare((&unstructured.Unstructured{Object: a}).GetName(), (&unstructured.Unstructured{Object: b}).GetName())
	})
	data, err := json.MarshalIndent(examples, "", "  ")
	return string(data), err
}

// relatedImages lists every image the Deployments run, by container name, so that mirroring
// tools and disconnected installs know what to copy.
func relatedImages(deployments []appsv1.Deployment) []operatorsv1alpha1.RelatedImage {
	var images []operatorsv1alpha1.RelatedImage
	for _, d := range deployments {
		spec := d.Spec.Template.Spec
		for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
			if !slices.ContainsFunc(images, func(i operatorsv1alpha1.RelatedImage) bool { return i.Image == c.Image }) {
				images = append(images, operatorsv1alpha1.RelatedImage{Name: c.Name, Image: c.Image})
			}
		}
	}
	return images
}

// versionOf takes the bundle version from the operator image's tag (v0.1.0 → 0.1.0), so the
// image kustomization in config/manager is the one place a release changes.
func versionOf(image string) (string, error) {
	i := strings.LastIndex(image, ":")
	if i < 0 || strings.Contains(image[i:], "/") {
		return "", fmt.Errorf("operator image %q has no tag to take the version from", image)
	}
	return strings.TrimPrefix(image[i+1:], "v"), nil
}

func fromUnstructured(o *unstructured.Unstructured, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, into)
}

func nestedString(o *unstructured.Unstructured, fields ...string) string {
	s, _, _ := unstructured.NestedString(o.Object, fields...)
	return s
}

// marshal writes YAML without the null creationTimestamps typed objects carry, which OLM
// tooling would otherwise show as noise.
func marshal(obj map[string]any) ([]byte, error) {
	dropNullTimestamps(obj)
	return yaml.Marshal(obj)
}

func dropNullTimestamps(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if k == "creationTimestamp" && val == nil {
				delete(t, k)
				continue
			}
			dropNullTimestamps(val)
		}
	case []any:
		for _, val := range t {
			dropNullTimestamps(val)
		}
	}
}

func parseVersion(v string) (semver.Version, error) {
	parsed, err := semver.Parse(v)
	if err != nil {
		return semver.Version{}, fmt.Errorf("bundle version %q is not semver: %w", v, err)
	}
	return parsed, nil
}

// Dockerfile is bundle.Dockerfile: the bundle image, labelled with the bundle's annotations.
func Dockerfile() []byte {
	a := Annotations()
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Generated by `make bundle` from config/; do not edit.\nFROM scratch\n\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "LABEL %s=%s\n", k, a[k])
	}
	b.WriteString("\nCOPY bundle/manifests /manifests/\nCOPY bundle/metadata /metadata/\n")
	fmt.Fprintf(&b, "COPY bundle/%[1]s /%[1]s/\n", filepath.Dir(scorecardPath))
	return []byte(b.String())
}

// Build runs kustomize over dir in-process, as `kustomize build` does.
func Build(dir string) ([]*unstructured.Unstructured, error) {
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	data, err := res.AsYaml()
	if err != nil {
		return nil, err
	}
	// Decoded through apimachinery rather than taken from kustomize's maps, whose plain ints
	// unstructured objects do not accept.
	return manifests.Decode(data)
}
