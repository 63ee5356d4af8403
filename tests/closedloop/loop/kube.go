package loop

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Minimal typed views of what the loop reads from the API server.

type objectMeta struct {
	Name              string            `json:"name"`
	Namespace         string            `json:"namespace"`
	Labels            map[string]string `json:"labels"`
	Annotations       map[string]string `json:"annotations"`
	DeletionTimestamp *time.Time        `json:"deletionTimestamp"`
}

type condition struct {
	Type   string `json:"type"`
	Status string `json:"status"`
	Reason string `json:"reason"`
}

type podView struct {
	Metadata objectMeta `json:"metadata"`
	Spec     struct {
		NodeName     string            `json:"nodeName"`
		NodeSelector map[string]string `json:"nodeSelector"`
		Tolerations  []struct {
			Key, Operator, Value, Effect string
		} `json:"tolerations"`
		Containers []struct {
			Resources struct {
				Requests map[string]string `json:"requests"`
			} `json:"resources"`
		} `json:"containers"`
	} `json:"spec"`
	Status struct {
		PodIP      string      `json:"podIP"`
		Conditions []condition `json:"conditions"`
	} `json:"status"`
}

func (p podView) condition(typ string) (condition, bool) {
	for _, c := range p.Status.Conditions {
		if c.Type == typ {
			return c, true
		}
	}
	return condition{}, false
}

// Ready: the Ready condition is True and the pod is not terminating (an
// EndpointSlice drops a terminating pod from the ready endpoints).
func (p podView) Ready() bool {
	c, ok := p.condition("Ready")
	return ok && c.Status == "True" && p.Metadata.DeletionTimestamp == nil
}

// Unschedulable: the scheduler found no node (what the autoscaler reacts to).
func (p podView) Unschedulable() bool {
	c, ok := p.condition("PodScheduled")
	return ok && c.Status == "False" && c.Reason == "Unschedulable"
}

type nodeView struct {
	Metadata objectMeta `json:"metadata"`
	Status   struct {
		Conditions []condition `json:"conditions"`
	} `json:"status"`
}

func (n nodeView) Ready() bool {
	for _, c := range n.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

type list[T any] struct {
	Items []T `json:"items"`
}

// api is what the loop needs from the cluster package.
type api interface {
	Do(ctx context.Context, method, path string, body, out any) error
}

func listPods(ctx context.Context, c api, ns string) ([]podView, error) {
	var l list[podView]
	// resourceVersion=0: served from the API server's watch cache, not etcd
	// (any recent state will do; a poll is at most one sync period old anyway).
	err := c.Do(ctx, "GET", "/api/v1/namespaces/"+ns+"/pods?resourceVersion=0", nil, &l)
	return l.Items, err
}

type scaleView struct {
	Spec struct {
		Replicas int `json:"replicas"`
	} `json:"spec"`
}

func replicas(ctx context.Context, c api, ns, deployment string) (int, error) {
	var s scaleView
	err := c.Do(ctx, "GET", fmt.Sprintf("/apis/apps/v1/namespaces/%s/deployments/%s", ns, deployment), nil, &s)
	return s.Spec.Replicas, err
}

func isNotFound(err error) bool { return err != nil && strings.Contains(err.Error(), "404") }
