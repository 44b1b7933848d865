package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/spf13/pflag"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/client"
	"github.com/mlserve/mlserve/internal/config"
)

// remoteOptions are classify's flags for an endpoint.
type remoteOptions struct {
	Endpoint       string
	Auth           string // auto, sigv4, bearer, none
	Token          string
	FullResolution bool
}

func (o *remoteOptions) addFlags(fs *pflag.FlagSet, env *config.Config) {
	fs.StringVar(&o.Endpoint, "endpoint", env.Endpoint, "send the images to this mlserve endpoint (serve, API Gateway, Function URL) instead of classifying locally (env MLSERVE_ENDPOINT)")
	fs.StringVar(&o.Auth, "auth", "auto", "with --endpoint: sigv4 (default AWS credential chain), bearer (MLSERVE_TOKEN), none, or auto: bearer with a token, sigv4 for an AWS host, else none")
	fs.BoolVar(&o.FullResolution, "full-resolution", false, "with --endpoint: send images unchanged rather than shrunk to what the model needs")
	o.Token = env.Token
}

// newClient builds the endpoint client of o.
func (o remoteOptions) newClient(ctx context.Context, topK, maxPixels int) (*client.Client, error) {
	u, err := url.Parse(o.Endpoint)
	if err != nil {
		return nil, usageErrorf("--endpoint %q: %w", o.Endpoint, err)
	}
	_, _, onAWS := client.AWSHost(u.Host)
	mode := strings.ToLower(o.Auth)
	if mode == "auto" {
		switch {
		case o.Token != "":
			mode = "bearer"
		case onAWS:
			mode = "sigv4"
		default:
			mode = "none"
		}
	}
	var auth client.Auth
	switch mode {
	case "none":
	case "bearer":
		if o.Token == "" {
			return nil, usageErrorf("--auth bearer: set MLSERVE_TOKEN to the token")
		}
		auth = client.Bearer(o.Token)
	case "sigv4":
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("aws config: %w", err)
		}
		auth = client.NewSigV4(cfg.Credentials, u.Host, cfg.Region)
	default:
		return nil, usageErrorf("--auth %q: want auto, sigv4, bearer or none", o.Auth)
	}
	c, err := client.New(client.Options{Endpoint: o.Endpoint, Auth: auth, TopK: topK, MaxPixels: maxPixels, FullResolution: o.FullResolution})
	if err != nil {
		return nil, usageErrorf("--endpoint: %w", err)
	}
	return c, nil
}

// remoteParallel is how many images are in flight to the endpoint at once.
const remoteParallel = 4

// runRemoteClassify classifies names through the endpoint, a few at a
// time, and prints the results in order as local classify does.
func runRemoteClassify(ctx context.Context, opts classifyOptions, names []string) error {
	c, err := opts.Remote.newClient(ctx, opts.TopK, opts.MaxPixels)
	if err != nil {
		return err
	}
	rep := &reporter{opts: opts}
	for start := 0; start < len(names); start += remoteParallel {
		window := names[start:min(start+remoteParallel, len(names))]
		results := make([]api.Result, len(window))
		sizes := make([]int, len(window))
		var wg sync.WaitGroup
		for i, name := range window {
			data, err := readInput(name, opts.In) // stdin is read here, once
			sizes[i] = len(data)
			if err != nil {
				results[i] = api.Failed("", api.CodeReadFailed, err.Error())
				continue
			}
			wg.Go(func() {
				r, _, err := c.Classify(ctx, data)
				if err != nil {
					r = api.Failed("", remoteCode(err), err.Error())
				}
				results[i] = r
			})
		}
		wg.Wait()
		for i, name := range window {
			if err := rep.report(name, sizes[i], results[i]); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return &InterruptedError{Err: err}
		}
	}
	return rep.done(len(names))
}

func remoteCode(err error) string {
	var e *client.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "request_failed"
}
