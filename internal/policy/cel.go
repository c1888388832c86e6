package policy

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/cel/library"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
	"github.com/signerpolicy/signer-policy-operator/internal/csr"
)

// celRequest is the CSR as a rule sees it, as `request`. Names and subject attributes are lists
// named as the spec.allowed fields that govern them, holding every value the CSR carries.
type celRequest struct {
	CommonName          []string      `cel:"commonName"`
	DNSNames            []string      `cel:"dnsNames"`
	IPAddresses         []string      `cel:"ipAddresses"`
	URIs                []string      `cel:"uris"`
	EmailAddresses      []string      `cel:"emailAddresses"`
	Organizations       []string      `cel:"organizations"`
	OrganizationalUnits []string      `cel:"organizationalUnits"`
	Countries           []string      `cel:"countries"`
	Provinces           []string      `cel:"provinces"`
	Localities          []string      `cel:"localities"`
	StreetAddresses     []string      `cel:"streetAddresses"`
	PostalCodes         []string      `cel:"postalCodes"`
	SerialNumbers       []string      `cel:"serialNumbers"`
	Usages              []string      `cel:"usages"`
	Duration            time.Duration `cel:"duration"` // the lifetime the certificate gets under this policy
	IsCA                bool          `cel:"isCA"`
	Key                 celKey        `cel:"key"`
	SignerName          string        `cel:"signerName"` // the CSR's spec.signerName
}

// celKey is the requester's public key: its algorithm as spec.privateKey names it, and its size
// in bits.
type celKey struct {
	Algorithm string `cel:"algorithm"`
	Size      int64  `cel:"size"`
}

// celRequester is who created the CSR, as the API server authenticated them, as `requester`.
type celRequester struct {
	Username string              `cel:"username"`
	UID      string              `cel:"uid"`
	Groups   []string            `cel:"groups"`
	Extra    map[string][]string `cel:"extra"`
	// ServiceAccount is empty for a requester that is not a service account.
	ServiceAccount celServiceAccount `cel:"serviceAccount"`
}

// celIssuer is the issuer the CSR names, as `issuer`: a rule can tie it to the requester, for
// example so that a tenant's service accounts use only their own namespace's Issuer.
type celIssuer struct {
	Kind      string `cel:"kind"`
	Name      string `cel:"name"`
	Namespace string `cel:"namespace"` // empty for a ClusterIssuer
}

type celServiceAccount struct {
	Namespace string `cel:"namespace"`
	Name      string `cel:"name"`
}

// Cost limits as Kubernetes sets them for validation rules: a rule may cost at most what one
// CRD validation call may, and its estimated worst case must stay within what the API server
// accepts for a CRD rule.
const (
	ruleCostLimit          = celconfig.PerCallLimit
	ruleEstimatedCostLimit = celconfig.RuntimeCELCostBudget
	// maxListSize and maxStringSize bound the estimate. A CSR holding more values of one
	// attribute than maxListSize is refused before any rule runs, since evaluation time grows
	// faster than the cost CEL counts; strings are bounded by the name checks.
	maxListSize   = 1024
	maxStringSize = 4096
	// ruleTimeout bounds one rule's evaluation in wall time, whatever its counted cost.
	ruleTimeout = time.Second
)

// rules compiles validation rules once and keeps the programs for every later evaluation. It is
// safe for concurrent use.
type rules struct {
	env *cel.Env
	mu  sync.Mutex
	// programs holds the compiled rules by their text. When it reaches maxPrograms it is emptied:
	// policies change rarely, and recompiling the rules in force is cheap next to holding every
	// rule a cluster ever had.
	programs map[string]compiled
}

const maxPrograms = 4096

type compiled struct {
	program cel.Program
	err     error
}

func newRules() (*rules, error) {
	env, err := cel.NewEnv(
		// The libraries Kubernetes offers in its own validation rules. They register their types
		// with the default provider, so they come before the native types that replace it.
		cel.HomogeneousAggregateLiterals(),
		cel.DefaultUTCTimeZone(true),
		cel.CrossTypeNumericComparisons(true),
		// Literals are checked at compile time, as Kubernetes checks them, so a rule such as
		// duration("30d") keeps its policy from being Ready instead of refusing every CSR.
		cel.ASTValidators(cel.ValidateDurationLiterals(), cel.ValidateRegexLiterals(), cel.ValidateTimestampLiterals(),
			cel.ValidateHomogeneousAggregateLiterals()),
		cel.OptionalTypes(),
		ext.Strings(ext.StringsVersion(2)),
		ext.Sets(),
		library.URLs(),
		library.Regex(),
		library.Lists(),
		library.IP(),
		library.CIDR(),
		library.Format(),
		ext.NativeTypes(reflect.TypeFor[celRequest](), reflect.TypeFor[celKey](), reflect.TypeFor[celRequester](),
			reflect.TypeFor[celServiceAccount](), reflect.TypeFor[celIssuer](), ext.ParseStructTags(true)),
		cel.Variable("request", cel.ObjectType("policy.celRequest")),
		cel.Variable("requester", cel.ObjectType("policy.celRequester")),
		cel.Variable("issuer", cel.ObjectType("policy.celIssuer")),
	)
	if err != nil {
		return nil, fmt.Errorf("building the CEL environment for validation rules: %w", err)
	}
	return &rules{env: env, programs: map[string]compiled{}}, nil
}

// program returns the compiled rule, compiling it on first use.
func (r *rules) program(rule string) (cel.Program, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.programs[rule]; ok {
		return c.program, c.err
	}
	if len(r.programs) >= maxPrograms {
		clear(r.programs)
	}
	p, err := r.compile(rule)
	r.programs[rule] = compiled{program: p, err: err}
	return p, err
}

func (r *rules) compile(rule string) (cel.Program, error) {
	ast, issues := r.env.Compile(rule)
	if err := issues.Err(); err != nil {
		return nil, err
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return nil, fmt.Errorf("must evaluate to a bool, not %s", ast.OutputType())
	}
	estimator := &library.CostEstimator{SizeEstimator: sizeEstimator{}}
	cost, err := r.env.EstimateCost(ast, estimator)
	if err != nil {
		return nil, fmt.Errorf("estimating its cost: %w", err)
	}
	if cost.Max > ruleEstimatedCostLimit {
		return nil, fmt.Errorf("its estimated worst-case cost %d exceeds the limit %d: bound the lists it walks, for example with size checks before nested loops",
			cost.Max, ruleEstimatedCostLimit)
	}
	return r.env.Program(ast,
		cel.CostLimit(ruleCostLimit),
		cel.CostTracking(&library.CostEstimator{}),
		cel.InterruptCheckFrequency(celconfig.CheckFrequency),
	)
}

// sizeEstimator bounds every list and string a rule can reach by the most a CSR can carry.
type sizeEstimator struct{}

func (sizeEstimator) EstimateSize(element checker.AstNode) *checker.SizeEstimate {
	if t := element.Type(); t != nil && (t.Kind() == types.ListKind || t.Kind() == types.MapKind) {
		return &checker.SizeEstimate{Min: 0, Max: maxListSize}
	}
	return &checker.SizeEstimate{Min: 0, Max: maxStringSize}
}

func (sizeEstimator) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

// validate compiles each of a policy's rules and reports those that do not compile, under the
// rule's own path, with the compiler's words.
func (r *rules) validate(validations []v1alpha1.Validation) field.ErrorList {
	var errs field.ErrorList
	for i, v := range validations {
		if _, err := r.program(v.Rule); err != nil {
			errs = append(errs, field.Invalid(validationPath(i), v.Rule, "does not compile: "+err.Error()))
		}
	}
	return errs
}

// check runs a policy's rules against the request. A rule that is false refuses the CSR with its
// message; one that cannot be compiled or evaluated refuses it too, since nobody can tell what it
// would have said.
func (ev *evaluation) checkValidations(spec *v1alpha1.SignerPolicySpec) field.ErrorList {
	if len(spec.Validations) == 0 {
		return nil
	}
	request := ev.celRequest(spec)
	if name, n := longestList(&request); n > maxListSize {
		return field.ErrorList{field.Forbidden(field.NewPath("spec", "validations"), fmt.Sprintf(
			"the CSR holds %d %s, and validation rules are evaluated only for CSRs holding at most %d values of an attribute", n, name, maxListSize))}
	}
	activation := map[string]any{"request": request, "requester": ev.celRequester(), "issuer": ev.celIssuer()}
	var errs field.ErrorList
	for i, v := range spec.Validations {
		errs = append(errs, ev.checkRule(i, v, activation)...)
	}
	return errs
}

func (ev *evaluation) checkRule(i int, v v1alpha1.Validation, activation map[string]any) field.ErrorList {
	program, err := ev.rules.program(v.Rule)
	if err != nil {
		return field.ErrorList{field.Invalid(validationPath(i), v.Rule, "the rule does not compile, so nothing it governs is allowed: "+err.Error())}
	}
	ctx, cancel := context.WithTimeout(context.Background(), ruleTimeout)
	defer cancel()
	out, _, err := program.ContextEval(ctx, activation)
	if err != nil {
		return field.ErrorList{field.Invalid(validationPath(i), v.Rule, "the rule could not be evaluated for this CSR, so the CSR is refused: "+err.Error())}
	}
	if allowed, ok := out.Value().(bool); ok && allowed {
		return nil
	}
	message := v.Message
	if message == "" {
		message = "the CSR breaks the rule"
	}
	return field.ErrorList{field.Invalid(validationPath(i), v.Rule, message)}
}

func validationPath(i int) *field.Path {
	return field.NewPath("spec", "validations").Index(i).Child("rule")
}

// longestList names the request's attribute with the most values (the first of them, on a tie),
// and their number.
func longestList(r *celRequest) (string, int) {
	name, n := "", 0
	for _, l := range []struct {
		name   string
		values []string
	}{
		{"commonName", r.CommonName}, {"dnsNames", r.DNSNames}, {"ipAddresses", r.IPAddresses}, {"uris", r.URIs},
		{"emailAddresses", r.EmailAddresses}, {"organizations", r.Organizations}, {"organizationalUnits", r.OrganizationalUnits},
		{"countries", r.Countries}, {"provinces", r.Provinces}, {"localities", r.Localities}, {"streetAddresses", r.StreetAddresses},
		{"postalCodes", r.PostalCodes}, {"serialNumbers", r.SerialNumbers}, {"usages", r.Usages},
	} {
		if len(l.values) > n {
			name, n = l.name, len(l.values)
		}
	}
	return name, n
}

// celRequest builds the request rules see; the lifetime is the one spec grants. DNS names and
// email domains are lower-cased, as patterns compare them, so a rule refusing a name cannot be
// passed by the same name in capitals.
func (ev *evaluation) celRequest(spec *v1alpha1.SignerPolicySpec) celRequest {
	f := &ev.facts
	r := ev.celBase
	if r == nil {
		s := &f.subject
		r = &celRequest{
			CommonName: texts(s.byField["commonName"]), DNSNames: lowered(texts(f.dnsNames)), URIs: texts(f.uris),
			EmailAddresses: emailsLowered(texts(f.emails)), Organizations: texts(s.byField["organizations"]),
			OrganizationalUnits: texts(s.byField["organizationalUnits"]), Countries: texts(s.byField["countries"]),
			Provinces: texts(s.byField["provinces"]), Localities: texts(s.byField["localities"]),
			StreetAddresses: texts(s.byField["streetAddresses"]), PostalCodes: texts(s.byField["postalCodes"]),
			SerialNumbers: texts(s.byField["serialNumbers"]),
			IPAddresses:   make([]string, 0, len(f.ips)), Usages: make([]string, 0, len(ev.req.Usages)),
			IsCA:       ev.req.IsCA,
			Key:        celKey{Algorithm: f.key.algorithm, Size: int64(f.key.bits)},
			SignerName: ev.req.SignerName,
		}
		for _, ip := range f.ips {
			r.IPAddresses = append(r.IPAddresses, ip.text)
		}
		for _, u := range ev.req.Usages {
			r.Usages = append(r.Usages, string(u))
		}
		ev.celBase = r
	}
	withLifetime := *r
	withLifetime.Duration = ev.lifetime(spec)
	if ev.granted != 0 {
		withLifetime.Duration = ev.granted
	}
	return withLifetime
}

func (ev *evaluation) celRequester() celRequester {
	r := ev.req.Requester
	rq := celRequester{Username: r.Username, UID: r.UID, Groups: slices.Clone(r.Groups), Extra: r.Extra}
	if rq.Groups == nil {
		rq.Groups = []string{}
	}
	if rq.Extra == nil {
		rq.Extra = map[string][]string{}
	}
	if id := ev.facts.id; id.isServiceAccount {
		rq.ServiceAccount = celServiceAccount{Namespace: id.saNamespace, Name: id.saName}
	}
	return rq
}

func lowered(names []string) []string {
	for i, n := range names {
		names[i] = strings.ToLower(n)
	}
	return names
}

// emailsLowered lower-cases each address's domain; the local part is the mailbox's own business.
func emailsLowered(addresses []string) []string {
	for i, a := range addresses {
		if at := strings.LastIndexByte(a, '@'); at >= 0 {
			addresses[i] = a[:at+1] + strings.ToLower(a[at+1:])
		}
	}
	return addresses
}

func (ev *evaluation) celIssuer() celIssuer {
	ref, err := csr.ParseSignerName(ev.req.SignerName)
	if err != nil {
		return celIssuer{} // the policy governs no such signer; rules are never asked
	}
	return celIssuer{Kind: string(ref.Kind), Name: ref.Name, Namespace: ref.Namespace}
}

// texts returns the values' text, never nil, so that a rule sees an empty list rather than null.
func texts(values []requestedValue) []string {
	out := make([]string, 0, len(values))
	for _, v := range values {
		out = append(out, v.text)
	}
	return out
}
