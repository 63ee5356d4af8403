package infra

import "regexp"

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// IsDNSLabel reports whether s is a valid RFC 1123 label (namespaces, node group names).
func IsDNSLabel(s string) bool { return dnsLabel.MatchString(s) }

// mergeTags returns base overlaid with extra; neither input is modified.
func mergeTags(base map[string]string, extra map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(extra))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}
