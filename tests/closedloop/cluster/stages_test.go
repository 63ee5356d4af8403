package cluster

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/kwok-stages.yaml from kwokStages")

// The stages kwok plays, whole, as one file to read: kwokStages is put
// together from parts (one header per Stage, one block per node resource
// field), and this shows what they make. Regenerate with -update.
func TestKwokStagesGolden(t *testing.T) {
	golden := filepath.Join("testdata", "kwok-stages.yaml")
	if *update {
		if err := os.WriteFile(golden, []byte(kwokStages), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (create it with go test ./cluster -run TestKwokStagesGolden -update)", err)
	}
	if kwokStages != string(want) {
		t.Errorf("kwokStages differ from %s (run with -update if the change is meant):\n%s", golden, kwokStages)
	}
}
