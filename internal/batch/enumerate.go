package batch

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mlserve/mlserve/internal/s3io"
)

var errStop = errors.New("stop")

// enumerate sends this shard's inputs on out until done or ctx is
// cancelled, and returns how many it sent.
func (r *runner) enumerate(ctx context.Context, out chan<- item) (int, error) {
	n := 0
	send := func(it item) error {
		if ShardOf(it.rel, r.cfg.Shards) != r.cfg.Shard {
			return nil
		}
		select {
		case out <- it:
			n++
			return nil
		case <-ctx.Done():
			return errStop
		}
	}
	var err error
	switch {
	case len(r.cfg.Inputs) > 0:
		err = r.enumerateURIs(ctx, Manifest{Entries: dedupe(r.cfg.Inputs)}, send)
	case r.cfg.Manifest != "":
		err = r.enumerateManifest(ctx, send)
	default:
		var in s3io.Store
		if in, err = r.cfg.OpenStore(ctx, r.cfg.Input); err != nil {
			return 0, err
		}
		err = in.List(ctx, "", func(o s3io.Object) error {
			it := item{rel: o.Key, uri: s3io.JoinURL(r.cfg.Input, o.Key), store: in, key: o.Key, obj: o, listed: true}
			if o.Symlink {
				if it.refuse = linkFailure(it); it.refuse == nil { // it changed since the listing
					it.refuse = &Failure{Input: it.uri, Key: it.rel, Code: CodeSymlink, Message: "a symbolic link: links are not followed", Attempt: 1}
				}
			}
			return send(it)
		})
	}
	if errors.Is(err, errStop) || (err != nil && ctx.Err() != nil) {
		err = nil
	}
	return n, err
}

func (r *runner) enumerateManifest(ctx context.Context, send func(item) error) error {
	parent, key, err := s3io.Split(r.cfg.Manifest)
	if err != nil {
		return err
	}
	ms, err := r.cfg.OpenStore(ctx, parent)
	if err != nil {
		return err
	}
	rc, _, err := ms.Open(ctx, key)
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	m, err := ParseManifest(rc)
	rc.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", r.cfg.Manifest, err)
	}
	return r.enumerateURIs(ctx, m, send)
}

// enumerateURIs sends a manifest's inputs: first the entries that can never
// be read, each with its failure, then the others, named relative to the
// input prefix (or the manifest's base).
func (r *runner) enumerateURIs(ctx context.Context, m Manifest, send func(item) error) error {
	var refused []*Failure
	input := r.cfg.Input
	if m.Prefix != "" {
		m.Entries, refused = checkKeys(m.Prefix, m.Entries)
	} else {
		m.Entries, refused = checkEntries(m.Entries, input)
		if n, err := normalizeURI(input, true); input != "" && err == nil {
			input = n
		}
	}
	for _, f := range refused {
		if err := send(item{rel: f.Key, uri: f.Input, refuse: f}); err != nil {
			return err
		}
	}
	if len(m.Entries) == 0 {
		return nil
	}
	base, rels := ManifestInputs(m, input)
	store, err := r.cfg.OpenStore(ctx, base)
	if err != nil {
		return err
	}
	for _, rel := range rels {
		if err := send(item{rel: rel, uri: s3io.JoinURL(base, rel), store: store, key: rel}); err != nil {
			return err
		}
	}
	return nil
}

// ManifestInputs resolves a manifest to a base URL and keys relative to it:
// the SageMaker prefix, else input when every URI is under it, else the
// longest common folder of the URIs. Outputs are named by these keys.
func ManifestInputs(m Manifest, input string) (base string, rels []string) {
	if m.Prefix != "" {
		return m.Prefix, m.Entries
	}
	if input != "" {
		base = strings.TrimSuffix(input, "/") + "/"
		all := true
		for _, u := range m.Entries {
			if !strings.HasPrefix(u, base) || len(u) == len(base) {
				all = false
				break
			}
		}
		if !all {
			base = ""
		}
	}
	if base == "" && len(m.Entries) > 0 {
		base = m.Entries[0][:strings.LastIndex(m.Entries[0], "/")+1]
		for _, u := range m.Entries[1:] {
			for !strings.HasPrefix(u, base) {
				base = base[:strings.LastIndex(strings.TrimSuffix(base, "/"), "/")+1]
			}
		}
	}
	if base == "" {
		base = "."
	}
	rels = make([]string, len(m.Entries))
	for i, u := range m.Entries {
		rels[i] = strings.TrimPrefix(strings.TrimPrefix(u, base), "./")
	}
	return base, rels
}

// dedupe returns s without repeats, keeping the first of each.
func dedupe(s []string) []string {
	seen := make(map[string]bool, len(s))
	out := make([]string, 0, len(s))
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
