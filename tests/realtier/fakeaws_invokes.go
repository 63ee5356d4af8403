package realtier

import (
	"context"
	"fmt"
	"strings"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

// fakeInvokes are the data sources the program (stacks/run.go) and pulumi-eks
// v2.8.1 (nodejs/eks/cluster.ts: getPartition, getCallerIdentity, getRegion)
// call, answered for account FakeAccount as the role FakeCallerRole.
var fakeInvokes = map[string]func(f *FakeAWS, args map[string]any) map[string]any{
	"aws:index/getAvailabilityZones:getAvailabilityZones": func(f *FakeAWS, _ map[string]any) map[string]any {
		var names, ids []any
		for i, z := range []string{"a", "b", "c", "d"} {
			names = append(names, f.region+z)
			ids = append(ids, fmt.Sprintf("usw2-az%d", i+1))
		}
		return map[string]any{"id": f.region, "names": names, "zoneIds": ids, "groupNames": []any{f.region}}
	},
	"aws:index/getCallerIdentity:getCallerIdentity": func(*FakeAWS, map[string]any) map[string]any {
		role := FakeCallerRole[strings.LastIndex(FakeCallerRole, "/")+1:]
		return map[string]any{"id": FakeAccount, "accountId": FakeAccount, "userId": "AROAREALTIER:ci",
			"arn": fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/ci", FakeAccount, role)}
	},
	"aws:iam/getSessionContext:getSessionContext": func(_ *FakeAWS, args map[string]any) map[string]any {
		arn := fmt.Sprint(args["arn"])
		out := map[string]any{"id": arn, "arn": arn, "issuerArn": arn}
		// arn:aws:sts::<account>:assumed-role/<name>/<session> -> the role
		if i := strings.Index(arn, ":assumed-role/"); i >= 0 {
			rest := strings.SplitN(arn[i+len(":assumed-role/"):], "/", 2)
			out["issuerArn"] = fmt.Sprintf("arn:aws:iam::%s:role/%s", FakeAccount, rest[0])
			out["issuerName"] = rest[0]
			if len(rest) == 2 {
				out["sessionName"] = rest[1]
			}
		}
		return out
	},
	"aws:index/getPartition:getPartition": func(*FakeAWS, map[string]any) map[string]any {
		return map[string]any{"id": "aws", "partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws"}
	},
	"aws:index/getRegion:getRegion": func(f *FakeAWS, _ map[string]any) map[string]any {
		return map[string]any{"id": f.region, "name": f.region, "description": "US West (Oregon)", "endpoint": "ec2." + f.region + ".amazonaws.com"}
	},
}

// Invoke answers a data source; one the fake does not know is an error that
// names it, so a new invoke shows up as a failure, not as an empty answer.
func (f *FakeAWS) Invoke(_ context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	answer, ok := fakeInvokes[req.GetTok()]
	f.mu.Lock()
	f.record(Op{Kind: "invoke", Type: req.GetTok(), Inputs: req.GetArgs().AsMap()})
	f.mu.Unlock()
	if !ok {
		return &pulumirpc.InvokeResponse{Failures: []*pulumirpc.CheckFailure{{
			Reason: "the fake aws provider (tests/realtier/fakeaws_invokes.go) does not answer " + req.GetTok(),
		}}}, nil
	}
	out, err := structpb.NewStruct(answer(f, req.GetArgs().AsMap()))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.InvokeResponse{Return: out}, nil
}
