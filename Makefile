# signer-policy-operator
#
# Newcomers need two targets: `make demo` (the operator end to end on a local control plane) and
# `make test`. Everything they need is built from Go modules into bin/, which git ignores.

GO ?= go
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

BIN := $(CURDIR)/bin
# The control plane envtest and the demo run: kube-apiserver, etcd and kubectl built from source.
K8S_BIN := $(BIN)/k8s
KUBE_VERSION := v1.36.3
KUBE_LDFLAGS := -s -w \
	-X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=36 \
	-X k8s.io/client-go/pkg/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/client-go/pkg/version.gitMajor=1 \
	-X k8s.io/client-go/pkg/version.gitMinor=36
CONTROLPLANE := $(K8S_BIN)/kube-apiserver $(K8S_BIN)/etcd $(K8S_BIN)/kubectl

CONTROLLER_GEN := $(GO) tool controller-gen
KUSTOMIZE := $(GO) tool kustomize
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
IMAGE_TAG_BASE ?= ghcr.io/signerpolicy/signer-policy-operator
IMG ?= $(IMAGE_TAG_BASE):$(VERSION)
# The bundle image `make bundle-build` builds and `make bundle-push` pushes.
BUNDLE_IMG ?= $(IMAGE_TAG_BASE)-bundle:$(VERSION)
CONTAINER_TOOL ?= docker
TEST_FLAGS ?=

# kubectl of the deployment targets: the one `make controlplane` builds into bin/k8s, unless
# KUBECTL names another. They act on the cluster of $KUBECONFIG (or ~/.kube/config).
KUBECTL ?= $(K8S_BIN)/kubectl
KUBECTL_PREREQ = $(filter $(K8S_BIN)/kubectl,$(KUBECTL))
# What `make deploy`, `make undeploy` and `make build-installer` install, relative to this
# directory: config/default (one Deployment) or config/split (three).
DEPLOY_CONFIG ?= config/default
# Where `make build-installer` writes install.yaml.
DIST ?= dist
# Where `make bundle` writes the bundle.
BUNDLE_DIR ?= bundle
BUNDLE_DOCKERFILE ?= bundle.Dockerfile
ifndef ignore-not-found
  ignore-not-found = false
endif

# The Helm chart; its files/ holds copies of the generated CRDs and ClusterRole that `make
# manifests` writes, because a chart can read only files inside itself.
CHART := config/helm/signer-policy-operator

# Files the generators own; `make test` fails when regenerating would change any of them.
GENERATED = api/v1alpha1/zz_generated.deepcopy.go config/crd/bases config/crd/schemas config/rbac/role.yaml bundle bundle.Dockerfile $(CHART)/files

.PHONY: all
all: build

##@ Development

.PHONY: manifests
manifests: ## Generate the CRD and the operator's ClusterRole from kubebuilder markers (and the Helm chart's copies).
	$(CONTROLLER_GEN) crd rbac:roleName=manager-role paths="./..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	rm -f $(CHART)/files/crds/*.yaml && cp config/crd/bases/*.yaml $(CHART)/files/crds/
	cp config/rbac/role.yaml $(CHART)/files/rbac/role.yaml
	mkdir -p $(CHART)/files/prometheus && cp config/prometheus/prometheus_rule.yaml $(CHART)/files/prometheus/prometheus_rule.yaml
	mkdir -p $(CHART)/files/grafana && cp config/grafana/signer-policy-operator.json $(CHART)/files/grafana/signer-policy-operator.json
	$(GO) run ./internal/manifests/cmd/crd-schemas config/crd/bases config/crd/schemas

.PHONY: generate
generate: ## Generate deepcopy methods for the API types.
	$(CONTROLLER_GEN) object paths="./api/..."

.PHONY: bundle
bundle: manifests ## Generate the OLM bundle (bundle/, bundle.Dockerfile) from config/manifests and PROJECT.
	$(GO) run ./internal/bundle/cmd/bundle-gen --config config/manifests --project PROJECT --out $(BUNDLE_DIR) --dockerfile $(BUNDLE_DOCKERFILE)

.PHONY: fmt
fmt: ## Run gofmt over the tree.
	$(GO) fmt ./...

# golangci-lint is pinned in its own module, test/lint, so that its many dependencies stay out of
# the operator's go.mod; it is built once into bin/.
GOLANGCI_LINT := $(BIN)/golangci-lint

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint with .golangci.yml (CI runs it beside make test).
	$(GOLANGCI_LINT) run ./...

$(GOLANGCI_LINT): test/lint/go.mod test/lint/go.sum
	cd test/lint && $(GO) build -o $@ github.com/golangci/golangci-lint/v2/cmd/golangci-lint

.PHONY: vet
vet: ## Run go vet.
	$(GO) vet ./...
	cd test/controlplane && $(GO) vet ./...
	cd test/promql && $(GO) vet ./...

.PHONY: verify-generated
verify-generated: ## Fail when committed generated files differ from what the generators write.
	@before=$$(find $(GENERATED) -type f -print0 | sort -z | xargs -0 sha256sum); \
	$(MAKE) --no-print-directory generate manifests bundle >/dev/null; \
	after=$$(find $(GENERATED) -type f -print0 | sort -z | xargs -0 sha256sum); \
	if [ "$$before" != "$$after" ]; then \
		diff <(echo "$$before") <(echo "$$after") || true; \
		echo "generated files were stale; they have been regenerated: review and commit them" >&2; \
		exit 1; \
	fi; echo "generated files are up to date"

.PHONY: test
test: controlplane verify-generated vet ## Run every test against the real control plane.
	KUBEBUILDER_ASSETS=$(K8S_BIN) $(GO) test -timeout 30m $(TEST_FLAGS) ./...
	$(MAKE) --no-print-directory test-promql

# The packages and files whose tests need no control plane: the pure packages, the signers against
# their fakes, the stand-in servers, and the controllers' table tests. Test files that need the
# control plane carry `//go:build !unit`, so `-tags unit` leaves them out.
UNIT_PACKAGES = . ./internal/... ./controllers/... ./api/... ./test/vault/... ./test/venafi/... ./test/pki/...

.PHONY: test-unit
test-unit: ## Run every test that needs no control plane (well under a minute; make test runs them too).
	$(GO) test -tags unit $(TEST_FLAGS) $(UNIT_PACKAGES)
	$(MAKE) --no-print-directory test-promql

# The PromQL parser is pinned in its own module, test/promql, so that Prometheus' dependencies stay
# out of the operator's go.mod.
.PHONY: test-promql
test-promql: ## Parse every alert, dashboard query and documented query with Prometheus' PromQL parser.
	cd test/promql && $(GO) test $(TEST_FLAGS) ./...

.PHONY: helm-lint
helm-lint: ## Lint and render the Helm chart, and compare it with config/ (no control plane; make test runs these too).
	$(GO) test -tags unit $(TEST_FLAGS) ./test/e2e/helm/...

FUZZTIME ?= 30s

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (make test runs their committed corpora).
	@for pkg in $$($(GO) list ./internal/...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$target"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

##@ Control plane

.PHONY: controlplane
controlplane: $(CONTROLPLANE) ## Build kube-apiserver, etcd and kubectl into bin/k8s (only when missing).

$(K8S_BIN)/kube-apiserver: test/controlplane/go.mod test/controlplane/go.sum
	cd test/controlplane && $(GO) build -trimpath -ldflags "$(KUBE_LDFLAGS)" -o $@ k8s.io/kubernetes/cmd/kube-apiserver

$(K8S_BIN)/kubectl: test/controlplane/go.mod test/controlplane/go.sum
	cd test/controlplane && $(GO) build -trimpath -ldflags "$(KUBE_LDFLAGS)" -o $@ k8s.io/kubernetes/cmd/kubectl

$(K8S_BIN)/etcd: test/controlplane/go.mod test/controlplane/go.sum test/controlplane/etcd/main.go
	cd test/controlplane && $(GO) build -trimpath -ldflags "-s -w" -o $@ ./etcd

##@ Deployment

# with-image builds $(DEPLOY_CONFIG) with the operator image set to IMG, through a throwaway
# overlay under bin/: kubebuilder's targets run `kustomize edit set image` in config/manager
# instead, but the committed image tag there is the bundle's version and must not move.
# CONFIG_IMAGE is the image name config/manager gives the operator.
CONFIG_IMAGE := ghcr.io/signerpolicy/signer-policy-operator
define with-image
overlay=$$(mktemp -d $(BIN)/overlay.XXXXXX) && trap 'rm -rf "$$overlay"' EXIT && \
	printf 'resources:\n  - ../../%s\n' "$(DEPLOY_CONFIG)" >"$$overlay/kustomization.yaml" && \
	(cd "$$overlay" && $(KUSTOMIZE) edit set image $(CONFIG_IMAGE)=$(IMG)) && \
	$(KUSTOMIZE) build "$$overlay"
endef

.PHONY: install
install: manifests $(KUBECTL_PREREQ) ## Install the CRD into the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) apply -f -

.PHONY: uninstall
uninstall: manifests $(KUBECTL_PREREQ) ## Delete the CRD, and with it every SignerPolicy (ignore-not-found=true ignores a missing one).
	$(KUSTOMIZE) build config/crd | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: deploy
deploy: manifests $(KUBECTL_PREREQ) ## Deploy the operator (DEPLOY_CONFIG, image IMG) to the cluster of the current kubeconfig.
	@mkdir -p $(BIN)
	$(with-image) | $(KUBECTL) apply -f -

.PHONY: undeploy
undeploy: $(KUBECTL_PREREQ) ## Delete what deploy created: namespace, CRD and every SignerPolicy (ignore-not-found=true ignores missing ones).
	$(KUSTOMIZE) build $(DEPLOY_CONFIG) | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: build-installer
build-installer: manifests generate ## Write DIST/install.yaml: the CRD and the operator (DEPLOY_CONFIG, image IMG) in one file.
	@mkdir -p $(BIN) $(DIST)
	$(with-image) >$(DIST)/install.yaml

##@ Build and run

.PHONY: build
build: plugin ## Build the operator binary into bin/manager, and the kubectl plugin.
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/manager .

.PHONY: plugin
plugin: ## Build the kubectl plugin into bin/kubectl-signerpolicy (copy it onto PATH to install it).
	$(GO) build -trimpath -ldflags "-s -w" -o $(BIN)/kubectl-signerpolicy ./cmd/kubectl-signerpolicy

# Outside a pod the operator cannot tell its own namespace, so `make run` names where
# ClusterIssuers' Secrets live: cert-manager's namespace, as cert-manager itself defaults to.
CLUSTER_RESOURCE_NAMESPACE ?= cert-manager

.PHONY: run
run: ## Run the operator against the cluster of the current kubeconfig (ARGS adds flags).
	$(GO) run -ldflags "$(LDFLAGS)" . --cluster-resource-namespace=$(CLUSTER_RESOURCE_NAMESPACE) $(ARGS)

.PHONY: demo
demo: controlplane build ## Run the operator end to end on a local control plane (KEEP=1 leaves it running).
	KUBEBUILDER_ASSETS=$(K8S_BIN) $(GO) run ./test/demo --manager $(BIN)/manager --plugin $(BIN)/kubectl-signerpolicy --readme README.md $(if $(KEEP),--keep)

.PHONY: bench
bench: controlplane build ## Measure policy-approved, creator-approved and backlog issuance, each beside its ceiling, on a local control plane (BENCH_FLAGS="-n 1000 -workloads policy,creator,backlog -namespaced -policies 1000 -key rsa -scale 10000").
	KUBEBUILDER_ASSETS=$(K8S_BIN) $(GO) run ./test/bench --manager bin/manager $(BENCH_FLAGS)

.PHONY: docker-build
docker-build: ## Build the operator image (needs a container engine).
	$(CONTAINER_TOOL) build --build-arg VERSION=$(VERSION) -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the operator image IMG (needs a container engine).
	$(CONTAINER_TOOL) push $(IMG)

.PHONY: bundle-build
bundle-build: ## Build the bundle image BUNDLE_IMG from bundle/ (needs a container engine).
	$(CONTAINER_TOOL) build -f $(BUNDLE_DOCKERFILE) -t $(BUNDLE_IMG) .

.PHONY: bundle-push
bundle-push: ## Push the bundle image BUNDLE_IMG (needs a container engine).
	$(MAKE) --no-print-directory docker-push IMG=$(BUNDLE_IMG)

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-18s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
