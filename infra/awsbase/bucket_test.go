package awsbase

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBucketArgsDestroyPolicy(t *testing.T) {
	require.Equal(t, RetainOnDestroy, BucketArgs{}.withDefaults().OnDestroy, "data buckets are retained, not protected, by default")
	require.NoError(t, BucketArgs{}.withDefaults().Validate())
	require.ErrorContains(t, BucketArgs{OnDestroy: "delete"}.withDefaults().Validate(), `onDestroy: "delete" is not one of retain, protect`)
}
