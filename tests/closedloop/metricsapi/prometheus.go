package metricsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aiplatform/infra/tests/closedloop/cluster"
	"github.com/aiplatform/infra/tests/closedloop/internal/proc"
)

// Prometheus is a running prometheus binary.
type Prometheus struct {
	// URL is its HTTP API, http://127.0.0.1:<port>.
	URL    string
	proc   *proc.Process
	client *http.Client
}

// PrometheusRetention is how long the loop's Prometheus keeps samples: a
// scenario's run, with room.
const PrometheusRetention = 6 * time.Hour

// Prometheus' own time constants the loop compresses (cmd/prometheus/main.go
// of v3.16.0: --query.lookback-delta default 5m, the hidden
// --scrape.discovery-reload-interval default 5s).
const (
	prometheusLookbackDelta   = 5 * time.Minute
	prometheusDiscoveryReload = 5 * time.Second
)

// PrometheusArgs are the flags that compress Prometheus' own time constants
// by f: how far back an instant query looks for a sample, and how often the
// scrape manager applies discovered target changes. Pass them to
// StartPrometheus as extra arguments.
func PrometheusArgs(f float64) ([]string, error) {
	if err := checkFactor("compression", f); err != nil {
		return nil, err
	}
	return []string{
		"--query.lookback-delta=" + cluster.FormatPromDuration(cluster.Compress(prometheusLookbackDelta, f)),
		"--scrape.discovery-reload-interval=" + cluster.FormatPromDuration(cluster.Compress(prometheusDiscoveryReload, f)),
	}, nil
}

// StartPrometheus runs bin (Prometheus v3) with cfg as its configuration
// file and dir (created if missing) as its working and storage directory,
// on a free loopback port, and returns once /-/ready answers 200.
// extraArgs are appended to the flags: pass PrometheusArgs(F) so that
// Prometheus' own time constants are compressed too. logf, when set, gets
// one line per milestone.
//
// Kept light: no remote write or OTLP receivers, no admin or lifecycle
// API (all off by default); the web UI cannot be turned off in v3 and costs
// nothing until requested. --storage.tsdb.retention.time is deprecated in
// v3.16 in favour of the config file's storage.tsdb.retention.time, and
// still serves as the default when the file has none (main.go).
func StartPrometheus(ctx context.Context, bin, dir string, cfg []byte, logf func(string, ...any), extraArgs ...string) (*Prometheus, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := append([]string{
		"--config.file=" + cfgPath,
		"--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--storage.tsdb.retention.time=" + cluster.FormatPromDuration(PrometheusRetention),
		"--web.listen-address=" + addr,
		"--log.level=info",
	}, extraArgs...)
	p := &Prometheus{URL: "http://" + addr, client: &http.Client{Timeout: 10 * time.Second}}
	if p.proc, err = startProcess(ctx, "prometheus", bin, dir, args, p.client, p.URL+"/-/ready"); err != nil {
		return nil, err
	}
	logf("prometheus ready at %s (config %s)", p.URL, cfgPath)
	return p, nil
}

// Stop ends the process (SIGTERM, then SIGKILL after 10s).
func (p *Prometheus) Stop() { p.proc.Stop(10 * time.Second) }

// Logs is the newest maxBytes of its output (all when maxBytes <= 0).
func (p *Prometheus) Logs(maxBytes int) string { return p.proc.Tail(maxBytes) }

// Sample is one element of an instant query's result.
type Sample struct {
	Labels map[string]string
	Value  float64
	Time   time.Time
}

// apiResponse is the envelope of Prometheus' HTTP API (docs/querying/api.md).
type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
}

// Query runs an instant query through /api/v1/query at time at (the
// server's now when at is zero). A vector gives one Sample per series; a
// scalar one Sample without labels.
func (p *Prometheus) Query(ctx context.Context, promql string, at time.Time) ([]Sample, error) {
	v := url.Values{"query": {promql}}
	if !at.IsZero() {
		v.Set("time", strconv.FormatFloat(float64(at.UnixMilli())/1e3, 'f', 3, 64))
	}
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := p.get(ctx, "/api/v1/query?"+v.Encode(), &data); err != nil {
		return nil, fmt.Errorf("query %q: %w", promql, err)
	}
	switch data.ResultType {
	case "vector":
		var series []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(data.Result, &series); err != nil {
			return nil, fmt.Errorf("query %q: vector result: %w", promql, err)
		}
		out := make([]Sample, 0, len(series))
		for _, s := range series {
			t, val, err := parsePoint(s.Value)
			if err != nil {
				return nil, fmt.Errorf("query %q: %w", promql, err)
			}
			out = append(out, Sample{Labels: s.Metric, Value: val, Time: t})
		}
		return out, nil
	case "scalar":
		var point [2]any
		if err := json.Unmarshal(data.Result, &point); err != nil {
			return nil, fmt.Errorf("query %q: scalar result: %w", promql, err)
		}
		t, val, err := parsePoint(point)
		if err != nil {
			return nil, fmt.Errorf("query %q: %w", promql, err)
		}
		return []Sample{{Labels: map[string]string{}, Value: val, Time: t}}, nil
	default:
		return nil, fmt.Errorf("query %q: result type %q; Query takes an instant vector or scalar expression (a range vector needs a function like rate)", promql, data.ResultType)
	}
}

// Target is one active scrape target (/api/v1/targets).
type Target struct {
	Labels     map[string]string `json:"labels"`
	ScrapeURL  string            `json:"scrapeUrl"`
	Health     string            `json:"health"`
	LastError  string            `json:"lastError"`
	LastScrape time.Time         `json:"lastScrape"`
}

// Targets lists the active targets, for waiting on discovery and for
// failure messages.
func (p *Prometheus) Targets(ctx context.Context) ([]Target, error) {
	var data struct {
		ActiveTargets []Target `json:"activeTargets"`
	}
	if err := p.get(ctx, "/api/v1/targets?state=active", &data); err != nil {
		return nil, err
	}
	return data.ActiveTargets, nil
}

func (p *Prometheus) get(ctx context.Context, path string, data any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+path, nil)
	if err != nil {
		return err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("%s: %s", resp.Status, truncate(string(body), 512))
	}
	if r.Status != "success" {
		return fmt.Errorf("%s: %s: %s", resp.Status, r.ErrorType, r.Error)
	}
	return json.Unmarshal(r.Data, data)
}

// parsePoint reads [<unix seconds>, "<value>"].
func parsePoint(p [2]any) (time.Time, float64, error) {
	ts, ok := p[0].(float64)
	vs, ok2 := p[1].(string)
	if !ok || !ok2 {
		return time.Time{}, 0, fmt.Errorf("sample %v is not [<unix time>, \"<value>\"]", p)
	}
	v, err := parsePromFloat(vs)
	if err != nil {
		return time.Time{}, 0, err
	}
	sec, frac := math.Modf(ts)
	return time.Unix(int64(sec), int64(math.Round(frac*1e3))*int64(time.Millisecond)), v, nil
}

// parsePromFloat reads Prometheus' value strings ("+Inf", "NaN" included,
// which strconv spells the same way).
func parsePromFloat(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, errors.New("sample value " + strconv.Quote(s) + " is not a number")
	}
	return v, nil
}

func truncate(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
