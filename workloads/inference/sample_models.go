package inference

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/aiplatform/infra/workloads/inference/samplemodels"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// SampleModelKeys are the object keys the sample repository is uploaded
// under, for a model prefix: <prefix>/<model>/config.pbtxt and so on.
func SampleModelKeys(prefix string) []string {
	var keys []string
	_ = fs.WalkDir(samplemodels.Repository(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			keys = append(keys, prefix+"/"+p)
		}
		return err
	})
	return keys
}

// emptyPrefixWarning is what the preview says when nothing fills the prefix:
// Triton's S3 filesystem takes an empty prefix for "not a directory"
// (triton-inference-server/core src/filesystem/implementations/s3.h,
// S3FileSystem::IsDirectory) and the server exits with "repository path is
// not a valid directory" (src/model_repository_manager/model_repository_manager.cc).
func emptyPrefixWarning(prefix string) string {
	return fmt.Sprintf("triton.sampleModels is off: Triton exits with \"repository path is not a valid directory\" and "+
		"crash-loops while s3://<modelBucketName>/%s/ is empty. Upload a model repository there before Triton starts "+
		"(`aiplatform models push DIR`), or set triton.sampleModels to true (docs/inference.md)", prefix)
}

// uploadSampleModels puts every file of the sample repository under prefix,
// encrypted with the bucket's key, and returns the objects: Triton's
// Deployment waits for them.
func uploadSampleModels(ctx *pulumi.Context, name string, bucket BucketRef, prefix string, opts ...pulumi.ResourceOption) ([]pulumi.Resource, error) {
	repo := samplemodels.Repository()
	var objects []pulumi.Resource
	err := fs.WalkDir(repo, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(repo, p)
		if err != nil {
			return err
		}
		contentType := "text/plain; charset=utf-8"
		if path.Ext(p) == ".py" {
			contentType = "text/x-python; charset=utf-8"
		}
		obj, err := s3.NewBucketObjectv2(ctx, name+"-sample-"+strings.ReplaceAll(p, "/", "-"), &s3.BucketObjectv2Args{
			Bucket:               bucket.Name,
			Key:                  pulumi.String(prefix + "/" + p),
			Content:              pulumi.String(string(body)),
			ContentType:          pulumi.String(contentType),
			ServerSideEncryption: pulumi.String("aws:kms"),
			KmsKeyId:             bucket.KMSKeyArn.ToStringOutput(),
		}, opts...)
		if err != nil {
			return err
		}
		objects = append(objects, obj)
		return nil
	})
	return objects, err
}
