package stacks

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/aiplatform/infra/infra"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

// Project is the Pulumi project name and the namespace of its config keys.
const Project = "aiplatform"

// EndpointAccess says who can reach the Kubernetes API server.
type EndpointAccess string

const (
	// PrivateEndpoint: only from inside the VPC (or peered networks / VPN).
	PrivateEndpoint EndpointAccess = "private"
	// PublicAndPrivateEndpoint: also from the internet, restricted to publicAccessCidrs.
	PublicAndPrivateEndpoint EndpointAccess = "public-and-private"
)

// Config is the whole typed stack configuration, loaded once by LoadConfig.
type Config struct {
	Stack string `json:"-"`
	// Region comes from aws:region.
	Region string `json:"-"`

	ClusterName       string                `json:"clusterName"`
	KubernetesVersion string                `json:"kubernetesVersion"`
	VPCCIDR           string                `json:"vpcCidr"`
	AZCount           int                   `json:"availabilityZoneCount"`
	NAT               infra.NATMode         `json:"natGateways"`
	ServiceCIDR       string                `json:"serviceCidr"`
	EndpointAccess    EndpointAccess        `json:"endpointAccess"`
	PublicAccessCIDRs []string              `json:"publicAccessCidrs"`
	AdminRoleARNs     []string              `json:"adminRoleArns"`
	ViewerRoleARNs    []string              `json:"viewerRoleArns"`
	NodeGroups        []infra.NodeGroupSpec `json:"nodeGroups"`
	Tags              map[string]string     `json:"tags"`

	// EndpointAccessSecurityGroupIDs and EndpointAccessCIDRs may reach the
	// private API endpoint (e.g. a CI runner in the VPC, a VPN).
	EndpointAccessSecurityGroupIDs []string `json:"endpointAccessSecurityGroupIds"`
	EndpointAccessCIDRs            []string `json:"endpointAccessCidrs"`
	// ClusterCreatorRoleARN is the role that creates the cluster (CI: the
	// apply role); EKS makes it admin, so it gets no access entry. Empty: the
	// role running pulumi.
	ClusterCreatorRoleARN string `json:"clusterCreatorRoleArn"`

	Workloads WorkloadsConfig `json:"-"`
	// Secrets are read with RequireSecret/GetSecret only and never appear in
	// the plain struct above.
	Secrets Secrets `json:"-"`
}

// Secrets holds secret config values as secret outputs.
type Secrets struct {
	DockerHubToken      pulumi.StringOutput
	ArgoCDAdminPassword pulumi.StringOutput
	// ArgoCDNotificationsToken is the GitHub token (commit statuses) or the
	// webhook's bearer token of Argo CD notifications.
	ArgoCDNotificationsToken pulumi.StringOutput
	// GrafanaAdminPassword is Grafana's admin password; unset, one is generated and kept.
	GrafanaAdminPassword pulumi.StringOutput
	// AlertingSlackWebhookURL is the Slack incoming webhook Alertmanager posts to.
	AlertingSlackWebhookURL pulumi.StringOutput
}

// ctxSource reads the project's config namespace of a running program.
type ctxSource struct{ ctx *pulumi.Context }

func (s ctxSource) Get(key string) (string, bool) {
	v, err := config.Try(s.ctx, Project+":"+key)
	return v, err == nil
}

// Keys implements Source with every key of the project namespace the engine
// passed to the program.
func (s ctxSource) Keys() []string {
	var keys []string
	for _, k := range engineConfigKeys(s.ctx) {
		if name, ok := strings.CutPrefix(k, Project+":"); ok {
			keys = append(keys, name)
		}
	}
	return keys
}

// engineConfigKeys lists the config keys ("namespace:key") of the running
// program. The Go SDK (v3.274) has GetConfig for one key but no listing, and
// the config reaches inline Automation API programs without PULUMI_CONFIG,
// so the run's config map is read through reflection (reading an unexported
// map's keys is allowed; nothing is written). If an SDK upgrade moves the
// map, this panics at the first LoadConfig rather than silently accepting
// every misspelt key; TestEngineConfigKeys catches that in `go test` first.
func engineConfigKeys(ctx *pulumi.Context) []string {
	state := reflect.ValueOf(ctx).Elem().FieldByName("state")
	if state.Kind() == reflect.Pointer {
		state = state.Elem()
	}
	var m reflect.Value
	if state.IsValid() {
		if info := state.FieldByName("info"); info.IsValid() {
			m = info.FieldByName("Config")
		}
	}
	if !m.IsValid() || m.Kind() != reflect.Map || m.Type().Key().Kind() != reflect.String {
		panic("stacks: cannot list the stack's config keys: pulumi.Context no longer holds state.info.Config (Go SDK changed); update engineConfigKeys")
	}
	keys := make([]string, 0, m.Len())
	for _, k := range m.MapKeys() {
		keys = append(keys, k.String())
	}
	return keys
}

// awsRegion is read from the provider's own namespace.
func awsRegion(src Source) string {
	if s, ok := src.(ctxSource); ok {
		return config.Get(s.ctx, "aws:region")
	}
	v, _ := src.Get("aws:region")
	return v
}

// LoadConfig reads, defaults and validates the stack config. It returns every
// problem at once, before any resource is registered.
func LoadConfig(ctx *pulumi.Context) (Config, error) {
	src := ctxSource{ctx}
	cfg, err := ParseConfig(ctx.Stack(), awsRegion(src), src)
	if err != nil {
		return Config{}, err
	}
	cfg.Secrets = loadSecrets(ctx, cfg)
	return cfg, nil
}

// ParseConfig is LoadConfig without a Pulumi context: parse, fill defaults, validate.
func ParseConfig(stack, region string, src Source) (Config, error) {
	r := &reader{src: src}
	cfg := Config{Stack: stack, Region: region}
	readConfig(r, &cfg)
	// Every key was read above, so what the reader was not asked for is a
	// key this program does not know: reported with the other problems.
	unknown := r.unknownKeys()
	if len(r.errs) > 0 {
		return Config{}, configError(append(r.errs, unknown...))
	}
	cfg = cfg.withDefaults()
	if errs := append(unknown, cfg.problems()...); len(errs) > 0 {
		return Config{}, configError(errs)
	}
	return cfg, nil
}

// KnownKeys lists every key of the project namespace the program reads,
// sorted: exactly the keys readConfig asks for.
func KnownKeys() []string {
	r := &reader{src: MapSource{}}
	readConfig(r, &Config{})
	keys := make([]string, 0, len(r.known))
	for k := range r.known {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// readConfig reads every key of the project namespace into cfg. It is the
// one table of keys: the reader records each key it is asked for.
func readConfig(r *reader, cfg *Config) {
	r.str("clusterName", &cfg.ClusterName)
	r.str("kubernetesVersion", &cfg.KubernetesVersion)
	r.str("vpcCidr", &cfg.VPCCIDR)
	r.integer("availabilityZoneCount", &cfg.AZCount)
	var nat string
	r.str("natGateways", &nat)
	cfg.NAT = infra.NATMode(nat)
	r.str("serviceCidr", &cfg.ServiceCIDR)
	var access string
	r.str("endpointAccess", &access)
	cfg.EndpointAccess = EndpointAccess(access)
	r.stringList("publicAccessCidrs", &cfg.PublicAccessCIDRs)
	r.stringList("endpointAccessSecurityGroupIds", &cfg.EndpointAccessSecurityGroupIDs)
	r.stringList("endpointAccessCidrs", &cfg.EndpointAccessCIDRs)
	r.str("clusterCreatorRoleArn", &cfg.ClusterCreatorRoleARN)
	r.stringList("adminRoleArns", &cfg.AdminRoleARNs)
	r.stringList("viewerRoleArns", &cfg.ViewerRoleARNs)
	r.object("nodeGroups", &cfg.NodeGroups)
	r.object("tags", &cfg.Tags)
	cfg.Workloads = readWorkloads(r)
}

// configError formats all problems as one readable error.
func configError(errs []error) error {
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = "  - " + e.Error()
	}
	return fmt.Errorf("invalid stack config (%d problems):\n%s", len(errs), strings.Join(lines, "\n"))
}

// joinErrors flattens nested errors.Join trees into one list.
func joinErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, joinErrors(e)...)
		}
		return out
	}
	return []error{err}
}
