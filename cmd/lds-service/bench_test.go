package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchmarkOverhead measures what the service adds in front of Triton: the
// same image is sent N times straight to a fake Triton with a fixed 5ms
// model latency, and N times through the service, both on loopback with 8
// concurrent clients. It reports p50 and p99 of each and their difference,
// the service's overhead (JSON and base64 decoding, admission, the binary
// tensor request, metrics). Bounded in count and time:
//
//	go test -run '^$' -bench Overhead -benchtime 2000x -cpu 2 ./cmd/lds-service
func BenchmarkOverhead(b *testing.B) {
	const clients = 8
	triton := newFakeTriton(b, "id_card")
	triton.latency = 5 * time.Millisecond
	svc := newTestService(b, triton.URL, map[string]string{"MAX_CONCURRENT": "64", "LOG_LEVEL": "error"})
	image := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{3}, 256<<10)...)
	payload, _ := json.Marshal(map[string]string{"image": base64.StdEncoding.EncodeToString(image)})
	header, _ := json.Marshal(map[string]any{"inputs": []map[string]any{{
		"name": "IMAGE", "datatype": "UINT8", "shape": []int{len(image)},
		"parameters": map[string]any{"binary_data_size": len(image)},
	}}})
	direct := append(append([]byte{}, header...), image...)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 10 * time.Second}

	run := func(n int, do func() (*http.Response, error)) []time.Duration {
		var mu sync.Mutex
		lat := make([]time.Duration, 0, n)
		work := make(chan struct{}, n)
		for range n {
			work <- struct{}{}
		}
		close(work)
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for range work {
					start := time.Now()
					resp, err := do()
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					d := time.Since(start)
					if resp.StatusCode != http.StatusOK {
						b.Errorf("HTTP %d", resp.StatusCode)
						return
					}
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		return lat
	}
	pct := func(lat []time.Duration, p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))]
	}
	b.ResetTimer()
	viaTriton := run(b.N, func() (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodPost, triton.URL+"/v2/models/id_card/infer", bytes.NewReader(direct))
		req.Header.Set("Inference-Header-Content-Length", strconv.Itoa(len(header)))
		return client.Do(req)
	})
	viaService := run(b.N, func() (*http.Response, error) {
		return client.Post(svc.url+routeRecognize, "application/json", bytes.NewReader(payload))
	})
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(pct(viaTriton, 0.50)), "triton-p50-ms")
	b.ReportMetric(ms(pct(viaTriton, 0.99)), "triton-p99-ms")
	b.ReportMetric(ms(pct(viaService, 0.50)), "service-p50-ms")
	b.ReportMetric(ms(pct(viaService, 0.99)), "service-p99-ms")
	b.ReportMetric(ms(pct(viaService, 0.50)-pct(viaTriton, 0.50)), "overhead-p50-ms")
	b.ReportMetric(ms(pct(viaService, 0.99)-pct(viaTriton, 0.99)), "overhead-p99-ms")
	b.ReportMetric(0, "ns/op")
}
