package harness

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CSR is a CertificateSigningRequest to submit; zero fields take test-friendly defaults.
type CSR struct {
	SignerName        string
	Request           []byte
	Usages            []certificatesv1.KeyUsage
	Annotations       map[string]string
	ExpirationSeconds *int32
}

// SubmitCSR creates the CSR as the given client (so spec.username and spec.groups are the
// client's), retrying briefly while freshly generated RBAC reaches the API server's authorizer,
// and deletes it when the test ends.
func (e *Env) SubmitCSR(t testing.TB, as client.Client, c CSR) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	usages := c.Usages
	if usages == nil {
		usages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth}
	}
	obj := &certificatesv1.CertificateSigningRequest{
		// A name chosen here rather than generateName, so a create retried after a refusal is
		// still one CSR.
		ObjectMeta: metav1.ObjectMeta{Name: "csr-" + strings.ToLower(rand.Text()[:12]), Annotations: c.Annotations},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			SignerName: c.SignerName, Request: c.Request, Usages: usages, ExpirationSeconds: c.ExpirationSeconds,
		},
	}
	Eventually(t, 10*time.Second, func() error {
		err := as.Create(context.Background(), obj)
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	})
	t.Cleanup(func() { _ = e.Admin.Delete(context.Background(), obj) })
	return obj
}

// WaitForCSR polls the CSR until check accepts it.
func (e *Env) WaitForCSR(t testing.TB, name string, timeout time.Duration, check func(*certificatesv1.CertificateSigningRequest) error) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	var c certificatesv1.CertificateSigningRequest
	Eventually(t, timeout, func() error {
		if err := e.Admin.Get(context.Background(), client.ObjectKey{Name: name}, &c); err != nil {
			return err
		}
		return check(&c)
	})
	return &c
}

// Condition returns the CSR's condition of the given type, or nil.
func Condition(c *certificatesv1.CertificateSigningRequest, typ certificatesv1.RequestConditionType) *certificatesv1.CertificateSigningRequestCondition {
	for i := range c.Status.Conditions {
		if c.Status.Conditions[i].Type == typ {
			return &c.Status.Conditions[i]
		}
	}
	return nil
}

// HasCondition is a WaitForCSR check for a condition of the given type.
func HasCondition(typ certificatesv1.RequestConditionType) func(*certificatesv1.CertificateSigningRequest) error {
	return func(c *certificatesv1.CertificateSigningRequest) error {
		if Condition(c, typ) == nil {
			return fmt.Errorf("CSR %s has conditions %+v, want %s", c.Name, c.Status.Conditions, typ)
		}
		return nil
	}
}

// Issued is a WaitForCSR check for a certificate, the last write of an issuance. Its governance
// record follows the write, so a test reading records waits for them.
func Issued(c *certificatesv1.CertificateSigningRequest) error {
	if len(c.Status.Certificate) == 0 {
		return fmt.Errorf("CSR %s has no certificate yet; conditions %+v", c.Name, c.Status.Conditions)
	}
	return nil
}

// FailedWith is a WaitForCSR check for a Failed condition with the given reason whose message
// mentions every string in mentions.
func FailedWith(reason string, mentions ...string) func(*certificatesv1.CertificateSigningRequest) error {
	return func(c *certificatesv1.CertificateSigningRequest) error {
		cond := Condition(c, certificatesv1.CertificateFailed)
		if cond == nil {
			return fmt.Errorf("CSR %s is not Failed; conditions %+v", c.Name, c.Status.Conditions)
		}
		if cond.Reason != reason {
			return fmt.Errorf("CSR %s failed with %s (%q), want %s", c.Name, cond.Reason, cond.Message, reason)
		}
		for _, m := range mentions {
			if !strings.Contains(cond.Message, m) {
				return fmt.Errorf("CSR %s Failed message %q does not mention %q", c.Name, cond.Message, m)
			}
		}
		return nil
	}
}

// WaitForEvent waits for an events.k8s.io/v1 event about obj with the given reason.
func (e *Env) WaitForEvent(t testing.TB, obj client.Object, reason string) *eventsv1.Event {
	t.Helper()
	var found *eventsv1.Event
	Eventually(t, 20*time.Second, func() error {
		var list eventsv1.EventList
		if err := e.Admin.List(context.Background(), &list); err != nil {
			return err
		}
		var seen []string
		for i := range list.Items {
			ev := &list.Items[i]
			if ev.Regarding.Name != obj.GetName() {
				continue
			}
			if ev.Reason == reason {
				found = ev
				return nil
			}
			seen = append(seen, ev.Reason)
		}
		return fmt.Errorf("no %s event for %s; saw %v", reason, obj.GetName(), seen)
	})
	return found
}

// Approve approves the CSR as the given client, the way `kubectl certificate approve` does: a
// get, then an update of the /approval subresource, again on a conflict (the operator writes the
// CSR's Waiting condition while it waits for a person).
func Approve(as client.Client, name string) error {
	return decide(as, name, certificatesv1.CertificateApproved, "KubectlApprove", "approved by a person")
}

// Deny denies the CSR as the given client, the way `kubectl certificate deny` does.
func Deny(as client.Client, name string) error {
	return decide(as, name, certificatesv1.CertificateDenied, "KubectlDeny", "denied by a person")
}

func decide(as client.Client, name string, typ certificatesv1.RequestConditionType, reason, message string) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var c certificatesv1.CertificateSigningRequest
		if err := as.Get(context.Background(), client.ObjectKey{Name: name}, &c); err != nil {
			return err
		}
		c.Status.Conditions = append(c.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: typ, Status: corev1.ConditionTrue, Reason: reason, Message: message,
		})
		return as.SubResource("approval").Update(context.Background(), &c)
	})
}

// ApproveEventually approves the CSR as Approve does, retrying for up to timeout and failing the
// test if no attempt lands. The get and the update race the operator's own writes to the CSR, so
// an attempt can meet a conflict, and an approver's freshly generated RBAC can take a moment to
// reach the authorizer.
func ApproveEventually(t testing.TB, timeout time.Duration, as client.Client, name string) {
	t.Helper()
	Eventually(t, timeout, func() error { return Approve(as, name) })
}
