// Package storetest is the conformance suite every s3io.Store backend passes.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/mlserve/mlserve/internal/s3io"
)

// Run checks that the stores newStore returns behave as s3io.Store
// documents. newStore must return an empty store on each call.
func Run(t *testing.T, newStore func(t *testing.T) s3io.Store) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, ctx context.Context, newStore func(t *testing.T) s3io.Store)
	}{
		{"Missing", testMissing},
		{"RoundTrip", testRoundTrip},
		{"Overwrite", testOverwrite},
		{"Atomic", testAtomic},
		{"Large", testLarge},
		{"List", testList},
		{"ListPages", testListPages},
		{"InvalidKeys", testInvalidKeys},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, context.Background(), newStore) })
	}
}

func testMissing(t *testing.T, ctx context.Context, newStore func(t *testing.T) s3io.Store) {
	s := newStore(t)
	if _, err := s.Stat(ctx, "nope.txt"); !errors.Is(err, s3io.ErrNotExist) {
		t.Errorf("Stat missing: err = %v, want ErrNotExist", err)
	}
	if _, _, err := s.Open(ctx, "dir/nope.txt"); !errors.Is(err, s3io.ErrNotExist) {
		t.Errorf("Open missing: err = %v, want ErrNotExist", err)
	}
	if ok, err := s3io.Exists(ctx, s, "nope.txt"); ok || err != nil {
		t.Errorf("Exists missing = %v, %v; want false, nil", ok, err)
	}
	n := 0
	if err := s.List(ctx, "", func(s3io.Object) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("List empty store: %d objects, err %v", n, err)
	}
}

func testRoundTrip(t *testing.T, ctx context.Context, newStore func(t *testing.T) s3io.Store) {
	s := newStore(t)
	tests := []struct {
		name string
		key  string
		data []byte
		size int64 // -1: unknown
	}{
		{"small", "a.txt", []byte("hello"), 5},
		{"empty", "zero.bin", nil, 0},
		{"unknown size", "dir/b.bin", []byte("unknown size"), -1},
		{"space and unicode", "with space/ünï cødé 猫.jpg", []byte("cat"), 3},
		{"deep", "deep/a/b/c.txt", []byte("deep"), 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Put(ctx, tt.key, bytes.NewReader(tt.data), tt.size); err != nil {
				t.Fatalf("Put: %v", err)
			}
			got, obj := read(t, s, tt.key)
			if !bytes.Equal(got, tt.data) {
				t.Errorf("Open read %q, want %q", got, tt.data)
			}
			st, err := s.Stat(ctx, tt.key)
			if err != nil {
				t.Fatalf("Stat: %v", err)
			}
			if st.Key != tt.key || st.Size != int64(len(tt.data)) || st.ETag == "" {
				t.Errorf("Stat = %+v, want key %q size %d and an ETag", st, tt.key, len(tt.data))
			}
			if obj.Key != st.Key || obj.Size != st.Size || obj.ETag != st.ETag {
				t.Errorf("Open object %+v differs from Stat %+v", obj, st)
			}
		})
	}
}

func testOverwrite(t *testing.T, ctx context.Context, newStore func(t *testing.T) s3io.Store) {
	s := newStore(t)
	put(t, s, "k.json", "first version")
	before, _ := s.Stat(ctx, "k.json")
	put(t, s, "k.json", "second, longer version")
	after, err := s.Stat(ctx, "k.json")
	if err != nil {
		t.Fatal(err)
	}
	if before.ETag == after.ETag {
		t.Errorf("ETag %q did not change on overwrite", after.ETag)
	}
	if got, _ := read(t, s, "k.json"); string(got) != "second, longer version" {
		t.Errorf("read %q after overwrite", got)
	}
}

func testAtomic(t *testing.T, ctx context.Context, newStore func(t *testing.T) s3io.Store) {
	s := newStore(t)
	put(t, s, "k", "old")
	// A reader that fails half way must leave the old object in place.
	bad := io.MultiReader(strings.NewReader("new partial"), iotest.ErrReader(errors.New("boom")))
	if err := s.Put(ctx, "k", bad, -1); err == nil {
		t.Fatal("Put with a failing reader succeeded")
	}
	if err := s.Put(ctx, "k", strings.NewReader("short"), 100); err == nil {
		t.Fatal("Put with fewer bytes than size succeeded")
	}
	if got, _ := read(t, s, "k"); string(got) != "old" {
		t.Errorf("after failed Puts read %q, want %q", got, "old")
	}
	n := 0
	s.List(ctx, "", func(o s3io.Object) error { n++; return nil })
	if n != 1 {
		t.Errorf("after failed Puts List has %d objects, want 1 (no temp files)", n)
	}
}

func testLarge(t *testing.T, ctx context.Context, newStore func(t *testing.T) s3io.Store) {
	s := newStore(t)
	// Above PartSize, so S3 takes the multipart path.
	data := make([]byte, s3io.PartSize+123457)
	rand.New(rand.NewSource(1)).Read(data)
	for _, size := range []int64{int64(len(data)), -1} {
		key := fmt.Sprintf("large/%d.bin", size)
		if err := s.Put(ctx, key, bytes.NewReader(data), size); err != nil {
			t.Fatalf("Put size %d: %v", size, err)
		}
		got, obj := read(t, s, key)
		if !bytes.Equal(got, data) || obj.Size != int64(len(data)) {
			t.Errorf("size %d: read %d bytes (object size %d), want %d identical", size, len(got), obj.Size, len(data))
		}
	}
}

func testList(t *testing.T, ctx context.Context, newStore func(t *testing.T) s3io.Store) {
	s := newStore(t)
	keys := []string{"b.jpg", "a.jpg", "dir/x.png", "dir/sub/y.gif", "dir-file.txt", "with space/ü.jpg", "z"}
	for _, k := range keys {
		put(t, s, k, "data of "+k)
	}
	all := slices.Clone(keys)
	slices.Sort(all)
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", all},
		{"dir/", []string{"dir/sub/y.gif", "dir/x.png"}},
		{"dir", []string{"dir-file.txt", "dir/sub/y.gif", "dir/x.png"}},
		{"with space/", []string{"with space/ü.jpg"}},
		{"dir/sub/y", []string{"dir/sub/y.gif"}},
		{"nothing/", nil},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			var got []string
			err := s.List(ctx, tt.prefix, func(o s3io.Object) error {
				got = append(got, o.Key)
				st, err := s.Stat(ctx, o.Key)
				if err != nil {
					return err
				}
				if o.Size != st.Size || o.ETag != st.ETag || o.Size != int64(len("data of "+o.Key)) {
					t.Errorf("List %+v, Stat %+v", o, st)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("List(%q) = %q, want %q", tt.prefix, got, tt.want)
			}
		})
	}
	stop := errors.New("stop")
	n := 0
	if err := s.List(ctx, "", func(s3io.Object) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("List stopped by fn: %d calls, err %v", n, err)
	}
}

func testListPages(t *testing.T, ctx context.Context, newStore func(t *testing.T) s3io.Store) {
	if testing.Short() {
		t.Skip("-short")
	}
	s := newStore(t)
	const n = 1003 // more than one S3 page of 1000
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := s.Put(ctx, fmt.Sprintf("many/%05d", i), strings.NewReader("x"), 1); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	i := 0
	err := s.List(ctx, "many/", func(o s3io.Object) error {
		if want := fmt.Sprintf("many/%05d", i); o.Key != want {
			return fmt.Errorf("object %d is %q, want %q", i, o.Key, want)
		}
		i++
		return nil
	})
	if err != nil || i != n {
		t.Errorf("listed %d of %d objects, err %v", i, n, err)
	}
}

func testInvalidKeys(t *testing.T, ctx context.Context, newStore func(t *testing.T) s3io.Store) {
	s := newStore(t)
	for _, k := range []string{"", "../escape", "a/../../b", "/abs", "dir/"} {
		if err := s.Put(ctx, k, strings.NewReader("x"), 1); err == nil {
			t.Errorf("Put(%q) succeeded", k)
		}
	}
}

func put(t *testing.T, s s3io.Store, key, data string) {
	t.Helper()
	if err := s.Put(context.Background(), key, strings.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put %q: %v", key, err)
	}
}

func read(t *testing.T, s s3io.Store, key string) ([]byte, s3io.Object) {
	t.Helper()
	rc, obj, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open %q: %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return data, obj
}
