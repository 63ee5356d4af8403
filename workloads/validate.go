package workloads

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/aiplatform/infra/infra"
)

var (
	quantityPattern = regexp.MustCompile(`^(\d+(\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$`)
	EnvNamePattern  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	imageRefPattern = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$`)
)

var quantityScale = map[string]float64{
	"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
	"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
}

// ParseQuantity reads a Kubernetes resource quantity ("500m", "2", "16Gi").
func ParseQuantity(s string) (float64, bool) {
	m := quantityPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	return n * quantityScale[m[3]], true
}

// FormatBytes prints a byte count as a quantity in the largest binary unit
// that divides it exactly ("51Gi", "1536Mi").
func FormatBytes(b float64) string {
	n := int64(b)
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// PinnedImage reports whether ref is an image reference pinned to a tag other
// than latest or to a digest, so a rollout is always an explicit change.
func PinnedImage(ref string) bool {
	if !imageRefPattern.MatchString(ref) {
		return false
	}
	if strings.Contains(ref, "@sha256:") {
		return true
	}
	last := ref[strings.LastIndex(ref, "/")+1:]
	_, tag, ok := strings.Cut(last, ":")
	return ok && tag != "latest"
}

// IsNamespaceName reports whether s can name a namespace.
func IsNamespaceName(s string) bool { return infra.IsDNSLabel(s) }

// reservedNamespaces belong to Kubernetes or to the platform's add-ons.
var reservedNamespaces = map[string]bool{
	"default": true, "kube-system": true, "kube-public": true, "kube-node-lease": true, ArgoCDNamespace: true,
}

// ArgoCDNamespace is where Argo CD runs; Applications live there too. It is
// here, not in gitops, because no workload may take it.
const ArgoCDNamespace = "argocd"

// IsReservedNamespace reports whether workloads must not use namespace s.
func IsReservedNamespace(s string) bool { return reservedNamespaces[s] }
