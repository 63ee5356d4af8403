package realtier

import (
	"testing"
)

// Issue 24: the fake keeps the sample-model objects the program uploads, as
// the aws provider plans them (s3/object.go, aws_s3_object): the id is the
// key; a new key replaces; left-out Optional+Computed fields do not diff.
func TestFakeBucketObjectKeepsUploadedObjects(t *testing.T) {
	f := newTestFake()
	in := map[string]any{"bucket": "aiplatform-models-0123", "key": "models/id_card/config.pbtxt", "content": `name: "id_card"`,
		"contentType": "text/plain; charset=utf-8", "serverSideEncryption": "aws:kms", "kmsKeyId": "arn:aws:kms:us-west-2:123456789012:key/k"}
	obj := mustCreate(t, f, "aws:s3/bucketObjectv2:BucketObjectv2", "triton-sample-id_card-config.pbtxt", in)
	if obj.id != "models/id_card/config.pbtxt" || obj.state["arn"] != "arn:aws:s3:::aiplatform-models-0123/models/id_card/config.pbtxt" {
		t.Fatalf("id %q, arn %v", obj.id, obj.state["arn"])
	}
	if held := f.Resources("aws:s3/bucketObjectv2:BucketObjectv2"); len(held) != 1 || held[0].Inputs["content"] != `name: "id_card"` {
		t.Fatalf("the fake holds %+v", held)
	}
	if resp, _ := obj.diff(in); len(resp.GetDiffs()) != 0 {
		t.Errorf("the same inputs diff: %v", resp.GetDiffs())
	}
	moved := map[string]any{}
	for k, v := range in {
		moved[k] = v
	}
	moved["key"] = "teams/a/models/id_card/config.pbtxt"
	if resp, _ := obj.diff(moved); len(resp.GetReplaces()) == 0 {
		t.Errorf("a new key must replace the object, got diffs %v", resp.GetDiffs())
	}
	changed := map[string]any{}
	for k, v := range in {
		changed[k] = v
	}
	changed["content"] = `name: "id_card" # v2`
	if resp, _ := obj.diff(changed); len(resp.GetDiffs()) == 0 || len(resp.GetReplaces()) != 0 {
		t.Errorf("new content must update in place, got diffs %v replaces %v", resp.GetDiffs(), resp.GetReplaces())
	}
}
