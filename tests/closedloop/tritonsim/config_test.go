package tritonsim

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	good := func() Config {
		return Config{Models: pipeline(Model{}), Load: []Stream{{Model: "pipeline", Trace: Constant(1)}}}
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	for _, tc := range []struct {
		name   string
		modify func(*Config)
		want   []string
	}{
		{"no models", func(c *Config) { c.Models, c.Load = nil, nil }, []string{"models: at least one model is required"}},
		{"duplicate name", func(c *Config) { c.Models[2].Name = "a" }, []string{`models[2].name: "a" is used by an earlier model`}},
		{"negative instances", func(c *Config) { c.Models[0].Instances = -1 }, []string{"models[0].instances: must be >= 1 (instance_group.count"}},
		{"no compute", func(c *Config) { c.Models[0].Compute = Compute{} }, []string{"models[0].compute: a batch of 1 must take time"}},
		{"negative compute", func(c *Config) { c.Models[0].Compute.Output.PerItem = -ms }, []string{"models[0].compute.output: base and perItem must be >= 0"}},
		{"batching without batch size", func(c *Config) { c.Models[0].Batching = &DynamicBatching{} },
			[]string{"models[0].maxBatchSize: must be >= 1 with dynamic batching"}},
		{"negative queue policy", func(c *Config) {
			c.Models[0].MaxBatchSize = 4
			c.Models[0].Batching = &DynamicBatching{MaxQueueSize: -1, QueueTimeout: -time.Second, MaxQueueDelay: -ms}
		}, []string{"models[0].batching.maxQueueSize: must be >= 0", "models[0].batching.queueTimeout", "models[0].batching.maxQueueDelay"}},
		{"bad kind", func(c *Config) { c.Models[0].Kind = "KIND_TPU" }, []string{`models[0].kind: "KIND_TPU" is not one of`}},
		{"unknown step", func(c *Config) { c.Models[3].Steps[1] = "x" }, []string{`models[3].steps[1]: "x" is not a model in models`}},
		{"nested ensemble", func(c *Config) {
			c.Models = append(c.Models, Model{Name: "outer", Steps: []string{"pipeline"}})
		}, []string{`models[4].steps[0]: "pipeline" is an ensemble; nested ensembles are not simulated`}},
		{"ensemble with instances", func(c *Config) { c.Models[3].Instances = 2 }, []string{"models[3]: an ensemble (steps set) has no kind, instances"}},
		{"load on unknown model", func(c *Config) { c.Load[0].Model = "nope" }, []string{`load[0].model: "nope" is not a model in models`}},
		{"load without trace", func(c *Config) { c.Load[0].Trace = nil }, []string{"load[0].trace: is required"}},
		{"noise above 1", func(c *Config) { c.Load[0].Noise = 2 }, []string{"load[0].noise: must be a fraction in [0, 1]"}},
		{"bad arrivals", func(c *Config) { c.Load[0].Arrivals = "bursty" }, []string{`load[0].arrivals: "bursty" is not one of`}},
		{"bad routing", func(c *Config) { c.Routing = "sticky" }, []string{`routing: "sticky" is not one of "random", "round-robin", "least-pending"`}},
		{"bad removal", func(c *Config) { c.Removal = "evict" }, []string{`removal: "evict" is not one of "drain", "kill"`}},
		{"negative durations", func(c *Config) { c.ExitTimeout, c.TraceResolution = -1, -1 }, []string{"exitTimeout: must be >= 0", "traceResolution: must be >= 0"}},
		{"negative metrics interval", func(c *Config) { c.MetricsInterval = -time.Second }, []string{"metricsInterval: must be >= 0", "--metrics-interval-ms"}},
		{"negative counter scale", func(c *Config) { c.CounterScale = -2 }, []string{"counterScale: must be a finite number >= 0 (got -2; 0 means 1"}},
		{"NaN counter scale", func(c *Config) { c.CounterScale = math.NaN() }, []string{"counterScale: must be a finite number >= 0 (got NaN"}},
		{"infinite counter scale", func(c *Config) { c.CounterScale = math.Inf(1) }, []string{"counterScale: must be a finite number >= 0 (got +Inf"}},
		{"every error at once", func(c *Config) { c.Models[0].Instances = -1; c.Routing = "sticky" }, []string{"models[0].instances", "routing:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.modify(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("invalid config accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if _, err := New(c); err == nil || !strings.HasPrefix(err.Error(), "tritonsim config: ") {
				t.Errorf("New accepted an invalid config: %v", err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c := Config{Models: []Model{{Name: "m", Compute: Compute{Infer: Latency{Base: ms}}}, {Name: "e", Steps: []string{"m"}}},
		Load: []Stream{{Model: "m", Trace: Constant(1)}}}.withDefaults()
	m, e := c.Models[0], c.Models[1]
	if m.Version != 1 || m.Kind != KindGPU || m.Instances != 1 || e.Kind != "" || e.Instances != 0 {
		t.Errorf("models %+v %+v", m, e)
	}
	if got := e.Capacity(); got != 0 {
		t.Errorf("ensemble Capacity() = %v, want 0 (its slowest step's)", got)
	}
	if c.Routing != RouteRandom || c.Removal != RemovalDrain || c.ExitTimeout != 30*time.Second ||
		c.TraceResolution != time.Second || c.Load[0].Arrivals != ArrivalsPoisson ||
		c.MetricsInterval != 2*time.Second || c.CounterScale != 1 {
		t.Errorf("config defaults %+v", c)
	}
}
