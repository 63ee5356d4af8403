package realtier

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Tools are the absolute paths of the binaries the tier drives.
type Tools struct {
	Pulumi, KubernetesProvider, KubeAPIServer, Etcd string
}

// BinDir is where .ci/tools.sh installs the tools.
func BinDir() string {
	if dir := os.Getenv("AIPLATFORM_TOOLS"); dir != "" {
		return filepath.Join(dir, "bin")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "aiplatform-tools", "bin")
}

// FindTools looks in BinDir first, then on PATH, and reports every missing
// tool at once.
func FindTools() (Tools, error) {
	var errs []error
	find := func(name string) string {
		if dir := BinDir(); dir != "" {
			if p := filepath.Join(dir, name); isExecutable(p) {
				return p
			}
		}
		p, err := exec.LookPath(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: not in %s nor on PATH (run .ci/tools.sh)", name, BinDir()))
			return ""
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			errs = append(errs, err)
		}
		return abs
	}
	t := Tools{
		Pulumi:             find("pulumi"),
		KubernetesProvider: find("pulumi-resource-kubernetes"),
		KubeAPIServer:      find("kube-apiserver"),
		Etcd:               find("etcd"),
	}
	return t, errors.Join(errs...)
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// FindEKSPlugin finds pulumi-resource-eks (the npm package @pulumi/eks run by
// Node, installed by .ci/tools.sh) in BinDir, then on PATH. Only the
// platform scenario needs it, so it is not one of Tools.
func FindEKSPlugin() (string, error) {
	const name = "pulumi-resource-eks"
	if p := filepath.Join(BinDir(), name); isExecutable(p) {
		return p, nil
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s: not in %s nor on PATH (run .ci/tools.sh)", name, BinDir())
	}
	return filepath.Abs(p)
}
