package infra

import "strings"

// Partition is the AWS partition of a region ("aws", "aws-cn", "aws-us-gov"),
// for building ARNs of AWS managed IAM policies and EKS access policies,
// whose partition segment differs outside the commercial regions.
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// managedPolicyArn is the ARN of an AWS managed IAM policy in partition.
func managedPolicyArn(partition, policy string) string {
	return "arn:" + partition + ":iam::aws:policy/" + policy
}
