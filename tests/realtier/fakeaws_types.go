package realtier

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// fakeType is how the fake AWS answers for one resource type: what AWS
// computes (ids, ARNs, names, the EKS cluster's endpoint), which input it
// names the resource by when the program does not, and how the Terraform
// schema behind pulumi-aws diffs it (terraform-provider-aws
// internal/service/<service>/<resource>.go, the schema of each attribute).
// Paths are dotted property paths (launchTemplate.id); a list's elements
// share the list's path.
type fakeType struct {
	// autoname is the field Check fills in when the program leaves it (and
	// namePrefix) unset; nameField, if different, is the name field the
	// bridge's autonaming covers (pulumi-aws provider/autonaming.go: every
	// input named name; resources.go: node_group_name) without the fake
	// autonaming it. Either, set by the program, makes a replacement delete
	// first (pulumi-terraform-bridge pkg/tfbridge/schema.go,
	// nameRequiresDeleteBeforeReplace).
	autoname, nameField string
	// replaceOn are the ForceNew paths: a change at or under one replaces.
	replaceOn []string
	// forceNewIf adds replacing paths a CustomizeDiff forces.
	forceNewIf          func(state, config map[string]any) []string
	deleteBeforeReplace bool
	// computed are the Optional+Computed (or Computed) paths: left out of
	// the configuration, they keep what AWS holds, without a diff.
	computed []string
	// defaults are schema Defaults: left out, the configuration has them.
	defaults map[string]any
	// sets are TypeSet paths: compared without order.
	sets []string
	// policies are IAM policy JSON paths: the state holds the provider's
	// normalised JSON (StateFunc structure.NormalizeJsonString) and the diff
	// compares by equivalence (DiffSuppressFunc
	// verify.SuppressEquivalentPolicyDiffs).
	policies []string
	// tagged types have tags and a computed tagsAll (defaultTags merged in).
	tagged bool
	// id is the resource's AWS id; nil: a prefix-less name derived from the URN.
	id func(f *FakeAWS, urn string, in map[string]any) string
	// outputs are what AWS adds to the inputs.
	outputs func(f *FakeAWS, id string, in map[string]any) map[string]any
}

// prefixed ids look like EC2's: prefix plus 17 hex digits.
func prefixed(prefix string) func(*FakeAWS, string, map[string]any) string {
	return func(_ *FakeAWS, urn string, _ map[string]any) string { return prefix + "-" + shortHash(urn, 17) }
}

func fromInput(key string) func(*FakeAWS, string, map[string]any) string {
	return func(_ *FakeAWS, urn string, in map[string]any) string {
		if s, _ := in[key].(string); s != "" {
			return s
		}
		if p, _ := in["namePrefix"].(string); p != "" && key == "name" {
			// create.Name(name, namePrefix): the prefix plus a unique suffix
			return p + shortHash(urn, 26)
		}
		return urnName(urn)
	}
}

func joined(sep string, keys ...string) func(*FakeAWS, string, map[string]any) string {
	return func(_ *FakeAWS, _ string, in map[string]any) string {
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprint(in[k]))
		}
		return strings.Join(parts, sep)
	}
}

func withArn(arn func(f *FakeAWS, id string, in map[string]any) string) func(*FakeAWS, string, map[string]any) map[string]any {
	return func(f *FakeAWS, id string, in map[string]any) map[string]any {
		return map[string]any{"arn": arn(f, id, in)}
	}
}

func ec2Arn(kind string) func(*FakeAWS, string, map[string]any) string {
	return func(f *FakeAWS, id string, _ map[string]any) string {
		return fmt.Sprintf("arn:aws:ec2:%s:%s:%s/%s", f.region, FakeAccount, kind, id)
	}
}

// iamArn is the ARN of an IAM entity named name (the input, else the id).
func iamArn(kind string) func(*FakeAWS, string, map[string]any) string {
	return func(_ *FakeAWS, id string, in map[string]any) string {
		path, _ := in["path"].(string)
		if path == "" {
			path = "/"
		}
		name, _ := in["name"].(string)
		if name == "" {
			name = id
		}
		return fmt.Sprintf("arn:aws:iam::%s:%s%s%s", FakeAccount, kind, path, name)
	}
}

// fakeTypes covers every aws: type the program and pulumi-eks v2.8.1 create
// (infra/, workloads/ and nodejs/eks: cluster.ts, servicerole.ts,
// securitygroup.ts, authenticationMode.ts, nodegroup.ts). Others get a name
// and an ARN.
var fakeTypes = map[string]fakeType{
	// ec2/vpc_.go: cidr_block, instance_tenancy ForceNew.
	"aws:ec2/vpc:Vpc": {replaceOn: []string{"cidrBlock", "instanceTenancy"}, defaults: map[string]any{"instanceTenancy": "default", "enableDnsSupport": true}, tagged: true, id: prefixed("vpc"),
		outputs: func(f *FakeAWS, id string, _ map[string]any) map[string]any {
			return map[string]any{"arn": ec2Arn("vpc")(f, id, nil), "ownerId": FakeAccount,
				"defaultSecurityGroupId": "sg-" + shortHash(id+"sg", 17), "mainRouteTableId": "rtb-" + shortHash(id+"rtb", 17),
				"defaultRouteTableId": "rtb-" + shortHash(id+"rtb", 17), "defaultNetworkAclId": "acl-" + shortHash(id+"acl", 17)}
		}},
	// ec2/vpc_subnet.go: availability_zone(_id), cidr_block, vpc_id ForceNew.
	"aws:ec2/subnet:Subnet": {replaceOn: []string{"cidrBlock", "availabilityZone", "availabilityZoneId", "vpcId"}, computed: []string{"availabilityZone", "availabilityZoneId"},
		tagged: true, id: prefixed("subnet"), outputs: withArn(ec2Arn("subnet"))},
	"aws:ec2/internetGateway:InternetGateway": {tagged: true, id: prefixed("igw"), outputs: withArn(ec2Arn("internet-gateway"))},
	"aws:ec2/eip:Eip": {tagged: true, computed: []string{"domain"}, id: prefixed("eipalloc"), outputs: func(_ *FakeAWS, id string, _ map[string]any) map[string]any {
		return map[string]any{"allocationId": id, "publicIp": "198.51.100.10", "domain": "vpc"}
	}},
	// ec2/vpc_nat_gateway.go: allocation_id, connectivity_type, subnet_id ForceNew.
	"aws:ec2/natGateway:NatGateway": {replaceOn: []string{"subnetId", "allocationId", "connectivityType"}, defaults: map[string]any{"connectivityType": "public"}, tagged: true, id: prefixed("nat"), outputs: func(_ *FakeAWS, id string, _ map[string]any) map[string]any {
		return map[string]any{"publicIp": "198.51.100.10", "privateIp": "10.0.0.10", "networkInterfaceId": "eni-" + shortHash(id, 17)}
	}},
	"aws:ec2/routeTable:RouteTable":                       {replaceOn: []string{"vpcId"}, computed: []string{"routes", "propagatingVgws"}, sets: []string{"routes"}, tagged: true, id: prefixed("rtb"), outputs: withArn(ec2Arn("route-table"))},
	"aws:ec2/routeTableAssociation:RouteTableAssociation": {replaceOn: []string{"subnetId", "gatewayId"}, id: prefixed("rtbassoc")},
	"aws:ec2/defaultSecurityGroup:DefaultSecurityGroup":   {id: prefixed("sg"), outputs: withArn(ec2Arn("security-group"))},
	"aws:ec2/vpcEndpoint:VpcEndpoint": {replaceOn: []string{"vpcId", "serviceName", "vpcEndpointType"}, computed: []string{"subnetIds", "securityGroupIds", "routeTableIds", "policy", "privateDnsEnabled", "ipAddressType"},
		sets: []string{"subnetIds", "securityGroupIds", "routeTableIds"}, policies: []string{"policy"}, defaults: map[string]any{"vpcEndpointType": "Gateway"}, tagged: true, id: prefixed("vpce"), outputs: withArn(ec2Arn("vpc-endpoint"))},
	// ec2/vpc_security_group.go: name, name_prefix, description, vpc_id ForceNew; ingress, egress Optional+Computed sets.
	"aws:ec2/securityGroup:SecurityGroup": {autoname: "name", replaceOn: []string{"name", "namePrefix", "vpcId", "description"}, computed: []string{"name", "namePrefix", "ingress", "egress", "vpcId"},
		sets: []string{"ingress", "egress"}, defaults: map[string]any{"description": "Managed by Pulumi", "revokeRulesOnDelete": false}, tagged: true, id: prefixed("sg"), outputs: withArn(ec2Arn("security-group"))},
	// ec2/vpc_security_group_rule.go: every argument but description ForceNew.
	"aws:ec2/securityGroupRule:SecurityGroupRule": {replaceOn: []string{"securityGroupId", "type", "fromPort", "toPort", "protocol", "cidrBlocks", "ipv6CidrBlocks", "prefixListIds", "self", "sourceSecurityGroupId"},
		computed: []string{"sourceSecurityGroupId"}, id: prefixed("sgrule")},
	"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": {replaceOn: []string{"securityGroupId"}, id: prefixed("sgr"), outputs: func(f *FakeAWS, id string, _ map[string]any) map[string]any {
		return map[string]any{"arn": ec2Arn("security-group-rule")(f, id, nil), "securityGroupRuleId": id}
	}},
	// ec2/ec2_launch_template.go: name, name_prefix ForceNew; latest_version
	// by CustomizeDiff and Update (launchTemplateVersion).
	"aws:ec2/launchTemplate:LaunchTemplate": {nameField: "name", replaceOn: []string{"name", "namePrefix"},
		computed: []string{"name", "namePrefix", "defaultVersion", "blockDeviceMappings.ebs.iops", "blockDeviceMappings.ebs.throughput", "blockDeviceMappings.ebs.volumeSize", "blockDeviceMappings.ebs.volumeType"},
		sets:     []string{"vpcSecurityGroupIds", "securityGroupNames"}, tagged: true, id: prefixed("lt"), outputs: func(f *FakeAWS, id string, in map[string]any) map[string]any {
			name, _ := in["name"].(string)
			if name == "" {
				name = fmt.Sprint(in["namePrefix"]) + shortHash(id, 26)
			}
			return map[string]any{"arn": ec2Arn("launch-template")(f, id, nil), "name": name, "latestVersion": 1.0, "defaultVersion": 1.0}
		}},
	// iam/role.go: name, name_prefix, path ForceNew; assume_role_policy and
	// inline_policy.policy normalised and compared by equivalence.
	"aws:iam/role:Role": {autoname: "name", replaceOn: []string{"name", "namePrefix", "path"}, computed: []string{"name", "namePrefix", "inlinePolicies", "managedPolicyArns"},
		defaults: map[string]any{"path": "/", "maxSessionDuration": 3600.0, "forceDetachPolicies": false}, sets: []string{"inlinePolicies", "managedPolicyArns"},
		policies: []string{"assumeRolePolicy", "inlinePolicies.policy"}, tagged: true, id: fromInput("name"), outputs: func(f *FakeAWS, id string, in map[string]any) map[string]any {
			return map[string]any{"name": id, "arn": iamArn("role")(f, id, in), "uniqueId": "AROA" + strings.ToUpper(shortHash(id, 17)), "createDate": "2026-01-01T00:00:00Z"}
		}},
	// iam/policy.go: name, name_prefix, path, description ForceNew.
	"aws:iam/policy:Policy": {autoname: "name", replaceOn: []string{"name", "namePrefix", "path", "description"}, computed: []string{"name", "namePrefix"},
		defaults: map[string]any{"path": "/"}, policies: []string{"policy"}, tagged: true, id: func(f *FakeAWS, urn string, in map[string]any) string {
			return iamArn("policy")(f, fromInput("name")(f, urn, in), in)
		},
		outputs: func(f *FakeAWS, id string, in map[string]any) map[string]any {
			return map[string]any{"arn": id, "policyId": "ANPA" + strings.ToUpper(shortHash(id, 17))}
		}},
	// iam/role_policy.go: name, name_prefix, role ForceNew.
	"aws:iam/rolePolicy:RolePolicy": {autoname: "name", replaceOn: []string{"name", "namePrefix", "role"}, computed: []string{"name", "namePrefix"}, policies: []string{"policy"}, id: joined(":", "role", "name")},
	"aws:iam/rolePolicyAttachment:RolePolicyAttachment": {replaceOn: []string{"role", "policyArn"}, id: func(_ *FakeAWS, urn string, in map[string]any) string {
		return fmt.Sprint(in["role"]) + "-" + shortHash(urn, 26)
	}},
	"aws:iam/instanceProfile:InstanceProfile": {autoname: "name", replaceOn: []string{"name", "namePrefix", "path"}, computed: []string{"name", "namePrefix"}, defaults: map[string]any{"path": "/"}, tagged: true, id: fromInput("name"), outputs: withArn(iamArn("instance-profile"))},
	"aws:iam/openIdConnectProvider:OpenIdConnectProvider": {replaceOn: []string{"url"}, sets: []string{"clientIdLists"}, computed: []string{"thumbprintLists"}, tagged: true, id: func(_ *FakeAWS, _ string, in map[string]any) string {
		return fmt.Sprintf("arn:aws:iam::%s:oidc-provider/%s", FakeAccount, strings.TrimPrefix(fmt.Sprint(in["url"]), "https://"))
	}, outputs: func(_ *FakeAWS, id string, _ map[string]any) map[string]any { return map[string]any{"arn": id} }},
	// kms/key.go: customer_master_key_spec, key_usage ForceNew; policy Optional+Computed.
	"aws:kms/key:Key": {replaceOn: []string{"customerMasterKeySpec", "keyUsage", "multiRegion"}, computed: []string{"policy", "description", "keyUsage", "customerMasterKeySpec", "multiRegion", "rotationPeriodInDays"},
		defaults: map[string]any{"enableKeyRotation": false, "isEnabled": true}, policies: []string{"policy"}, tagged: true, id: func(_ *FakeAWS, urn string, _ map[string]any) string {
			h := shortHash(urn, 32)
			return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
		}, outputs: func(f *FakeAWS, id string, _ map[string]any) map[string]any {
			return map[string]any{"keyId": id, "arn": fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", f.region, FakeAccount, id)}
		}},
	"aws:kms/alias:Alias": {nameField: "name", replaceOn: []string{"name", "namePrefix"}, computed: []string{"name", "namePrefix"}, id: fromInput("name"), outputs: func(f *FakeAWS, id string, in map[string]any) map[string]any {
		return map[string]any{"arn": fmt.Sprintf("arn:aws:kms:%s:%s:%s", f.region, FakeAccount, id), "targetKeyArn": fmt.Sprintf("arn:aws:kms:%s:%s:key/%v", f.region, FakeAccount, in["targetKeyId"])}
	}},
	"aws:s3/bucketV2:BucketV2": {replaceOn: []string{"bucket", "bucketPrefix", "objectLockEnabled"}, computed: []string{"bucket", "bucketPrefix", "objectLockEnabled", "policy",
		"acl", "grants", "corsRules", "lifecycleRules", "loggings", "objectLockConfiguration", "replicationConfiguration", "serverSideEncryptionConfiguration", "versioning", "website", "accelerationStatus", "requestPayer"},
		defaults: map[string]any{"forceDestroy": false}, policies: []string{"policy"}, tagged: true, id: func(_ *FakeAWS, urn string, in map[string]any) string {
			if b, _ := in["bucket"].(string); b != "" {
				return b
			}
			return fmt.Sprint(in["bucketPrefix"]) + shortHash(urn, 26)
		}, outputs: func(f *FakeAWS, id string, _ map[string]any) map[string]any {
			return map[string]any{"bucket": id, "arn": "arn:aws:s3:::" + id, "bucketDomainName": id + ".s3.amazonaws.com", "region": f.region}
		}},
	"aws:s3/bucketOwnershipControls:BucketOwnershipControls":                                     {replaceOn: []string{"bucket"}, id: fromInput("bucket")},
	"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":                                     {replaceOn: []string{"bucket"}, id: fromInput("bucket")},
	"aws:s3/bucketVersioningV2:BucketVersioningV2":                                               {replaceOn: []string{"bucket"}, id: fromInput("bucket")},
	"aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2": {replaceOn: []string{"bucket"}, id: fromInput("bucket")},
	"aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2":                       {replaceOn: []string{"bucket"}, id: fromInput("bucket")},
	"aws:s3/bucketPolicy:BucketPolicy":                                                           {replaceOn: []string{"bucket"}, policies: []string{"policy"}, id: fromInput("bucket")},
	// s3/object.go (aws_s3_object): bucket and key ForceNew; the id is the
	// key; content type, encryption, key, storage class and etag
	// Optional+Computed. The program uploads the sample models (issue 24);
	// the fake keeps them as resources (BucketObjects).
	"aws:s3/bucketObjectv2:BucketObjectv2": {replaceOn: []string{"bucket", "key"}, computed: []string{"contentType", "kmsKeyId", "serverSideEncryption",
		"bucketKeyEnabled", "storageClass", "etag", "versionId", "acl", "checksumAlgorithm"}, defaults: map[string]any{"forceDestroy": false}, tagged: true,
		id: fromInput("key"), outputs: func(_ *FakeAWS, id string, in map[string]any) map[string]any {
			return map[string]any{"arn": fmt.Sprintf("arn:aws:s3:::%v/%s", in["bucket"], id), "etag": shortHash(fmt.Sprint(in["content"]), 32),
				"storageClass": "STANDARD", "versionId": ""}
		}},
	// eks/cluster.go: name, role_arn, bootstrap_self_managed_addons,
	// access_config.bootstrap_cluster_creator_admin_permissions,
	// kubernetes_network_config.{ip_family,service_ipv4_cidr},
	// remote_network_config, outpost_config ForceNew; encryption_config
	// replaces only when removed (CustomizeDiff ForceNewIfChange).
	"aws:eks/cluster:Cluster": {autoname: "name", replaceOn: []string{"name", "roleArn", "bootstrapSelfManagedAddons", "accessConfig.bootstrapClusterCreatorAdminPermissions",
		"kubernetesNetworkConfig.ipFamily", "kubernetesNetworkConfig.serviceIpv4Cidr", "remoteNetworkConfig", "outpostConfig"},
		forceNewIf: func(state, config map[string]any) []string {
			if !isEmpty(state["encryptionConfig"]) && isEmpty(config["encryptionConfig"]) {
				return []string{"encryptionConfig"}
			}
			return nil
		},
		computed: []string{"version", "accessConfig", "accessConfig.authenticationMode", "kubernetesNetworkConfig", "kubernetesNetworkConfig.ipFamily", "kubernetesNetworkConfig.serviceIpv4Cidr",
			"kubernetesNetworkConfig.serviceIpv6Cidr", "kubernetesNetworkConfig.elasticLoadBalancing", "upgradePolicy", "upgradePolicy.supportType",
			"vpcConfig.clusterSecurityGroupId", "vpcConfig.vpcId", "vpcConfig.publicAccessCidrs"},
		defaults: map[string]any{"bootstrapSelfManagedAddons": true, "accessConfig.bootstrapClusterCreatorAdminPermissions": true,
			"vpcConfig.endpointPrivateAccess": false, "vpcConfig.endpointPublicAccess": true},
		sets:   []string{"enabledClusterLogTypes", "vpcConfig.subnetIds", "vpcConfig.securityGroupIds", "vpcConfig.publicAccessCidrs", "encryptionConfig.resources"},
		tagged: true, id: fromInput("name"),
		outputs: func(f *FakeAWS, id string, in map[string]any) map[string]any {
			vpc := map[string]any{}
			if v, ok := in["vpcConfig"].(map[string]any); ok {
				maps.Copy(vpc, v)
			}
			vpc["clusterSecurityGroupId"] = "sg-" + shortHash(id+"eks-cluster-sg", 17)
			vpc["vpcId"] = "vpc-from-subnets"
			ca := []any{map[string]any{"data": f.caData}}
			return map[string]any{
				"arn":                    fmt.Sprintf("arn:aws:eks:%s:%s:cluster/%s", f.region, FakeAccount, id),
				"endpoint":               f.endpoint,
				"certificateAuthority":   ca[0],
				"certificateAuthorities": ca,
				"identities": []any{map[string]any{"oidcs": []any{map[string]any{
					"issuer": fmt.Sprintf("https://oidc.eks.%s.amazonaws.com/id/%s", f.region, strings.ToUpper(shortHash(id, 32))),
				}}}},
				"vpcConfig":       vpc,
				"status":          "ACTIVE",
				"platformVersion": "eks.1",
				"createdAt":       "2026-01-01T00:00:00Z",
			}
		}},
	// eks/access_entry.go: cluster_name, principal_arn, type ForceNew.
	"aws:eks/accessEntry:AccessEntry": {replaceOn: []string{"clusterName", "principalArn", "type"}, computed: []string{"kubernetesGroups", "userName"},
		defaults: map[string]any{"type": "STANDARD"}, sets: []string{"kubernetesGroups"}, tagged: true, id: joined(":", "clusterName", "principalArn"),
		outputs: func(f *FakeAWS, id string, in map[string]any) map[string]any {
			return map[string]any{"accessEntryArn": fmt.Sprintf("arn:aws:eks:%s:%s:access-entry/%s", f.region, FakeAccount, shortHash(id, 20))}
		}},
	"aws:eks/accessPolicyAssociation:AccessPolicyAssociation": {replaceOn: []string{"clusterName", "principalArn", "policyArn", "accessScope"}, sets: []string{"accessScope.namespaces"}, id: joined("#", "clusterName", "principalArn", "policyArn"),
		outputs: func(*FakeAWS, string, map[string]any) map[string]any {
			return map[string]any{"associatedAt": "2026-01-01T00:00:00Z"}
		}},
	// eks/node_group.go: ami_type, capacity_type, cluster_name, disk_size,
	// instance_types, launch_template.{id,name}, node_group_name(_prefix),
	// node_role_arn, remote_access, subnet_ids (a set) ForceNew.
	"aws:eks/nodeGroup:NodeGroup": {autoname: "nodeGroupName", replaceOn: []string{"clusterName", "nodeGroupName", "nodeGroupNamePrefix", "subnetIds", "instanceTypes", "capacityType",
		"amiType", "nodeRoleArn", "diskSize", "launchTemplate.id", "launchTemplate.name", "remoteAccess"},
		computed: []string{"amiType", "capacityType", "diskSize", "instanceTypes", "launchTemplate.id", "launchTemplate.name", "nodeGroupName", "nodeGroupNamePrefix",
			"releaseVersion", "updateConfig", "version", "nodeRepairConfig"},
		sets: []string{"subnetIds", "taints", "remoteAccess.sourceSecurityGroupIds"}, tagged: true, id: joined(":", "clusterName", "nodeGroupName"),
		outputs: func(f *FakeAWS, id string, in map[string]any) map[string]any {
			return map[string]any{
				"arn":       fmt.Sprintf("arn:aws:eks:%s:%s:nodegroup/%s/%s", f.region, FakeAccount, strings.ReplaceAll(id, ":", "/"), shortHash(id, 8)),
				"status":    "ACTIVE",
				"resources": []any{map[string]any{"autoscalingGroups": []any{map[string]any{"name": "eks-" + fmt.Sprint(in["nodeGroupName"]) + "-" + shortHash(id, 8)}}}},
			}
		}},
	// The bootstrap's CodeBuild runner pools (stacks/bootstrap/statebackend,
	// runners.go), after terraform-provider-aws internal/service:
	// codebuild/project.go name ForceNew (the id is the name);
	// codebuild/webhook.go project_name and manual_creation ForceNew, the id
	// the project's name, payload_url, secret (Sensitive) and url computed;
	// codeconnections/connection.go name, provider_type, host_arn
	// RequiresReplace, connection_status PENDING until the handshake;
	// logs/group.go name, name_prefix ForceNew, arn without the ":*".
	"aws:codebuild/project:Project": {nameField: "name", replaceOn: []string{"name"}, tagged: true, id: fromInput("name"), outputs: func(f *FakeAWS, id string, _ map[string]any) map[string]any {
		return map[string]any{"arn": fmt.Sprintf("arn:aws:codebuild:%s:%s:project/%s", f.region, FakeAccount, id), "badgeUrl": ""}
	}},
	"aws:codebuild/webhook:Webhook": {replaceOn: []string{"projectName", "manualCreation"}, id: fromInput("projectName"), outputs: func(f *FakeAWS, id string, _ map[string]any) map[string]any {
		return map[string]any{"payloadUrl": fmt.Sprintf("https://codebuild.%s.amazonaws.com/webhooks?t=%s&v=1", f.region, shortHash(id, 24)),
			"secret": shortHash(id+"secret", 32), "url": ""}
	}},
	"aws:codeconnections/connection:Connection": {nameField: "name", replaceOn: []string{"name", "providerType", "hostArn"}, computed: []string{"providerType"}, tagged: true,
		id: func(f *FakeAWS, urn string, _ map[string]any) string {
			h := shortHash(urn, 32)
			return fmt.Sprintf("arn:aws:codeconnections:%s:%s:connection/%s-%s-%s-%s-%s", f.region, FakeAccount, h[:8], h[8:12], h[12:16], h[16:20], h[20:])
		}, outputs: func(_ *FakeAWS, id string, _ map[string]any) map[string]any {
			return map[string]any{"arn": id, "connectionStatus": "PENDING", "ownerAccountId": FakeAccount}
		}},
	"aws:cloudwatch/logGroup:LogGroup": {nameField: "name", replaceOn: []string{"name", "namePrefix"}, computed: []string{"name", "namePrefix"}, tagged: true, id: fromInput("name"),
		outputs: func(f *FakeAWS, id string, _ map[string]any) map[string]any {
			return map[string]any{"arn": fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", f.region, FakeAccount, id)}
		}},
	"aws:eks/addon:Addon": {replaceOn: []string{"clusterName", "addonName"}, computed: []string{"addonVersion", "configurationValues"}, tagged: true, id: joined(":", "clusterName", "addonName"),
		outputs: func(f *FakeAWS, id string, _ map[string]any) map[string]any {
			return map[string]any{"arn": fmt.Sprintf("arn:aws:eks:%s:%s:addon/%s", f.region, FakeAccount, strings.ReplaceAll(id, ":", "/"))}
		}},
}

// outputs is the id and the state of r: its inputs (policies in the
// provider's normalised JSON) plus what AWS computes. In a preview of a
// create the computed values are unknown, as the real provider leaves them.
// An update (olds: the prior state; changed: the paths that differ)
// recomputes them from the new inputs, so an updated input is never
// overwritten by stale state; a launch template's latestVersion follows the
// provider (launchTemplateVersion).
func (f *FakeAWS) outputs(r *FakeResource, olds map[string]any, changed []string, preview bool) (string, map[string]any) {
	t, known := fakeTypes[r.Type]
	id := r.ID
	if id == "" {
		switch {
		case t.id != nil:
			id = t.id(f, r.URN, r.Inputs)
		default:
			id = urnName(r.URN) + "-" + shortHash(r.URN, 7)
		}
	}
	out := deepCopy(r.Inputs)
	for k := range out {
		if strings.HasPrefix(k, "__") {
			delete(out, k)
		}
	}
	for _, p := range t.policies {
		normalisePolicies(out, strings.Split(p, "."))
	}
	computed := map[string]any{}
	if t.outputs != nil {
		computed = t.outputs(f, id, r.Inputs)
	}
	if !known {
		computed = map[string]any{"arn": fmt.Sprintf("arn:aws:%s:%s:%s:%s", strings.Split(strings.TrimPrefix(r.Type, "aws:"), "/")[0], f.region, FakeAccount, id)}
	}
	computed["id"] = id
	if t.tagged {
		// tagsAll: the provider's default tags under the resource's own
		// (internal/tags: DefaultConfig.MergeTags).
		all := map[string]any{}
		maps.Copy(all, f.defaultTags)
		if tags, ok := r.Inputs["tags"].(map[string]any); ok {
			maps.Copy(all, tags)
		}
		// known in a preview too: the provider computes it in the plan
		// (verify.SetTagsDiff)
		out["tagsAll"] = all
	}
	for k, v := range computed {
		switch {
		case k == "latestVersion" && olds != nil:
			out[k] = launchTemplateVersion(olds, changed, preview)
		case k == "defaultVersion" && olds != nil:
			switch {
			case r.Inputs["updateDefaultVersion"] == true:
				out[k] = launchTemplateVersion(olds, changed, preview)
			case r.Inputs["defaultVersion"] != nil:
			default:
				out[k] = olds[k]
			}
		case preview && olds == nil:
			if given, ok := r.Inputs[k].(map[string]any); ok {
				// a block the program set partly: AWS fills the rest
				merged := deepCopy(given)
				for sub := range v.(map[string]any) {
					if _, set := merged[sub]; !set {
						merged[sub] = unknownValue
					}
				}
				out[k] = merged
			} else if _, given := r.Inputs[k]; !given {
				out[k] = unknownValue
			}
		default:
			if _, given := r.Inputs[k]; !given || k == "vpcConfig" {
				out[k] = v
			}
		}
	}
	return id, out
}

// launchTemplateVersion is a launch template's latestVersion after an
// update, as terraform-provider-aws ec2/ec2_launch_template.go has it: the
// plan marks it unknown (customdiff.ComputedIf) when anything but name,
// namePrefix, description, defaultVersion or updateDefaultVersion changes,
// tags included; the update creates a version (CreateLaunchTemplateVersion)
// only when the template's data or description changed, so a tag-only
// update keeps it.
func launchTemplateVersion(olds map[string]any, changed []string, preview bool) any {
	old, _ := olds["latestVersion"].(float64)
	bumps := false
	for _, p := range changed {
		top, _, _ := strings.Cut(p, ".")
		switch top {
		case "name", "namePrefix", "defaultVersion", "updateDefaultVersion":
		case "description":
			bumps = bumps || !preview
		case "tags", "tagsAll":
			if preview {
				return unknownValue
			}
		default:
			if preview {
				return unknownValue
			}
			bumps = true
		}
	}
	if bumps {
		return old + 1
	}
	return old
}

// diff returns the dotted paths at which the configuration differs from the
// state, as the bridge's plan sees it: every key of a map counts, on both
// sides (a removed tag or label is a change), except the type's computed
// paths when the configuration leaves them out; schema defaults stand in
// for what the configuration leaves out; sets ignore order; policies
// compare by equivalence; keys the bridge reserves (__defaults) are not
// properties.
func (t fakeType) diff(state, config map[string]any) []string {
	var paths []string
	for _, k := range unionKeys(state, config) {
		if strings.HasPrefix(k, "__") {
			continue
		}
		t.diffValue(k, state[k], config[k], &paths)
	}
	var unique []string
	for _, p := range paths {
		if !slices.Contains(unique, p) {
			unique = append(unique, p)
		}
	}
	return unique
}

func (t fakeType) diffValue(path string, state, config any, paths *[]string) {
	if d, ok := t.defaults[path]; ok {
		// What the configuration leaves out is the default, in the plan and
		// in the state the provider wrote.
		if isEmpty(config) {
			config = d
		}
		if isEmpty(state) {
			state = d
		}
	}
	if isEmpty(config) && slices.Contains(t.computed, path) {
		return
	}
	if isEmpty(config) {
		if isEmpty(state) {
			return
		}
		if s, ok := state.(map[string]any); ok {
			for _, k := range slices.Sorted(maps.Keys(s)) {
				t.diffValue(path+"."+k, s[k], nil, paths)
			}
			return
		}
		*paths = append(*paths, path)
		return
	}
	switch {
	case slices.Contains(t.policies, path):
		if !policiesEquivalent(state, config) {
			*paths = append(*paths, path)
		}
		return
	case slices.Contains(t.sets, path):
		if !sameSet(t.canonicalElements(path, state), t.canonicalElements(path, config)) {
			*paths = append(*paths, path)
		}
		return
	}
	switch c := config.(type) {
	case map[string]any:
		s, ok := state.(map[string]any)
		if !ok && !isEmpty(state) {
			*paths = append(*paths, path)
			return
		}
		for _, k := range unionKeys(s, c) {
			t.diffValue(path+"."+k, s[k], c[k], paths)
		}
	case []any:
		s, ok := state.([]any)
		if !ok || len(s) != len(c) {
			*paths = append(*paths, path)
			return
		}
		for i := range c {
			t.diffValue(path, s[i], c[i], paths)
		}
	default:
		if !reflect.DeepEqual(state, config) {
			*paths = append(*paths, path)
		}
	}
}

// replaces are the ForceNew paths among the differing ones: a path at or
// under a replaceOn path, or a whole block (unknown, or of another shape)
// that holds one; plus what the type's CustomizeDiff forces.
func (t fakeType) replaces(state, config map[string]any, paths []string) []string {
	var out []string
	for _, p := range paths {
		for _, r := range t.replaceOn {
			if p == r || strings.HasPrefix(p, r+".") || strings.HasPrefix(r, p+".") {
				if !slices.Contains(out, p) {
					out = append(out, p)
				}
			}
		}
	}
	if t.forceNewIf != nil {
		for _, p := range t.forceNewIf(state, config) {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// nameSetExplicitly: the type's name field is in the inputs and not among
// the fields Check filled in (pulumi-terraform-bridge pkg/tfbridge/schema.go,
// nameRequiresDeleteBeforeReplace: no __defaults list means autonamed).
func (t fakeType) nameSetExplicitly(news map[string]any) bool {
	field := t.nameField
	if field == "" {
		field = t.autoname
	}
	defaults, ok := news[defaultsKey].([]any)
	if field == "" || !ok || isEmpty(news[field]) {
		return false
	}
	return !slices.Contains(defaults, any(field))
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// canonicalElements are a set's elements as JSON, policies made canonical.
func (t fakeType) canonicalElements(path string, v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			m = deepCopy(m)
			for k, sub := range m {
				if slices.Contains(t.policies, path+"."+k) {
					if c, err := canonicalPolicy(sub); err == nil {
						m[k] = c
					}
				}
			}
			e = m
		}
		b, _ := json.Marshal(e)
		out = append(out, string(b))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func sameSet(a, b []string) bool { return slices.Equal(a, b) }

// normalisePolicies rewrites the policy JSON strings at path in m (a list's
// elements share its path) as the provider's StateFunc stores them:
// structure.NormalizeJsonString, i.e. unmarshalled and marshalled again
// (keys sorted, no whitespace).
func normalisePolicies(m map[string]any, path []string) {
	v, ok := m[path[0]]
	if !ok {
		return
	}
	if len(path) == 1 {
		if s, ok := v.(string); ok {
			var doc any
			if json.Unmarshal([]byte(s), &doc) == nil {
				b, _ := json.Marshal(doc)
				m[path[0]] = string(b)
			}
		}
		return
	}
	switch x := v.(type) {
	case map[string]any:
		normalisePolicies(x, path[1:])
	case []any:
		for _, e := range x {
			if em, ok := e.(map[string]any); ok {
				normalisePolicies(em, path[1:])
			}
		}
	}
}

// policiesEquivalent compares two policy JSON strings as
// github.com/hashicorp/awspolicyequivalence does for the provider's
// SuppressEquivalentPolicyDiffs: statement order, the order within an
// element, a string versus a one-element list, and Principal "*" versus
// {"AWS": "*"} do not matter. An unparseable policy compares as text.
func policiesEquivalent(a, b any) bool {
	ca, errA := canonicalPolicy(a)
	cb, errB := canonicalPolicy(b)
	if errA != nil || errB != nil {
		return reflect.DeepEqual(a, b)
	}
	return ca == cb
}

func canonicalPolicy(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("not a string: %v", v)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(s), &doc); err != nil {
		return "", err
	}
	stmts, ok := doc["Statement"].([]any)
	if !ok {
		stmts = []any{doc["Statement"]}
	}
	var canon []string
	for _, st := range stmts {
		m, ok := st.(map[string]any)
		if !ok {
			return "", fmt.Errorf("statement %v is not an object", st)
		}
		for k, e := range m {
			switch k {
			case "Action", "NotAction", "Resource", "NotResource":
				m[k] = sortedStrings(e)
			case "Principal", "NotPrincipal":
				if pm, ok := e.(map[string]any); ok {
					if aws := sortedStrings(pm["AWS"]); len(pm) == 1 && len(aws) == 1 && aws[0] == "*" {
						m[k] = "*"
						continue
					}
					for pk, pv := range pm {
						pm[pk] = sortedStrings(pv)
					}
				}
			case "Condition":
				if cm, ok := e.(map[string]any); ok {
					for _, keys := range cm {
						if km, ok := keys.(map[string]any); ok {
							for key, vals := range km {
								km[key] = sortedStrings(vals)
							}
						}
					}
				}
			}
		}
		b, _ := json.Marshal(m)
		canon = append(canon, string(b))
	}
	slices.Sort(canon)
	b, _ := json.Marshal(map[string]any{"Version": doc["Version"], "Id": doc["Id"], "Statement": canon})
	return string(b), nil
}

func sortedStrings(v any) []string {
	var out []string
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
	case nil:
	default:
		out = []string{fmt.Sprint(x)}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// caData is the base64 of a PEM, as EKS's certificateAuthority.data.
func caData(pem []byte) string { return base64.StdEncoding.EncodeToString(pem) }
