package vault

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

type appRole struct {
	roleID    string
	secretIDs []string
	policy    Policy
}

// AppRole enables AppRole auth at mount (if needed) and creates a role with policy; it returns the
// role ID and a secret ID, as `vault read .../role-id` and `vault write -f .../secret-id` would.
func (s *Server) AppRole(mount, name string, policy Policy) (roleID, secretID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mounts[mount] = MethodAppRole
	key := mount + "/" + name
	r := s.appRoles[key]
	if r == nil {
		r = &appRole{roleID: rand.Text(), policy: policy}
		s.appRoles[key] = r
	}
	secretID = rand.Text()
	r.secretIDs = append(r.secretIDs, secretID)
	return r.roleID, secretID
}

// KubernetesRole is a role of Vault's Kubernetes auth method.
type KubernetesRole struct {
	// BoundServiceAccountNames and BoundServiceAccountNamespaces say whose JWTs may log in.
	BoundServiceAccountNames      []string
	BoundServiceAccountNamespaces []string
	// Audience, when set, is required in the JWT's audiences; it is passed to the TokenReview.
	Audience string
	Policy   Policy
}

// KubernetesAuth enables Kubernetes auth at mount (if needed) and creates role.
func (s *Server) KubernetesAuth(mount, name string, role KubernetesRole) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mounts[mount] = MethodKubernetes
	s.kubes[mount+"/"+name] = role
}

// CertRole is a role of Vault's TLS certificate auth method: client certificates issued by the
// server's ClientCA with one of AllowedCommonNames (any, when empty) may log in.
type CertRole struct {
	AllowedCommonNames []string
	Policy             Policy
}

// CertAuth enables TLS certificate auth at mount (if needed) and creates the named role.
func (s *Server) CertAuth(mount, name string, role CertRole) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mounts[mount] = MethodCert
	s.certs[mount+"/"+name] = role
}

// TokenReviewer validates a Kubernetes service-account JWT and returns the username it
// authenticates, as the TokenReview API does.
type TokenReviewer interface {
	Review(ctx context.Context, jwt string, audiences []string) (username string, authenticated bool, err error)
}

// APIServerTokenReviewer reviews JWTs through the TokenReview API of the API server that cfg
// reaches, as Vault's Kubernetes auth method does with its token_reviewer_jwt.
func APIServerTokenReviewer(cfg *rest.Config) (TokenReviewer, error) {
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return nil, err
	}
	return apiServerReviewer{c}, nil
}

type apiServerReviewer struct{ c client.Client }

func (a apiServerReviewer) Review(ctx context.Context, jwt string, audiences []string) (string, bool, error) {
	tr := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: jwt, Audiences: audiences}}
	if err := a.c.Create(ctx, tr); err != nil {
		return "", false, err
	}
	return tr.Status.User.Username, tr.Status.Authenticated, nil
}

// login dispatches to the auth method mounted at mount.
func (s *Server) login(r *http.Request, mount string) (*vaultResponse, error) {
	s.mu.Lock()
	method, ok := s.mounts[mount]
	if ok {
		s.logins[method]++
		s.atMount[mount]++
	}
	s.mu.Unlock()
	if !ok {
		return nil, errorf(http.StatusNotFound, "no handler for route %q. route entry not found.", "auth/"+mount+"/login")
	}
	switch method {
	case MethodAppRole:
		return s.appRoleLogin(r, mount)
	case MethodKubernetes:
		return s.kubernetesLogin(r, mount)
	default:
		return s.certLogin(r, mount)
	}
}

func (s *Server) appRoleLogin(r *http.Request, mount string) (*vaultResponse, error) {
	var body struct {
		RoleID   string `json:"role_id"`
		SecretID string `json:"secret_id"`
	}
	if err := decode(r, &body); err != nil {
		return nil, err
	}
	if body.RoleID == "" {
		return nil, errorf(http.StatusBadRequest, "missing role_id")
	}
	s.mu.Lock()
	var found *appRole
	for key, role := range s.appRoles {
		if strings.HasPrefix(key, mount+"/") && role.roleID == body.RoleID && slices.Contains(role.secretIDs, body.SecretID) {
			found = role
		}
	}
	s.mu.Unlock()
	if found == nil {
		return nil, errorf(http.StatusBadRequest, "invalid role or secret ID")
	}
	return s.loginResponse(MethodAppRole, found.policy, map[string]string{"role_name": "approle"}), nil
}

func (s *Server) kubernetesLogin(r *http.Request, mount string) (*vaultResponse, error) {
	var body struct {
		Role string `json:"role"`
		JWT  string `json:"jwt"`
	}
	if err := decode(r, &body); err != nil {
		return nil, err
	}
	s.mu.Lock()
	role, ok := s.kubes[mount+"/"+body.Role]
	s.mu.Unlock()
	switch {
	case body.Role == "":
		return nil, errorf(http.StatusBadRequest, "missing role")
	case !ok:
		return nil, errorf(http.StatusBadRequest, "invalid role name %q", body.Role)
	case body.JWT == "":
		return nil, errorf(http.StatusBadRequest, "missing jwt")
	case s.cfg.TokenReviewer == nil:
		return nil, errorf(http.StatusInternalServerError, "no token reviewer configured")
	}
	var audiences []string
	if role.Audience != "" {
		audiences = []string{role.Audience}
	}
	ctx, cancel := reviewContext(r)
	defer cancel()
	username, authenticated, err := s.cfg.TokenReviewer.Review(ctx, body.JWT, audiences)
	if err != nil {
		return nil, errorf(http.StatusInternalServerError, "lookup failed: %v", err)
	}
	if !authenticated {
		return nil, errPermissionDenied
	}
	// system:serviceaccount:<namespace>:<name>, the only identity a service-account JWT has.
	parts := strings.Split(username, ":")
	if len(parts) != 4 || parts[0] != "system" || parts[1] != "serviceaccount" {
		return nil, errPermissionDenied
	}
	ns, name := parts[2], parts[3]
	if !matches(role.BoundServiceAccountNamespaces, ns) {
		return nil, errorf(http.StatusForbidden, "namespace not authorized")
	}
	if !matches(role.BoundServiceAccountNames, name) {
		return nil, errorf(http.StatusForbidden, "service account name not authorized")
	}
	return s.loginResponse(MethodKubernetes, role.Policy, map[string]string{
		"role": body.Role, "service_account_name": name, "service_account_namespace": ns,
	}), nil
}

// matches reports whether v is in bound, where "*" matches anything.
func matches(bound []string, v string) bool {
	return slices.Contains(bound, "*") || slices.Contains(bound, v)
}

func (s *Server) certLogin(r *http.Request, mount string) (*vaultResponse, error) {
	var body struct {
		Name string `json:"name"`
	}
	if err := decode(r, &body); err != nil {
		return nil, err
	}
	invalid := errorf(http.StatusBadRequest, "invalid certificate or no client certificate supplied")
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		return nil, invalid
	}
	leaf := r.TLS.VerifiedChains[0][0]
	name, role, ok := s.certRoleFor(mount, body.Name, leaf)
	if !ok {
		return nil, invalid
	}
	return s.loginResponse(MethodCert, role.Policy, map[string]string{"cert_name": name, "common_name": leaf.Subject.CommonName}), nil
}

// certRoleFor finds the role of mount that accepts leaf: the named one, or any when name is empty.
func (s *Server) certRoleFor(mount, name string, leaf *x509.Certificate) (string, CertRole, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, role := range s.certs {
		n, ok := strings.CutPrefix(key, mount+"/")
		if !ok || (name != "" && name != n) {
			continue
		}
		if len(role.AllowedCommonNames) == 0 || slices.Contains(role.AllowedCommonNames, leaf.Subject.CommonName) {
			return n, role, true
		}
	}
	return "", CertRole{}, false
}

// ClientCertificate issues a client certificate for commonName from the server's ClientCA, for the
// listener's mTLS and for cert auth; it returns the certificate and key in PEM.
func (s *Server) ClientCertificate(commonName string) (certPEM, keyPEM []byte, err error) {
	return s.ClientCA.IssueKeyPair(&x509.Certificate{Subject: pkix.Name{CommonName: commonName}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
}
