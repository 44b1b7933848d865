package batch

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Manifest is a list of inputs given instead of an input prefix.
type Manifest struct {
	// Prefix is the SageMaker manifest's {"prefix": ...}; the entries are
	// then keys relative to it. Empty for a list of full URIs.
	Prefix  string
	Entries []string
}

// maxManifestBytes bounds the manifest read into memory.
const maxManifestBytes = 256 << 20

// ParseManifest reads either form of manifest:
//
//   - JSON Lines, one input per line: a JSON string ("s3://b/k.jpg"), an
//     object with "source-ref" (SageMaker augmented manifest), or the bare
//     URI; blank lines are ignored;
//   - the SageMaker S3 manifest, a JSON array whose first element is
//     {"prefix": "s3://b/p/"} and whose other elements are keys under it.
//
// Repeated entries are dropped, keeping the first.
func ParseManifest(r io.Reader) (Manifest, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxManifestBytes+1))
	if err != nil {
		return Manifest{}, fmt.Errorf("manifest: %w", err)
	}
	if len(data) > maxManifestBytes {
		return Manifest{}, fmt.Errorf("manifest: larger than %d bytes", maxManifestBytes)
	}
	var m Manifest
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("[")) {
		m, err = parseSageMaker(trimmed)
	} else {
		m.Entries, err = parseLines(data)
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("manifest: %w", err)
	}
	m.Entries = dedup(m.Entries)
	return m, nil
}

func parseSageMaker(data []byte) (Manifest, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Manifest{}, err
	}
	if len(raw) == 0 {
		return Manifest{}, errors.New(`empty array: want [{"prefix": "s3://bucket/prefix/"}, "key", ...]`)
	}
	var head struct {
		Prefix *string `json:"prefix"`
	}
	if err := json.Unmarshal(raw[0], &head); err != nil || head.Prefix == nil || *head.Prefix == "" {
		return Manifest{}, errors.New(`first element must be {"prefix": "s3://bucket/prefix/"}`)
	}
	m := Manifest{Prefix: *head.Prefix, Entries: make([]string, 0, len(raw)-1)}
	for i, r := range raw[1:] {
		var key string
		if err := json.Unmarshal(r, &key); err != nil {
			return Manifest{}, fmt.Errorf("element %d: want a key string", i+1)
		}
		if key = strings.TrimLeft(key, "/"); key == "" {
			return Manifest{}, fmt.Errorf("element %d: empty key", i+1)
		}
		m.Entries = append(m.Entries, key)
	}
	return m, nil
}

func parseLines(data []byte) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		var uri string
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, `"`):
			if err := json.Unmarshal([]byte(line), &uri); err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
		case strings.HasPrefix(line, "{"):
			var obj struct {
				SourceRef string `json:"source-ref"`
				URI       string `json:"uri"`
			}
			if err := json.Unmarshal([]byte(line), &obj); err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			uri = obj.SourceRef
			if uri == "" {
				uri = obj.URI
			}
		default:
			uri = line
		}
		if uri = strings.TrimSpace(uri); uri == "" {
			return nil, fmt.Errorf("line %d: no URI", n)
		}
		out = append(out, uri)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func dedup(s []string) []string {
	seen := make(map[string]bool, len(s))
	out := s[:0]
	for _, e := range s {
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
}
