package cluster

import (
	"math"
	"testing"
	"time"
)

func TestCompress(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		f    float64
		want time.Duration
	}{
		{15 * time.Second, 20, 750 * time.Millisecond}, // HPA sync period
		{30 * time.Second, 20, 1500 * time.Millisecond},
		{5 * time.Minute, 20, 15 * time.Second},
		{15 * time.Second, 1, 15 * time.Second},
		{time.Second, 3, 333 * time.Millisecond},       // rounded down to the ms
		{2 * time.Second, 3, 667 * time.Millisecond},   // rounded up to the ms
		{100 * time.Microsecond, 20, time.Millisecond}, // positive never becomes 0
		{0, 20, 0},
		{-15 * time.Second, 20, -750 * time.Millisecond},
		{time.Second, 0.5, 2 * time.Second},
	} {
		if got := Compress(tc.d, tc.f); got != tc.want {
			t.Errorf("Compress(%s, %g) = %s, want %s", tc.d, tc.f, got, tc.want)
		}
	}
}

func TestCompressPanicsOnBadFactor(t *testing.T) {
	for _, f := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Compress(1s, %g) did not panic", f)
				}
			}()
			Compress(time.Second, f)
		}()
	}
}

// The expected strings are what model.Duration.String (prometheus/common
// model/time.go) writes for the same values.
func TestFormatPromDuration(t *testing.T) {
	const day = 24 * time.Hour
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{999 * time.Microsecond, "0s"}, // truncated to ms
		{1500 * time.Microsecond, "1ms"},
		{750 * time.Millisecond, "750ms"},
		{6 * time.Second, "6s"},
		{1500 * time.Millisecond, "1s500ms"},
		{90 * time.Second, "1m30s"},
		{time.Hour, "1h"},
		{time.Hour + 30*time.Second, "1h30s"},
		{25 * time.Hour, "1d1h"},
		{7 * day, "1w"},
		{8 * day, "8d"}, // weeks only when exact
		{365 * day, "1y"},
		{-90 * time.Second, "-1m30s"},
	} {
		if got := FormatPromDuration(tc.d); got != tc.want {
			t.Errorf("FormatPromDuration(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
