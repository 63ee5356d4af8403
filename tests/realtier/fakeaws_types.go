package realtier

import (
	"encoding/base64"
	"fmt"
	"maps"
	"strings"
)

// fakeType is how the fake AWS answers for one resource type: what AWS
// computes (ids, ARNs, names, the EKS cluster's endpoint), which input it
// names the resource by when the program does not, and which input changes
// replace it (the Terraform schema's ForceNew attributes in pulumi-aws).
type fakeType struct {
	autoname            string
	replaceOn           []string
	deleteBeforeReplace bool
	// id is the resource's AWS id; nil: a prefix-less name derived from the URN.
	id func(f *FakeAWS, urn string, in map[string]any) string
	// computed are the outputs AWS adds to the inputs.
	computed func(f *FakeAWS, id string, in map[string]any) map[string]any
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

func iamArn(kind string) func(*FakeAWS, string, map[string]any) string {
	return func(_ *FakeAWS, _ string, in map[string]any) string {
		path, _ := in["path"].(string)
		if path == "" {
			path = "/"
		}
		return fmt.Sprintf("arn:aws:iam::%s:%s%s%v", FakeAccount, kind, path, in["name"])
	}
}

// fakeTypes covers every aws: type the program and pulumi-eks v2.8.1 create
// (infra/, workloads/ and nodejs/eks: cluster.ts, servicerole.ts,
// securitygroup.ts, authenticationMode.ts, nodegroup.ts). Others get a name
// and an ARN.
var fakeTypes = map[string]fakeType{
	"aws:ec2/vpc:Vpc": {replaceOn: []string{"cidrBlock"}, id: prefixed("vpc"),
		computed: func(f *FakeAWS, id string, _ map[string]any) map[string]any {
			return map[string]any{"arn": ec2Arn("vpc")(f, id, nil), "ownerId": FakeAccount,
				"defaultSecurityGroupId": "sg-" + shortHash(id+"sg", 17), "mainRouteTableId": "rtb-" + shortHash(id+"rtb", 17),
				"defaultRouteTableId": "rtb-" + shortHash(id+"rtb", 17), "defaultNetworkAclId": "acl-" + shortHash(id+"acl", 17)}
		}},
	"aws:ec2/subnet:Subnet":                   {replaceOn: []string{"cidrBlock", "availabilityZone", "vpcId"}, id: prefixed("subnet"), computed: withArn(ec2Arn("subnet"))},
	"aws:ec2/internetGateway:InternetGateway": {id: prefixed("igw"), computed: withArn(ec2Arn("internet-gateway"))},
	"aws:ec2/eip:Eip": {id: prefixed("eipalloc"), computed: func(_ *FakeAWS, id string, _ map[string]any) map[string]any {
		return map[string]any{"allocationId": id, "publicIp": "198.51.100.10", "domain": "vpc"}
	}},
	"aws:ec2/natGateway:NatGateway": {replaceOn: []string{"subnetId", "allocationId"}, id: prefixed("nat"), computed: func(_ *FakeAWS, id string, _ map[string]any) map[string]any {
		return map[string]any{"publicIp": "198.51.100.10", "privateIp": "10.0.0.10", "networkInterfaceId": "eni-" + shortHash(id, 17)}
	}},
	"aws:ec2/routeTable:RouteTable":                       {replaceOn: []string{"vpcId"}, id: prefixed("rtb"), computed: withArn(ec2Arn("route-table"))},
	"aws:ec2/routeTableAssociation:RouteTableAssociation": {replaceOn: []string{"subnetId"}, id: prefixed("rtbassoc")},
	"aws:ec2/defaultSecurityGroup:DefaultSecurityGroup":   {id: prefixed("sg"), computed: withArn(ec2Arn("security-group"))},
	"aws:ec2/vpcEndpoint:VpcEndpoint":                     {replaceOn: []string{"vpcId", "serviceName"}, id: prefixed("vpce"), computed: withArn(ec2Arn("vpc-endpoint"))},
	"aws:ec2/securityGroup:SecurityGroup":                 {autoname: "name", replaceOn: []string{"name", "vpcId", "description"}, id: prefixed("sg"), computed: withArn(ec2Arn("security-group"))},
	"aws:ec2/securityGroupRule:SecurityGroupRule":         {replaceOn: []string{"securityGroupId", "type", "fromPort", "toPort", "protocol", "cidrBlocks", "sourceSecurityGroupId"}, id: prefixed("sgrule")},
	"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": {replaceOn: []string{"securityGroupId"}, id: prefixed("sgr"), computed: func(f *FakeAWS, id string, _ map[string]any) map[string]any {
		return map[string]any{"arn": ec2Arn("security-group-rule")(f, id, nil), "securityGroupRuleId": id}
	}},
	"aws:ec2/launchTemplate:LaunchTemplate": {replaceOn: []string{"name", "namePrefix"}, id: prefixed("lt"), computed: func(f *FakeAWS, id string, in map[string]any) map[string]any {
		name, _ := in["name"].(string)
		if name == "" {
			name = fmt.Sprint(in["namePrefix"]) + shortHash(id, 26)
		}
		return map[string]any{"arn": ec2Arn("launch-template")(f, id, nil), "name": name, "latestVersion": 1.0, "defaultVersion": 1.0}
	}},
	"aws:iam/role:Role": {autoname: "name", replaceOn: []string{"name", "path"}, id: fromInput("name"), computed: func(f *FakeAWS, id string, in map[string]any) map[string]any {
		return map[string]any{"arn": iamArn("role")(f, id, in), "uniqueId": "AROA" + strings.ToUpper(shortHash(id, 17)), "createDate": "2026-01-01T00:00:00Z"}
	}},
	"aws:iam/policy:Policy": {autoname: "name", replaceOn: []string{"name", "path"}, id: func(f *FakeAWS, urn string, in map[string]any) string { return iamArn("policy")(f, "", in) },
		computed: func(f *FakeAWS, id string, in map[string]any) map[string]any {
			return map[string]any{"arn": id, "policyId": "ANPA" + strings.ToUpper(shortHash(id, 17))}
		}},
	"aws:iam/rolePolicy:RolePolicy": {autoname: "name", replaceOn: []string{"name", "role"}, id: joined(":", "role", "name")},
	"aws:iam/rolePolicyAttachment:RolePolicyAttachment": {replaceOn: []string{"role", "policyArn"}, id: func(_ *FakeAWS, urn string, in map[string]any) string {
		return fmt.Sprint(in["role"]) + "-" + shortHash(urn, 26)
	}},
	"aws:iam/instanceProfile:InstanceProfile": {autoname: "name", replaceOn: []string{"name"}, id: fromInput("name"), computed: withArn(iamArn("instance-profile"))},
	"aws:iam/openIdConnectProvider:OpenIdConnectProvider": {replaceOn: []string{"url"}, id: func(_ *FakeAWS, _ string, in map[string]any) string {
		return fmt.Sprintf("arn:aws:iam::%s:oidc-provider/%s", FakeAccount, strings.TrimPrefix(fmt.Sprint(in["url"]), "https://"))
	}, computed: func(_ *FakeAWS, id string, _ map[string]any) map[string]any { return map[string]any{"arn": id} }},
	"aws:kms/key:Key": {id: func(_ *FakeAWS, urn string, _ map[string]any) string {
		h := shortHash(urn, 32)
		return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	}, computed: func(f *FakeAWS, id string, _ map[string]any) map[string]any {
		return map[string]any{"keyId": id, "arn": fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", f.region, FakeAccount, id)}
	}},
	"aws:kms/alias:Alias": {replaceOn: []string{"name"}, id: fromInput("name"), computed: func(f *FakeAWS, id string, in map[string]any) map[string]any {
		return map[string]any{"arn": fmt.Sprintf("arn:aws:kms:%s:%s:%s", f.region, FakeAccount, id), "targetKeyArn": fmt.Sprintf("arn:aws:kms:%s:%s:key/%v", f.region, FakeAccount, in["targetKeyId"])}
	}},
	"aws:s3/bucketV2:BucketV2": {replaceOn: []string{"bucket", "bucketPrefix"}, id: func(_ *FakeAWS, urn string, in map[string]any) string {
		if b, _ := in["bucket"].(string); b != "" {
			return b
		}
		return fmt.Sprint(in["bucketPrefix"]) + shortHash(urn, 26)
	}, computed: func(f *FakeAWS, id string, _ map[string]any) map[string]any {
		return map[string]any{"bucket": id, "arn": "arn:aws:s3:::" + id, "bucketDomainName": id + ".s3.amazonaws.com", "region": f.region}
	}},
	"aws:s3/bucketOwnershipControls:BucketOwnershipControls":                                     {replaceOn: []string{"bucket"}, id: fromInput("bucket")},
	"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":                                     {replaceOn: []string{"bucket"}, id: fromInput("bucket")},
	"aws:s3/bucketVersioningV2:BucketVersioningV2":                                               {replaceOn: []string{"bucket"}, id: fromInput("bucket")},
	"aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2": {replaceOn: []string{"bucket"}, id: fromInput("bucket")},
	"aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2":                       {replaceOn: []string{"bucket"}, id: fromInput("bucket")},
	"aws:s3/bucketPolicy:BucketPolicy":                                                           {replaceOn: []string{"bucket"}, id: fromInput("bucket")},
	"aws:eks/cluster:Cluster": {autoname: "name", replaceOn: []string{"name", "roleArn", "encryptionConfig", "kubernetesNetworkConfig"}, id: fromInput("name"),
		computed: func(f *FakeAWS, id string, in map[string]any) map[string]any {
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
	"aws:eks/accessEntry:AccessEntry": {replaceOn: []string{"clusterName", "principalArn", "type"}, id: joined(":", "clusterName", "principalArn"),
		computed: func(f *FakeAWS, id string, in map[string]any) map[string]any {
			return map[string]any{"accessEntryArn": fmt.Sprintf("arn:aws:eks:%s:%s:access-entry/%s", f.region, FakeAccount, shortHash(id, 20))}
		}},
	"aws:eks/accessPolicyAssociation:AccessPolicyAssociation": {replaceOn: []string{"clusterName", "principalArn", "policyArn"}, id: joined("#", "clusterName", "principalArn", "policyArn"),
		computed: func(*FakeAWS, string, map[string]any) map[string]any {
			return map[string]any{"associatedAt": "2026-01-01T00:00:00Z"}
		}},
	"aws:eks/nodeGroup:NodeGroup": {autoname: "nodeGroupName", replaceOn: []string{"clusterName", "nodeGroupName", "subnetIds", "instanceTypes", "capacityType", "amiType", "nodeRoleArn", "diskSize"}, id: joined(":", "clusterName", "nodeGroupName"),
		computed: func(f *FakeAWS, id string, in map[string]any) map[string]any {
			return map[string]any{
				"arn":       fmt.Sprintf("arn:aws:eks:%s:%s:nodegroup/%s/%s", f.region, FakeAccount, strings.ReplaceAll(id, ":", "/"), shortHash(id, 8)),
				"status":    "ACTIVE",
				"resources": []any{map[string]any{"autoscalingGroups": []any{map[string]any{"name": "eks-" + fmt.Sprint(in["nodeGroupName"]) + "-" + shortHash(id, 8)}}}},
			}
		}},
	"aws:eks/addon:Addon": {replaceOn: []string{"clusterName", "addonName"}, id: joined(":", "clusterName", "addonName"),
		computed: func(f *FakeAWS, id string, _ map[string]any) map[string]any {
			return map[string]any{"arn": fmt.Sprintf("arn:aws:eks:%s:%s:addon/%s", f.region, FakeAccount, strings.ReplaceAll(id, ":", "/"))}
		}},
}

// outputs is the id and the outputs of r: its inputs plus what AWS computes.
// In a preview of a create the computed ones are unknown; an update keeps the
// computed values of olds (a launch template's latestVersion goes up by one).
func (f *FakeAWS) outputs(r *FakeResource, olds map[string]any, preview bool) (string, map[string]any) {
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
	computed := map[string]any{}
	if t.computed != nil {
		computed = t.computed(f, id, r.Inputs)
	}
	if !known {
		computed = map[string]any{"arn": fmt.Sprintf("arn:aws:%s:%s:%s:%s", strings.Split(strings.TrimPrefix(r.Type, "aws:"), "/")[0], f.region, FakeAccount, id)}
	}
	computed["id"] = id
	for k, v := range computed {
		switch {
		case olds != nil && k != "latestVersion" && olds[k] != nil:
			out[k] = olds[k]
		case olds != nil && k == "latestVersion":
			n, _ := olds[k].(float64)
			out[k] = n + 1
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

// caData is the base64 of a PEM, as EKS's certificateAuthority.data.
func caData(pem []byte) string { return base64.StdEncoding.EncodeToString(pem) }
