package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/nobackoff/nobackoff/certs"
	"github.com/nobackoff/nobackoff/internal/clusterstate"
)

// testSelfCertsRace: two self-mode instances starting together against the
// real API server end with one Secret, one CA, and that CA in every
// webhook's caBundle.
func (e *env) testSelfCertsRace(t *testing.T) {
	client, err := clusterstate.KubeClient(e.c.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e.c.must(t, "", "create", "namespace", "certs-race")
	// A configuration whose webhooks match nothing: only its caBundle matters.
	url := "https://localhost:1/never"
	none := admissionregistrationv1.SideEffectClassNone
	hook := func(name string) admissionregistrationv1.ValidatingWebhook {
		return admissionregistrationv1.ValidatingWebhook{
			Name: name, ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url}, SideEffects: &none,
			AdmissionReviewVersions: []string{"v1"}, FailurePolicy: ptr.To(admissionregistrationv1.Ignore),
			ObjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"never": "matches"}},
		}
	}
	vwcs := client.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	if _, err := vwcs.Create(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "certs-race"},
		Webhooks:   []admissionregistrationv1.ValidatingWebhook{hook("a.certs-race.test"), hook("b.certs-race.test")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		secret := "race-" + string(rune('a'+round))
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				s := &certs.SelfManaged{
					Manager: &certs.Manager{
						Store:     &certs.KubeSecretStore{Secrets: client.CoreV1().Secrets("certs-race"), Name: secret},
						Namespace: "certs-race", Name: secret, DNSNames: []string{"nobackoff.certs-race.svc"},
					},
					Dir: t.TempDir(), Configs: vwcs, Webhook: "certs-race", Interval: time.Hour,
				}
				errs[i] = s.Once(ctx)
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d instance %d: %v", round, i, err)
			}
		}
		s, err := client.CoreV1().Secrets("certs-race").Get(ctx, secret, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if s.ResourceVersion == "" || len(s.Data[certs.KeyCACert]) == 0 {
			t.Fatalf("round %d: secret %+v", round, s.ObjectMeta)
		}
		c, err := vwcs.Get(ctx, "certs-race", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range c.Webhooks {
			if string(w.ClientConfig.CABundle) != string(s.Data[certs.KeyCACert]) {
				t.Fatalf("round %d: %s caBundle is not the Secret's CA", round, w.Name)
			}
		}
	}
}
