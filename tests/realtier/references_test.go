package realtier

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// fakeStore is an ObjectGetter over objects keyed by API path.
type fakeStore map[string]Object

func (s fakeStore) Get(_ context.Context, path string) (Object, error) {
	if o, ok := s[path]; ok {
		return o, nil
	}
	return nil, fmt.Errorf("GET %s: %w", path, ErrNotFound)
}

func mustObject(t *testing.T, js string) Object {
	t.Helper()
	var o Object
	if err := json.Unmarshal([]byte(js), &o); err != nil {
		t.Fatal(err)
	}
	return o
}

// The shape of argo-cd 8.3.0's redis Deployment (templates/redis/deployment.yaml)
// when the chart's redis-secret-init hook has not run: the Secret argocd-redis
// it reads the password from does not exist. Every other kind of reference is
// present, optional, or built in, except the ones the test names.
func TestCheckReferencesFindsMissingSecret(t *testing.T) {
	deploy := mustObject(t, `{
	  "kind": "Deployment",
	  "metadata": {"name": "argocd-redis", "namespace": "argocd"},
	  "spec": {"template": {"spec": {
	    "serviceAccountName": "argocd-redis",
	    "priorityClassName": "system-cluster-critical",
	    "imagePullSecrets": [{"name": "pull"}],
	    "initContainers": [{"name": "init", "envFrom": [
	      {"configMapRef": {"name": "settings"}},
	      {"secretRef": {"name": "maybe", "optional": true}}
	    ]}],
	    "containers": [{"name": "redis", "env": [
	      {"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "argocd-redis", "key": "auth"}}},
	      {"name": "LOG_LEVEL", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "LOG_LEVEL"}}},
	      {"name": "MISSING_KEY", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "nope"}}},
	      {"name": "OPTIONAL", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "x", "optional": true}}},
	      {"name": "PLAIN", "value": "1"}
	    ]}],
	    "volumes": [
	      {"name": "tls", "secret": {"secretName": "tls", "items": [{"key": "tls.crt", "path": "tls.crt"}]}},
	      {"name": "opt", "configMap": {"name": "absent", "optional": true}},
	      {"name": "data", "persistentVolumeClaim": {"claimName": "redis-data"}},
	      {"name": "token", "projected": {"sources": [
	        {"serviceAccountToken": {"path": "token"}},
	        {"configMap": {"name": "ca-bundle"}}
	      ]}},
	      {"name": "scratch", "emptyDir": {}}
	    ]
	  }}}
	}`)
	cron := mustObject(t, `{
	  "kind": "CronJob",
	  "metadata": {"name": "backup", "namespace": "argocd"},
	  "spec": {"jobTemplate": {"spec": {"template": {"spec": {
	    "priorityClassName": "batch-low",
	    "containers": [{"name": "backup", "envFrom": [{"secretRef": {"name": "backup-creds"}}]}]
	  }}}}}
	}`)
	store := fakeStore{
		"/api/v1/namespaces/argocd/serviceaccounts/argocd-redis": {},
		"/api/v1/namespaces/argocd/secrets/pull":                 {},
		"/api/v1/namespaces/argocd/configmaps/settings":          {"data": map[string]any{"LOG_LEVEL": "info"}},
		"/api/v1/namespaces/argocd/secrets/tls":                  {"data": map[string]any{"tls.key": "…"}},
		"/api/v1/namespaces/argocd/configmaps/ca-bundle":         {"data": map[string]any{"ca.crt": "…"}},
	}

	got, err := CheckReferences(context.Background(), store, []Object{deploy, cron})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, d := range got {
		lines = append(lines, d.String())
	}
	want := []string{
		"CronJob argocd/backup: containers[backup].envFrom[0].secretRef needs Secret argocd/backup-creds: Secret not found",
		"CronJob argocd/backup: priorityClassName needs PriorityClass batch-low: PriorityClass not found",
		"Deployment argocd/argocd-redis: containers[redis].env[MISSING_KEY].valueFrom.configMapKeyRef needs key nope of ConfigMap argocd/settings: no such key",
		"Deployment argocd/argocd-redis: containers[redis].env[REDIS_PASSWORD].valueFrom.secretKeyRef needs key auth of Secret argocd/argocd-redis: Secret not found",
		"Deployment argocd/argocd-redis: volumes[data].persistentVolumeClaim needs PersistentVolumeClaim argocd/redis-data: PersistentVolumeClaim not found",
		"Deployment argocd/argocd-redis: volumes[tls].secret.items[0] needs key tls.crt of Secret argocd/tls: no such key",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("dangling references:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}

	// With the Secret the hook would have made (and the rest fixed), nothing dangles.
	store["/api/v1/namespaces/argocd/secrets/argocd-redis"] = Object{"data": map[string]any{"auth": "cGFzcw=="}}
	store["/api/v1/namespaces/argocd/configmaps/settings"] = Object{"data": map[string]any{"LOG_LEVEL": "info", "nope": "x"}}
	store["/api/v1/namespaces/argocd/secrets/tls"] = Object{"data": map[string]any{"tls.crt": "…"}}
	store["/api/v1/namespaces/argocd/persistentvolumeclaims/redis-data"] = Object{}
	store["/api/v1/namespaces/argocd/secrets/backup-creds"] = Object{}
	store["/apis/scheduling.k8s.io/v1/priorityclasses/batch-low"] = Object{}
	if got, err := CheckReferences(context.Background(), store, []Object{deploy, cron}); err != nil || len(got) != 0 {
		t.Errorf("after adding every referenced object: %v (err %v)", got, err)
	}
}

// The default ServiceAccount counts as present (no ServiceAccount controller
// runs here); a named one must exist.
func TestPodReferencesServiceAccounts(t *testing.T) {
	for _, tc := range []struct {
		pod  string
		want int
	}{
		{`{}`, 0},
		{`{"serviceAccountName": "default"}`, 0},
		{`{"serviceAccountName": "controller"}`, 1},
		{`{"serviceAccount": "legacy"}`, 1},
	} {
		if got := PodReferences("ns", mustObject(t, tc.pod)); len(got) != tc.want {
			t.Errorf("%s: %d references %v, want %d", tc.pod, len(got), got, tc.want)
		}
	}
}

// The KEDA metrics API server's shape (keda 2.20.2,
// templates/metrics-server/deployment.yaml): it mounts Secret kedaorg-certs,
// which the operator writes once it runs, so the Secret's absence here is
// no dangling reference; the same name in another namespace, or a missing
// key of it, still is.
func TestCheckReferencesAllowsWhatAControllerWritesAtRunTime(t *testing.T) {
	deploy := func(ns string) Object {
		return mustObject(t, `{
		  "kind": "Deployment",
		  "metadata": {"name": "keda-operator-metrics-apiserver", "namespace": "`+ns+`"},
		  "spec": {"template": {"spec": {
		    "containers": [{"name": "keda-operator-metrics-apiserver"}],
		    "volumes": [{"name": "certificates", "secret": {"defaultMode": 420, "secretName": "kedaorg-certs"}}]
		  }}}
		}`)
	}
	got, err := CheckReferences(context.Background(), fakeStore{}, []Object{deploy("keda"), deploy("other")})
	if err != nil {
		t.Fatal(err)
	}
	want := "Deployment other/keda-operator-metrics-apiserver: volumes[certificates].secret needs Secret other/kedaorg-certs: Secret not found"
	if len(got) != 1 || got[0].String() != want {
		t.Errorf("dangling references %v, want only %q", got, want)
	}
	keyed := mustObject(t, `{
	  "kind": "Deployment",
	  "metadata": {"name": "keda-admission-webhooks", "namespace": "keda"},
	  "spec": {"template": {"spec": {"volumes": [{"name": "certificates", "secret": {"secretName": "kedaorg-certs", "items": [{"key": "tls.crt", "path": "tls.crt"}]}}]}}}
	}`)
	if got, err := CheckReferences(context.Background(), fakeStore{}, []Object{keyed}); err != nil || len(got) != 1 {
		t.Errorf("a key of a run-time Secret: %v (err %v), want it reported", got, err)
	}
}
