// Command serveload measures a running `mlserve serve`: C concurrent
// clients each POST one image N times to /predict, one request at a time,
// and it prints the throughput and the latency percentiles:
//
//	serveload -url http://127.0.0.1:8080/predict -image dog.jpg -clients 8 -requests 6
//	clients=8 requests=48 img_per_s=17.17 p50_ms=463 p99_ms=753
//
// It compares server settings (MLSERVE_LANES) run by run; the numbers are
// only comparable within one session on one machine.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serveload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:8080/predict", "the server's /predict URL")
	image := fs.String("image", "", "image file each request sends (Content-Type image/jpeg)")
	clients := fs.Int("clients", 8, "concurrent clients")
	requests := fs.Int("requests", 8, "requests per client")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *image == "" || *clients < 1 || *requests < 1 {
		fmt.Fprintln(stderr, "serveload: -image is required; -clients and -requests must be at least 1")
		return 2
	}
	data, err := os.ReadFile(*image)
	if err != nil {
		fmt.Fprintf(stderr, "serveload: %v\n", err)
		return 1
	}
	r, err := load(context.Background(), *url, data, *clients, *requests)
	if err != nil {
		fmt.Fprintf(stderr, "serveload: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, r)
	return 0
}

// result is one load run.
type result struct {
	clients, requests int
	perSec            float64
	p50, p99          time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("clients=%d requests=%d img_per_s=%.2f p50_ms=%d p99_ms=%d",
		r.clients, r.requests, r.perSec, r.p50.Milliseconds(), r.p99.Milliseconds())
}

// load runs the clients; any failed request (transport error or a status
// other than 200) fails the run.
func load(ctx context.Context, url string, data []byte, clients, requests int) (result, error) {
	var (
		mu   sync.Mutex
		lat  []time.Duration
		errs []error
		wg   sync.WaitGroup
	)
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for range requests {
				t := time.Now()
				err := post(ctx, url, data)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					lat = append(lat, time.Since(t))
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(errs) > 0 {
		return result{}, fmt.Errorf("%d failed requests, first: %w", len(errs), errs[0])
	}
	slices.Sort(lat)
	return result{
		clients: clients, requests: len(lat), perSec: float64(len(lat)) / elapsed.Seconds(),
		p50: lat[len(lat)/2], p99: lat[(len(lat)*99)/100],
	}, nil
}

func post(ctx context.Context, url string, data []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "image/jpeg")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %.200s", resp.StatusCode, body)
	}
	return nil
}
