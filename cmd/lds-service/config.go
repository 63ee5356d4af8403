package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is the service's configuration, read from the environment (the
// Deployment's ConfigMap, ldsService.settings in the stack config).
type Config struct {
	Listen string
	// TritonURL is Triton's HTTP (KServe v2) endpoint.
	TritonURL *url.URL
	// Model is the model or ensemble every request runs; ModelVersion empty: Triton's policy.
	Model        string
	ModelVersion string
	// Input is the model input the image bytes go to, as a UINT8 tensor of shape [bytes].
	Input string
	// AttemptTimeout bounds one call to Triton; RequestTimeout the whole request, retries included.
	AttemptTimeout time.Duration
	RequestTimeout time.Duration
	// MaxRetries is the per-request retry limit; RetryRatio the share of
	// requests that may be retried across the service (the retry budget).
	MaxRetries int
	RetryRatio float64
	// MaxConcurrent requests are served at once; a request waits at most
	// AdmissionWait for a slot, then gets 429.
	MaxConcurrent int
	AdmissionWait time.Duration
	MaxImageBytes int64
	// RetryAfter is what 503 and 429 answers tell clients to wait.
	RetryAfter time.Duration
	// ReadyCache is how long a "model not ready" answer is trusted before
	// Triton is asked again.
	ReadyCache time.Duration
	// ShutdownDelay keeps serving after SIGTERM (with /readyz failing) while
	// the endpoints controller and the ALB stop sending traffic;
	// ShutdownTimeout then bounds draining the requests in flight.
	ShutdownDelay   time.Duration
	ShutdownTimeout time.Duration
	LogLevel        slog.Level
}

// setting is one row of the environment table: its default and how to parse it.
type setting struct {
	key, def, help string
	parse          func(c *Config, v string) error
}

func durationSetting(key, def, help string, dst func(*Config) *time.Duration) setting {
	return setting{key, def, help, func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("%q is not a duration like %s", v, def)
		}
		*dst(c) = d
		return nil
	}}
}

func intSetting(key, def, help string, min, max int64, dst func(*Config, int64)) setting {
	return setting{key, def, help, func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < min || n > max {
			return fmt.Errorf("%q must be a whole number between %d and %d", v, min, max)
		}
		dst(c, n)
		return nil
	}}
}

// settings is the one table of environment variables: loadConfig and the
// docs test derive from it.
var settings = []setting{
	{"LISTEN_ADDR", ":8080", "address the HTTP server listens on", func(c *Config, v string) error { c.Listen = v; return nil }},
	{"TRITON_URL", "", "Triton's HTTP endpoint, e.g. http://triton.triton.svc.cluster.local:8000 (required)", func(c *Config, v string) error {
		u, err := url.Parse(v)
		if v == "" {
			return errors.New("required, e.g. http://triton.triton.svc.cluster.local:8000")
		}
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%q is not an http(s) URL like http://triton.triton.svc.cluster.local:8000", v)
		}
		c.TritonURL = u
		return nil
	}},
	{"TRITON_MODEL", "id_card", "model or ensemble every request runs", func(c *Config, v string) error {
		if v == "" || strings.ContainsAny(v, "/ ?#") {
			return fmt.Errorf("%q is not a Triton model name", v)
		}
		c.Model = v
		return nil
	}},
	{"TRITON_MODEL_VERSION", "", "model version; empty: Triton's version policy", func(c *Config, v string) error {
		if v != "" {
			if n, err := strconv.Atoi(v); err != nil || n < 1 {
				return fmt.Errorf("%q is not a version number >= 1", v)
			}
		}
		c.ModelVersion = v
		return nil
	}},
	{"TRITON_INPUT", "IMAGE", "model input the image bytes are sent to (UINT8, shape [bytes])", func(c *Config, v string) error {
		if v == "" {
			return errors.New("required: the model's input name")
		}
		c.Input = v
		return nil
	}},
	durationSetting("TRITON_TIMEOUT", "5s", "timeout of one call to Triton", func(c *Config) *time.Duration { return &c.AttemptTimeout }),
	durationSetting("REQUEST_TIMEOUT", "15s", "timeout of a whole request, retries included", func(c *Config) *time.Duration { return &c.RequestTimeout }),
	intSetting("TRITON_MAX_RETRIES", "2", "retries of one request (unreachable, timeout, 5xx)", 0, 5, func(c *Config, n int64) { c.MaxRetries = int(n) }),
	{"RETRY_BUDGET_RATIO", "0.1", "retries allowed per request across the service (0-1)", func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			return fmt.Errorf("%q must be a number between 0 and 1", v)
		}
		c.RetryRatio = f
		return nil
	}},
	intSetting("MAX_CONCURRENT", "32", "requests served at once; more wait ADMISSION_WAIT, then get 429", 1, 10000, func(c *Config, n int64) { c.MaxConcurrent = int(n) }),
	durationSetting("ADMISSION_WAIT", "100ms", "how long a request waits for a free slot", func(c *Config) *time.Duration { return &c.AdmissionWait }),
	intSetting("MAX_IMAGE_BYTES", "8388608", "largest accepted image", 1024, 64<<20, func(c *Config, n int64) { c.MaxImageBytes = n }),
	durationSetting("RETRY_AFTER", "5s", "Retry-After of 503 and 429 answers", func(c *Config) *time.Duration { return &c.RetryAfter }),
	durationSetting("READY_CACHE", "2s", "how long a \"model not ready\" answer is trusted", func(c *Config) *time.Duration { return &c.ReadyCache }),
	durationSetting("SHUTDOWN_DELAY", "5s", "serving after SIGTERM with /readyz failing", func(c *Config) *time.Duration { return &c.ShutdownDelay }),
	durationSetting("SHUTDOWN_TIMEOUT", "20s", "bound on draining requests after SHUTDOWN_DELAY", func(c *Config) *time.Duration { return &c.ShutdownTimeout }),
	{"LOG_LEVEL", "info", "debug, info, warn or error", func(c *Config, v string) error {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return fmt.Errorf("%q is not one of debug, info, warn, error", v)
		}
		return nil
	}},
}

// loadConfig reads every setting, reporting all problems at once, each
// naming its variable.
func loadConfig(getenv func(string) string) (Config, error) {
	var c Config
	var errs []error
	for _, s := range settings {
		v := strings.TrimSpace(getenv(s.key))
		if v == "" {
			v = s.def
		}
		if err := s.parse(&c, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", s.key, err))
		}
	}
	if c.RequestTimeout < c.AttemptTimeout {
		errs = append(errs, fmt.Errorf("REQUEST_TIMEOUT: must be >= TRITON_TIMEOUT (%s), got %s", c.AttemptTimeout, c.RequestTimeout))
	}
	if c.AttemptTimeout == 0 {
		errs = append(errs, errors.New("TRITON_TIMEOUT: must be > 0; a call without a timeout can hang"))
	}
	return c, errors.Join(errs...)
}
