package cluster

import (
	"fmt"
	"strings"
)

// ReadyAfterAnnotation on a pod is the delay, in milliseconds (e.g. "500"),
// after which kwok makes it Running and Ready with a podIP from its node's
// spec.podCIDR. A pod without it stays Pending (scheduled, no podIP) until
// the harness annotates it, so the harness decides when each pod is ready
// (model load time, compressed).
const ReadyAfterAnnotation = "closedloop.aiplatform.io/ready-after-ms"

// kwokStages are the Stage documents kwok plays (schema: sigs.k8s.io/kwok
// v0.8.0 pkg/apis/v1alpha1/stage_types.go; template functions NodeConditions,
// NodeIP, NodeIPWith, PodIPWith: pkg/utils/gotpl/funcs.go and
// pkg/kwok/controllers). They are the only stages kwok plays; Options.
// KwokStages adds more, whose selectors must not overlap these (kwok picks
// one matching stage at random, by weight).
//
//   - closedloop-node-initialize: a Node that is not Ready becomes Ready,
//     keeping the capacity and allocatable it was created with (nvidia.com/gpu
//     included); kwok's defaults (1k CPUs, 1Ti, 1M pods) only fill them in
//     when absent.
//   - closedloop-node-heartbeat: refreshes the conditions every 20-25s, as
//     kwok's own heartbeat stage does. Not compressed: nothing reads
//     heartbeats here (node-lifecycle-controller is off), and compressing it
//     would only add status writes per node.
//   - closedloop-pod-ready: a pod carrying ReadyAfterAnnotation becomes
//     Running and Ready that many milliseconds after kwok sees the
//     annotation (delay.durationFrom: the JQ value is parsed by
//     time.ParseDuration, hence the appended "ms";
//     pkg/utils/lifecycle/value_duration_from.go). podIP comes from
//     PodIPWith, which allocates from the node's spec.podCIDR
//     (pkg/kwok/controllers/pod_controller.go funcPodIPWith).
//   - closedloop-pod-delete: a pod marked for deletion is deleted with grace
//     period 0, as the kubelet does once containers stop. Finalizers are
//     left alone: their owners remove them.
var kwokStages = strings.Join([]string{
	kwokStage("closedloop-node-initialize", "Node", `
  selector:
    matchExpressions:
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: NotIn
      values: ['True']
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      {{ range NodeConditions }}
      - lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $now | Quote }}
        message: {{ .message | Quote }}
        reason: {{ .reason | Quote }}
        status: {{ .status | Quote }}
        type: {{ .type | Quote }}
      {{ end }}
      {{ $hasInternalIP := false }}
      {{ range .status.addresses }}{{ if eq .type "InternalIP" }}{{ $hasInternalIP = true }}{{ end }}{{ end }}
      {{ if not $hasInternalIP }}
      addresses:
      - address: {{ NodeIP | Quote }}
        type: InternalIP
      - address: {{ .metadata.name | Quote }}
        type: Hostname
      {{ end }}
`+keptOrKwokDefaults("allocatable", "capacity")+`      nodeInfo:
        architecture: amd64
        operatingSystem: linux
        kubeletVersion: {{ printf "kwok-%s" Version | Quote }}
        containerRuntimeVersion: {{ printf "kwok-%s" Version | Quote }}
        kernelVersion: {{ printf "kwok-%s" Version | Quote }}
        kubeProxyVersion: {{ printf "kwok-%s" Version | Quote }}
        bootID: ""
        machineID: ""
        osImage: ""
        systemUUID: ""
      phase: Running
`),
	kwokStage("closedloop-node-heartbeat", "Node", `
  selector:
    matchExpressions:
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: In
      values: ['True']
  delay:
    durationMilliseconds: 20000
    jitterDurationMilliseconds: 25000
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      {{ range NodeConditions }}
      - lastHeartbeatTime: {{ $now | Quote }}
        message: {{ .message | Quote }}
        reason: {{ .reason | Quote }}
        status: {{ .status | Quote }}
        type: {{ .type | Quote }}
      {{ end }}
  immediateNextStage: true
`),
	kwokStage("closedloop-pod-ready", "Pod", `
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: DoesNotExist
    - key: '.metadata.annotations["`+ReadyAfterAnnotation+`"]'
      operator: Exists
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: NotIn
      values: ['True']
  delay:
    durationMilliseconds: 0
    durationFrom:
      jq:
        expression: '.metadata.annotations["`+ReadyAfterAnnotation+`"] + "ms"'
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: ContainersReady
      {{ range .spec.readinessGates }}
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: {{ .conditionType | Quote }}
      {{ end }}
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        started: true
        restartCount: 0
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}
      hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
      hostIPs:
      - ip: {{ NodeIPWith .spec.nodeName | Quote }}
      {{ $podIP := PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
      podIP: {{ $podIP | Quote }}
      podIPs:
      - ip: {{ $podIP | Quote }}
      phase: Running
      startTime: {{ $now | Quote }}
`),
	kwokStage("closedloop-pod-delete", "Pod", `
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: Exists
  next:
    delete: true
`),
}, "---\n")

// kwokStage is one Stage document: its name, the kind of object it plays
// on (core API group) and the rest of its spec, indented under spec:.
func kwokStage(name, kind, spec string) string {
	return fmt.Sprintf(`apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: %s
spec:
  resourceRef:
    apiGroup: v1
    kind: %s
%s`, name, kind, strings.TrimPrefix(spec, "\n"))
}

// keptOrKwokDefaults writes each of a Node's status fields (allocatable,
// capacity) into the status template: as the Node was created with it, or
// kwok's defaults when it has none.
func keptOrKwokDefaults(fields ...string) string {
	var b strings.Builder
	for _, f := range fields {
		fmt.Fprintf(&b, `      %[1]s:
      {{ with .status.%[1]s }}
      {{ YAML . 1 }}
      {{ else }}
        cpu: 1k
        memory: 1Ti
        pods: 1M
      {{ end }}
`, f)
	}
	return b.String()
}
