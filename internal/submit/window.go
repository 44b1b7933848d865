package submit

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/mlserve/mlserve/internal/imageprep"
)

// Object is one uploaded object a window may take.
type Object struct {
	Bucket, Key string
}

// Skipped is an object or record a window did not take, and why.
type Skipped struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

// Window gathers the uploads of one batching window (one Lambda
// invocation): it keeps each bucket/key once, in arrival order, and drops
// what no job should see. Owners (SQS message ids) are kept per object, so
// a failed submission can name the messages whose uploads it lost.
type Window struct {
	// InputPrefix is the key prefix uploads must be under ("" takes every key).
	InputPrefix string

	buckets []*Group
	index   map[Object]int // into its group's Keys
	Skipped []Skipped
}

// Group is the deduplicated keys of one bucket, with the owners of each.
type Group struct {
	Bucket string
	Keys   []string
	Owners [][]string // Owners[i] are the owners that named Keys[i]
}

// AddRecord takes an S3 event notification's object key as S3 sends it
// (form-encoded: "+" is a space). It reports whether the window took it;
// skip reasons are in Skipped.
func (w *Window) AddRecord(bucket, rawKey, owner string) bool {
	// S3 form-encodes keys in notifications: "+" is a space.
	key, err := url.QueryUnescape(rawKey)
	if err != nil {
		w.Skip(bucket, rawKey, "key is not URL-encoded as S3 encodes it: "+err.Error())
		return false
	}
	return w.Add(bucket, key, owner)
}

// Add takes a decoded key. It reports whether the window took it.
func (w *Window) Add(bucket, key, owner string) bool {
	switch {
	case bucket == "" || key == "":
		w.Skip(bucket, key, "record has no bucket or key")
		return false
	case !strings.HasPrefix(key, w.InputPrefix):
		w.Skip(bucket, key, fmt.Sprintf("key is outside the input prefix %q", w.InputPrefix))
		return false
	case strings.HasSuffix(key, "/"):
		w.Skip(bucket, key, "key is a folder marker")
		return false
	case !imageprep.HasImageExt(key):
		w.Skip(bucket, key, "not an image file name (want .jpg, .jpeg, .jpe, .jfif, .png, .gif, .webp, .bmp, .tif or .tiff)")
		return false
	}
	if w.index == nil {
		w.index = map[Object]int{}
	}
	g := w.group(bucket)
	o := Object{bucket, key}
	if i, ok := w.index[o]; ok {
		// S3 and SQS may repeat a record: the job takes each key once.
		if owner != "" && !slices.Contains(g.Owners[i], owner) {
			g.Owners[i] = append(g.Owners[i], owner)
		}
		return true
	}
	w.index[o] = len(g.Keys)
	g.Keys = append(g.Keys, key)
	var owners []string
	if owner != "" {
		owners = []string{owner}
	}
	g.Owners = append(g.Owners, owners)
	return true
}

// Skip records something the window does not take.
func (w *Window) Skip(bucket, key, reason string) {
	w.Skipped = append(w.Skipped, Skipped{Bucket: bucket, Key: key, Reason: reason})
}

func (w *Window) group(bucket string) *Group {
	for _, g := range w.buckets {
		if g.Bucket == bucket {
			return g
		}
	}
	g := &Group{Bucket: bucket}
	w.buckets = append(w.buckets, g)
	return g
}

// Groups returns the window's keys by bucket, in arrival order.
func (w *Window) Groups() []*Group { return w.buckets }

// Images is the number of distinct objects taken.
func (w *Window) Images() int {
	n := 0
	for _, g := range w.buckets {
		n += len(g.Keys)
	}
	return n
}

// AllOwners returns the sorted, distinct owners of every key of g.
func (g *Group) AllOwners() []string {
	set := map[string]bool{}
	for _, os := range g.Owners {
		for _, o := range os {
			set[o] = true
		}
	}
	out := make([]string, 0, len(set))
	for o := range set {
		out = append(out, o)
	}
	sort.Strings(out)
	return out
}
