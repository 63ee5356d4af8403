package observability

import (
	"encoding/json"

	"github.com/aiplatform/infra/workloads"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// toValues turns plain data with json tags (adapter rules, alert groups)
// into chart values or custom resource fields, through its JSON form.
func toValues(v any) pulumi.Input {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain data only
	}
	var plain any
	if err := json.Unmarshal(b, &plain); err != nil {
		panic(err)
	}
	return toInput(plain)
}

func toInput(v any) pulumi.Input {
	switch x := v.(type) {
	case map[string]any:
		m := pulumi.Map{}
		for k, e := range x {
			m[k] = toInput(e)
		}
		return m
	case []any:
		a := pulumi.Array{}
		for _, e := range x {
			a = append(a, toInput(e))
		}
		return a
	case string:
		return pulumi.String(x)
	case bool:
		return pulumi.Bool(x)
	case float64:
		return pulumi.Float64(x)
	}
	return nil
}

// resources is a container's requests and limits; memory request and limit
// are equal where the working set is steady, so the scheduler's view is true.
type resources struct{ cpu, memory, cpuLimit, memoryLimit string }

func (r resources) values() pulumi.Map {
	return pulumi.Map{
		"requests": pulumi.Map{"cpu": pulumi.String(r.cpu), "memory": pulumi.String(r.memory)},
		"limits":   pulumi.Map{"cpu": pulumi.String(r.cpuLimit), "memory": pulumi.String(r.memoryLimit)},
	}
}

// systemPlacement puts a pod on the system nodes.
func systemPlacement(values pulumi.Map) pulumi.Map {
	values["nodeSelector"] = workloads.SystemNodeSelectorValues()
	values["tolerations"] = workloads.SystemTolerationValues()
	return values
}
