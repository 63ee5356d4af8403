package gitops

import (
	"errors"

	"github.com/aiplatform/infra/workloads"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const argoCDType = "aiplatform:workloads:ArgoCD"

const (
	argoCDRelease = "argocd"
	// AppsApplicationName names the Application (or app of apps) Argo CD syncs from the apps repo.
	AppsApplicationName = "apps"
	// ApplicationFinalizer makes Argo CD delete an Application's resources
	// before the Application itself goes (cascading delete), so load
	// balancers its apps created are removed while the Load Balancer
	// Controller still runs.
	ApplicationFinalizer = "resources-finalizer.argocd.argoproj.io"
)

// Argo CD's redis password. The chart (every supported version alike, see
// TestArgoCDRedisSecretMatchesTheChart) creates Secret argocd-redis (key auth) only in its redis-secret-init
// pre-install Job (templates/redis-secret-init/job.yaml runs `argocd admin
// redis-initial-password`), and the Helm v4 Chart does not run hooks; the
// redis Deployment reads it without optional (templates/redis/deployment.yaml).
// The program therefore turns the Job off and creates the Secret itself,
// before the chart, as a kept secret (generated once, kept in state).
const (
	// ArgoCDRedisSecret names the Secret; hard-coded in the chart's redis
	// Deployment and in argocd admin redis-initial-password.
	ArgoCDRedisSecret = "argocd-redis"
	// ArgoCDRedisSecretKey is the key holding the password.
	ArgoCDRedisSecretKey = "auth"
	// argoCDRedisPasswordLength: 62^32 is about 190 bits (Argo CD's own Job draws 16 characters).
	argoCDRedisPasswordLength = 32
)

// The ApplicationSet controller's policy (configs.params, written to
// argocd-cmd-params-cm), set explicitly since chart 9.0.0 stopped defaulting it.
const (
	ApplicationSetPolicyParam = "applicationsetcontroller.policy"
	ApplicationSetPolicy      = "sync"
)

// ArgoCDArgs configures Argo CD.
type ArgoCDArgs struct {
	Spec ArgoCDSpec
	// AdminPassword is the admin password (a secret). When nil Argo CD
	// generates one into the argocd-initial-admin-secret Secret.
	AdminPassword pulumi.StringInput
	// NotificationsToken authorises notifications: a GitHub token for commit
	// statuses, or a bearer token for the webhook. Required for GitHub.
	NotificationsToken pulumi.StringInput
	// SaltContext makes the admin password hash stable per deployment; use the cluster name.
	SaltContext string
	// Chart defaults to ArgoCDChart.
	Chart workloads.Chart
}

// Validate reports every problem at once.
func (a ArgoCDArgs) Validate() error {
	errs := []error{a.Spec.Validate("spec")}
	if n := a.Spec.Notifications; n != nil && n.Kind == GitHubCommitStatus && a.NotificationsToken == nil {
		errs = append(errs, errors.New("notificationsToken: GitHub commit statuses need a token"))
	}
	if a.SaltContext == "" {
		errs = append(errs, errors.New("saltContext: required"))
	}
	return errors.Join(errs...)
}

// ArgoCD is Argo CD in its own namespace: the server is cluster-internal
// unless an internal or public ALB is opted into (then always over HTTPS),
// Dex is off, the admin password comes from a Pulumi secret as a bcrypt
// hash, the notifications controller reports sync and health events, and an
// Application syncs the apps repository.
type ArgoCD struct {
	pulumi.ResourceState

	Chart *helmv4.Chart
	// URL is where the UI and API are reached.
	URL pulumi.StringOutput
	// Application is the apps (app of apps) Application, when an apps repo is configured.
	Application *apiextensions.CustomResource
}

// NewArgoCD creates the namespace, installs the chart and the apps Application.
func NewArgoCD(ctx *pulumi.Context, name string, args *ArgoCDArgs, opts ...pulumi.ResourceOption) (*ArgoCD, error) {
	if args == nil {
		args = &ArgoCDArgs{}
	}
	a := *args
	a.Spec = a.Spec.WithDefaults(workloads.Defaults{})
	if a.Chart.Name == "" {
		a.Chart = workloads.ArgoCDChart
	}
	if err := a.Validate(); err != nil {
		return nil, workloads.Errorf("argocd", name, err)
	}
	c := &ArgoCD{}
	if err := ctx.RegisterComponentResource(argoCDType, name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	// Argo CD's redis and repo-server are not restricted-clean in every chart
	// version; enforce baseline and warn on restricted.
	ns, err := workloads.NewChartNamespace(ctx, name, workloads.ArgoCDNamespace, parent)
	if err != nil {
		return nil, err
	}
	redis, _, err := workloads.NewKeptSecret(ctx, name+"-redis", workloads.KeptSecretArgs{
		Name:      ArgoCDRedisSecret,
		Namespace: ns.Metadata.Name().Elem(),
		// The labels the chart gives its redis objects (templates/_common.tpl
		// argo-cd.labels, component redis); nothing selects the Secret by them.
		Labels: pulumi.StringMap{
			workloads.LabelName:           pulumi.String(ArgoCDRedisSecret),
			"app.kubernetes.io/component": pulumi.String("redis"),
			workloads.LabelPartOf:         pulumi.String("argocd"),
			workloads.LabelManagedBy:      pulumi.String("pulumi"),
		},
		Generate: func() (map[string]string, error) {
			pw, err := workloads.RandomPassword(argoCDRedisPasswordLength)
			return map[string]string{ArgoCDRedisSecretKey: pw}, err
		},
	}, parent)
	if err != nil {
		return nil, err
	}
	var hash pulumi.StringInput
	if a.AdminPassword != nil {
		salt := a.SaltContext
		hash = pulumi.ToSecret(a.AdminPassword.ToStringOutput().ApplyT(func(pw string) (string, error) {
			return StableBcrypt(pw, salt, adminPasswordCost)
		})).(pulumi.StringOutput)
	}
	release, err := workloads.InstallChart(ctx, name, a.Chart, argoCDRelease, workloads.ArgoCDNamespace, argoCDValues(a.Spec, hash, a.NotificationsToken), parent, pulumi.DependsOn([]pulumi.Resource{ns, redis}))
	if err != nil {
		return nil, err
	}
	if apps := a.Spec.Apps; apps != nil {
		app, err := apiextensions.NewCustomResource(ctx, name+"-"+AppsApplicationName, &apiextensions.CustomResourceArgs{
			ApiVersion: pulumi.String("argoproj.io/v1alpha1"),
			Kind:       pulumi.String("Application"),
			Metadata: &metav1.ObjectMetaArgs{
				Name:      pulumi.String(AppsApplicationName),
				Namespace: pulumi.String(workloads.ArgoCDNamespace),
				// Without it, deleting the Application orphans what it
				// synced, and load balancers outlive the cluster. On
				// destroy the Application goes first: it depends on the
				// Argo CD chart, and its parent on the Load Balancer
				// Controller (stacks/workloads.go).
				Finalizers: pulumi.StringArray{pulumi.String(ApplicationFinalizer)},
			},
			OtherFields: kubernetes.UntypedArgs{"spec": applicationSpec(*apps)},
		}, parent, pulumi.DependsOn([]pulumi.Resource{release}))
		if err != nil {
			return nil, err
		}
		c.Application = app
	}
	c.Chart = release
	c.URL = pulumi.String(a.Spec.URL()).ToStringOutput()
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{"url": c.URL})
}

// argoCDValues renders the chart values. hash and token are secrets (or nil).
func argoCDValues(s ArgoCDSpec, hash, token pulumi.StringInput) pulumi.Map {
	exposed := s.Exposure.LoadBalanced()
	server := pulumi.Map{"service": pulumi.Map{"type": pulumi.String("ClusterIP")}}
	global := pulumi.Map{
		// The chart's policies: ingress to each component only from the
		// components that talk to it; the server is the one entry point.
		// Explicit: chart 10.0.0 turned create on by default, 8.x had it off.
		"networkPolicy": pulumi.Map{"create": pulumi.Bool(true), "defaultDenyIngress": pulumi.Bool(true)},
	}
	if exposed {
		global["domain"] = pulumi.String(s.Host)
		annotations := workloads.ALBAnnotationValues(s.exposure(), "/healthz")
		server["ingress"] = pulumi.Map{
			"enabled":          pulumi.Bool(true),
			"controller":       pulumi.String("generic"),
			"ingressClassName": pulumi.String("alb"),
			"hostname":         pulumi.String(s.Host),
			"path":             pulumi.String("/"),
			"pathType":         pulumi.String("Prefix"),
			"annotations":      annotations,
			// TLS terminates at the ALB with the ACM certificate.
			"tls": pulumi.Bool(false),
		}
	}
	secret := pulumi.Map{}
	if hash != nil {
		secret["argocdServerAdminPassword"] = hash
		secret["argocdServerAdminPasswordMtime"] = pulumi.String(s.AdminPasswordMtime)
	}
	values := pulumi.Map{
		"global": global,
		"configs": pulumi.Map{
			"cm": pulumi.Map{
				"url":                     pulumi.String(s.URL()),
				"admin.enabled":           pulumi.String("true"),
				"users.anonymous.enabled": pulumi.String("false"),
				"exec.enabled":            pulumi.String("false"),
			},
			// argocd-cmd-params-cm. From chart 9.0.0 the chart writes only
			// what is set here (it dropped its 21 defaults), so everything
			// the platform relies on is explicit, for every chart version.
			"params": pulumi.Map{
				// Behind the ALB the server speaks plain HTTP inside the
				// VPC; otherwise it serves TLS itself.
				"server.insecure": pulumi.Bool(exposed),
				// ApplicationSets create, update and delete their
				// Applications, and no ApplicationSet can pick another
				// policy: the chart's default up to 8.x. Argo CD's own
				// default ("") lets each ApplicationSet choose, which an
				// add-on upgrade should not change by itself.
				ApplicationSetPolicyParam: pulumi.String(ApplicationSetPolicy),
			},
			"secret": secret,
		},
		"server": server,
		// No SSO is configured; Dex would only add an unused endpoint.
		"dex": pulumi.Map{"enabled": pulumi.Bool(false)},
		// The hook Job that would create Secret argocd-redis never runs
		// under the Helm v4 Chart; the program creates the Secret instead.
		"redisSecretInit": pulumi.Map{"enabled": pulumi.Bool(false)},
		// The chart marks its CRDs helm.sh/resource-policy: keep by default
		// (crds.keep, templates/crds/crd-*.yaml), which the Helm v4 Chart turns
		// into retainOnDelete: `pulumi destroy` would leave the argoproj.io CRDs
		// behind, and a later install would conflict with them. Pulumi owns
		// their lifecycle; Applications are deleted first (resources finalizer).
		"crds":          pulumi.Map{"keep": pulumi.Bool(false)},
		"notifications": notificationsValues(s, token),
	}
	return values
}

func notificationsValues(s ArgoCDSpec, token pulumi.StringInput) pulumi.Map {
	values := pulumi.Map{"enabled": pulumi.Bool(true), "argocdUrl": pulumi.String(s.URL())}
	if s.Notifications == nil {
		return values
	}
	cfg := buildNotifications(*s.Notifications, token != nil)
	values["notifiers"] = pulumi.ToStringMap(cfg.Notifiers)
	values["templates"] = pulumi.ToStringMap(cfg.Templates)
	values["triggers"] = pulumi.ToStringMap(cfg.Triggers)
	subs := pulumi.Array{}
	for _, sub := range cfg.Subscriptions {
		subs = append(subs, pulumi.Map{
			"recipients": pulumi.ToStringArray(sub["recipients"].([]string)),
			"triggers":   pulumi.ToStringArray(sub["triggers"].([]string)),
		})
	}
	values["subscriptions"] = subs
	if token != nil {
		values["secret"] = pulumi.Map{
			"create": pulumi.Bool(true),
			"items":  pulumi.Map{notificationsTokenKey: pulumi.ToSecret(token)},
		}
	}
	return values
}

// applicationSpec is the spec of the apps Application.
func applicationSpec(a ArgoCDApps) pulumi.Map {
	spec := pulumi.Map{
		"project": pulumi.String("default"),
		"source": pulumi.Map{
			"repoURL":        pulumi.String(a.RepoURL),
			"path":           pulumi.String(a.Path),
			"targetRevision": pulumi.String(a.Revision),
			"directory":      pulumi.Map{"recurse": pulumi.Bool(true)},
		},
		"destination": pulumi.Map{
			"server":    pulumi.String("https://kubernetes.default.svc"),
			"namespace": pulumi.String(a.Namespace),
		},
	}
	sync := pulumi.Map{"syncOptions": pulumi.StringArray{pulumi.String("ServerSideApply=true")}}
	if a.Sync == AutomatedSync {
		sync["automated"] = pulumi.Map{"prune": pulumi.Bool(true), "selfHeal": pulumi.Bool(true)}
	}
	spec["syncPolicy"] = sync
	return spec
}
