package cluster

import (
	"fmt"
	"math"
	"time"
)

// Compress divides a time constant of the loop by the compression factor f,
// so that a loop run F times faster keeps every ratio between its periods,
// windows and delays. The result is rounded to the nearest millisecond, the
// finest unit Prometheus durations and kwok delays take, so every component
// sees the same value; a positive d never compresses to zero (1ms at least).
// f must be a finite number > 0; anything else is a programming error and
// panics (Options.Validate reports a bad Compression before it gets here).
func Compress(d time.Duration, f float64) time.Duration {
	if !(f > 0) || math.IsInf(f, 1) {
		panic(fmt.Sprintf("cluster.Compress: factor must be a finite number > 0, got %v", f))
	}
	c := time.Duration(math.Round(float64(d)/f/float64(time.Millisecond))) * time.Millisecond
	if c == 0 && d > 0 {
		return time.Millisecond
	}
	return c
}

// FormatPromDuration writes d the way Prometheus writes a duration: the same
// text as model.Duration.String in github.com/prometheus/common
// (model/time.go), e.g. "750ms", "6s", "1m30s", "2d", "1w"; units go from
// the largest to the smallest, years and weeks only when they divide d
// exactly, and d is truncated to whole milliseconds ("0s" below 1ms).
// Negative durations get a leading "-" (PromQL offsets accept them; config
// fields do not).
func FormatPromDuration(d time.Duration) string {
	ms := int64(d / time.Millisecond)
	if ms == 0 {
		return "0s"
	}
	sign := ""
	if ms < 0 {
		sign, ms = "-", -ms
	}
	const (
		second = 1000
		minute = 60 * second
		hour   = 60 * minute
		day    = 24 * hour
	)
	units := []struct {
		name  string
		ms    int64
		exact bool // only when it divides what is left
	}{
		{"y", 365 * day, true},
		{"w", 7 * day, true},
		{"d", day, false},
		{"h", hour, false},
		{"m", minute, false},
		{"s", second, false},
		{"ms", 1, false},
	}
	out := sign
	for _, u := range units {
		if u.exact && ms%u.ms != 0 {
			continue
		}
		if v := ms / u.ms; v > 0 {
			out += fmt.Sprintf("%d%s", v, u.name)
			ms -= v * u.ms
		}
	}
	return out
}
