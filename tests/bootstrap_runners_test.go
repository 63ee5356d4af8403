package tests

import (
	"testing"

	"github.com/aiplatform/infra/stacks/bootstrap/statebackend"
	"github.com/aiplatform/infra/tests/mocks"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const runnersName = "aiplatform-ci-runners"

func runnersConfig(runners string) map[string]string {
	cfg := bootstrapCIConfig(`{"repository":"` + bootstrapRepo + `","applyPolicyArns":["` + bootstrapApplyPA + `"]}`)
	cfg[statebackend.Namespace+":runners"] = runners
	return cfg
}

// The runner option creates, per pool of statebackend.RunnerPools, a
// CodeBuild project with its own role, security group and log group in a
// private subnet behind one NAT address, started by a manual webhook on
// queued workflow jobs; nothing of it without the option.
func TestBootstrapRunnersArePoolsOfTheirOwn(t *testing.T) {
	rec, _ := runBootstrap(t, runnersConfig(`{"kind":"codebuild"}`))

	vpc := find(t, rec, "aws:ec2/vpc:Vpc", runnersName)
	assert.Equal(t, "10.249.0.0/24", plain(vpc.Inputs)["cidrBlock"])
	public := find(t, rec, "aws:ec2/subnet:Subnet", runnersName+"-public")
	private := find(t, rec, "aws:ec2/subnet:Subnet", runnersName+"-private")
	assert.Equal(t, "10.249.0.0/25", plain(public.Inputs)["cidrBlock"])
	assert.Equal(t, "10.249.0.128/25", plain(private.Inputs)["cidrBlock"])
	assert.Equal(t, plain(public.Inputs)["availabilityZone"], plain(private.Inputs)["availabilityZone"], "NAT and jobs in one zone: no cross-zone charges")
	assert.Equal(t, false, plain(public.Inputs)["mapPublicIpOnLaunch"])
	nat := find(t, rec, "aws:ec2/natGateway:NatGateway", runnersName+"-nat")
	assert.Equal(t, plain(public.Outputs)["id"], plain(nat.Inputs)["subnetId"])
	privateRT := find(t, rec, "aws:ec2/routeTable:RouteTable", runnersName+"-private")
	assert.Equal(t, plain(nat.Outputs)["id"], path(plain(privateRT.Inputs), "routes", 0, "natGatewayId"), "the jobs leave through the NAT address")
	conn := find(t, rec, "aws:codeconnections/connection:Connection", runnersName+"-github")
	assert.Equal(t, "GitHub", plain(conn.Inputs)["providerType"])
	connArn := plain(conn.Outputs)["arn"]

	roles := map[string]bool{}
	for _, pool := range statebackend.RunnerPools {
		t.Run(pool.Name, func(t *testing.T) {
			name := runnersName + "-" + pool.Name
			project := find(t, rec, "aws:codebuild/project:Project", name)
			in := plain(project.Inputs)
			assert.Equal(t, statebackend.RunnerProject(pool.Name), in["name"])
			assert.Equal(t, "codebuild-aiplatform-ci-"+pool.Name, statebackend.RunnerLabel(pool.Name))
			assert.Equal(t, "GITHUB", path(in, "source", "type"))
			assert.Equal(t, "https://github.com/"+bootstrapRepo+".git", path(in, "source", "location"))
			assert.Equal(t, map[string]any{"type": "CODECONNECTIONS", "resource": connArn}, path(in, "source", "auth"))
			assert.Equal(t, "BUILD_GENERAL1_MEDIUM", path(in, "environment", "computeType"))
			assert.Equal(t, false, path(in, "environment", "privilegedMode"))
			assert.EqualValues(t, 120, in["buildTimeout"])

			sg := find(t, rec, "aws:ec2/securityGroup:SecurityGroup", name)
			assert.Equal(t, []any{plain(private.Outputs)["id"]}, path(in, "vpcConfig", "subnets"))
			assert.Equal(t, []any{plain(sg.Outputs)["id"]}, path(in, "vpcConfig", "securityGroupIds"))
			sgIn := plain(sg.Inputs)
			assert.Nil(t, sgIn["ingress"], "nothing connects in")
			egress := sgIn["egress"].([]any)
			require.Len(t, egress, 1)
			assert.EqualValues(t, 443, path(egress[0], "fromPort"))
			assert.EqualValues(t, 443, path(egress[0], "toPort"))

			logs := find(t, rec, "aws:cloudwatch/logGroup:LogGroup", name)
			assert.Equal(t, "/aws/codebuild/"+statebackend.RunnerProject(pool.Name), plain(logs.Inputs)["name"])
			assert.Equal(t, plain(logs.Outputs)["name"], path(in, "logsConfig", "cloudwatchLogs", "groupName"))

			role := find(t, rec, "aws:iam/role:Role", name)
			assert.Equal(t, plain(role.Outputs)["arn"], in["serviceRole"])
			roles[plain(role.Outputs)["arn"].(string)] = true
			trust := policyJSON(t, plain(role.Inputs)["assumeRolePolicy"])
			st := path(trust, "Statement", 0).(map[string]any)
			assert.Equal(t, "codebuild.amazonaws.com", path(st, "Principal", "Service"))
			assert.Equal(t, mocks.AccountID, path(st, "Condition", "StringEquals", "aws:SourceAccount"))
			assert.Equal(t, "arn:aws:codebuild:"+mocks.Region+":"+mocks.AccountID+":project/"+statebackend.RunnerProject(pool.Name),
				path(st, "Condition", "ArnLike", "aws:SourceArn"), "only this project may assume the role")

			sids := statementsBySid(t, policyJSON(t, plain(find(t, rec, "aws:iam/rolePolicy:RolePolicy", name).Inputs)["policy"]))
			assert.Equal(t, []string{plain(logs.Outputs)["arn"].(string), plain(logs.Outputs)["arn"].(string) + ":*"}, strs(sids["Logs"]["Resource"]))
			assert.Equal(t, []string{connArn.(string)}, strs(sids["GitHubConnection"]["Resource"]))
			assert.Equal(t, []any{plain(private.Outputs)["arn"]}, path(sids["VPCNetworkInterfacePermission"], "Condition", "StringEquals", "ec2:Subnet"))
			for sid, s := range sids {
				for _, a := range strs(s["Action"]) {
					assert.NotContains(t, a, "*", "%s: no wildcard actions", sid)
					for _, forbidden := range []string{"s3:", "kms:", "sts:", "iam:", "eks:"} {
						assert.NotContains(t, a, forbidden, "%s: the runner's role has no access to the state or the platform; jobs use their OIDC roles", sid)
					}
				}
			}

			hook := find(t, rec, "aws:codebuild/webhook:Webhook", name)
			hin := plain(hook.Inputs)
			assert.Equal(t, true, hin["manualCreation"], "setup adds the webhook to GitHub; the bootstrap needs no GitHub access")
			assert.Equal(t, map[string]any{"type": "EVENT", "pattern": "WORKFLOW_JOB_QUEUED"}, path(hin, "filterGroups", 0, "filters", 0))
		})
	}
	assert.Len(t, roles, len(statebackend.RunnerPools), "one role per pool")
	assert.Len(t, rec.ByType("aws:codebuild/project:Project"), len(statebackend.RunnerPools))
}

func TestBootstrapRunnersOptions(t *testing.T) {
	existing := "arn:aws:codeconnections:us-west-2:123456789012:connection/0f1e2d3c-aaaa-bbbb-cccc-0123456789ab"
	rec, _ := runBootstrap(t, runnersConfig(`{"kind":"codebuild","computeType":"BUILD_GENERAL1_SMALL","vpcCidr":"172.31.250.0/26","connectionArn":"`+existing+`","buildTimeoutMinutes":90,"logRetentionDays":7}`))
	assert.Empty(t, rec.ByType("aws:codeconnections/connection:Connection"), "an existing connection is reused")
	assert.Equal(t, "172.31.250.32/27", plain(find(t, rec, "aws:ec2/subnet:Subnet", runnersName+"-private").Inputs)["cidrBlock"])
	for _, pool := range statebackend.RunnerPools {
		in := plain(find(t, rec, "aws:codebuild/project:Project", runnersName+"-"+pool.Name).Inputs)
		assert.Equal(t, existing, path(in, "source", "auth", "resource"))
		assert.Equal(t, "BUILD_GENERAL1_SMALL", path(in, "environment", "computeType"))
		assert.EqualValues(t, 90, in["buildTimeout"])
		assert.EqualValues(t, 7, plain(find(t, rec, "aws:cloudwatch/logGroup:LogGroup", runnersName+"-"+pool.Name).Inputs)["retentionInDays"])
	}

	without, _ := runBootstrap(t, bootstrapCIConfig(`{"repository":"`+bootstrapRepo+`","applyPolicyArns":["`+bootstrapApplyPA+`"]}`))
	for _, typ := range []string{"aws:codebuild/project:Project", "aws:ec2/vpc:Vpc", "aws:ec2/natGateway:NatGateway"} {
		assert.Empty(t, without.ByType(typ), "no runners without the option: %s", typ)
	}
}

func TestBootstrapBadRunnersRegisterNothing(t *testing.T) {
	rec, err := mocks.Run(runnersConfig(`{"kind":"codebuild","vpcCidr":"10.0.0.0/8"}`), statebackend.Run)
	require.ErrorContains(t, err, "runners.vpcCidr")
	assert.Empty(t, rec.All())
}
