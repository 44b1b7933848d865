package s3io

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// memBuckets holds every mem:// store of the process by name, so that two
// Opens of mem://name see the same objects.
var memBuckets = struct {
	sync.Mutex
	m map[string]*memBucket
}{m: map[string]*memBucket{}}

type memBucket struct {
	mu      sync.RWMutex
	objects map[string]memObject
}

type memObject struct {
	data []byte
	obj  Object
}

// memStore is a view of a memBucket under a key prefix.
type memStore struct {
	b      *memBucket
	prefix string
}

var _ Store = (*memStore)(nil)

func openMem(name, prefix string) *memStore {
	memBuckets.Lock()
	defer memBuckets.Unlock()
	b := memBuckets.m[name]
	if b == nil {
		b = &memBucket{objects: map[string]memObject{}}
		memBuckets.m[name] = b
	}
	return &memStore{b: b, prefix: prefix}
}

func (s *memStore) List(ctx context.Context, prefix string, fn func(Object) error) error {
	full := s.prefix + prefix
	s.b.mu.RLock()
	var objs []Object
	for k, o := range s.b.objects {
		if strings.HasPrefix(k, full) {
			ob := o.obj
			ob.Key = strings.TrimPrefix(k, s.prefix)
			objs = append(objs, ob)
		}
	}
	s.b.mu.RUnlock()
	sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
	for _, o := range objs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

func (s *memStore) get(key string) (memObject, error) {
	if err := checkKey(key); err != nil {
		return memObject{}, err
	}
	s.b.mu.RLock()
	o, ok := s.b.objects[s.prefix+key]
	s.b.mu.RUnlock()
	if !ok {
		return memObject{}, fmt.Errorf("%s: %w", key, ErrNotExist)
	}
	o.obj.Key = key
	return o, nil
}

func (s *memStore) Open(ctx context.Context, key string) (io.ReadCloser, Object, error) {
	o, err := s.get(key)
	if err != nil {
		return nil, Object{}, err
	}
	return io.NopCloser(bytes.NewReader(o.data)), o.obj, nil
}

func (s *memStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := checkKey(key); err != nil {
		return err
	}
	data, err := io.ReadAll(ctxReader{ctx, r})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if size >= 0 && int64(len(data)) != size {
		return fmt.Errorf("put %s: read %d bytes, want %d", key, len(data), size)
	}
	sum := md5.Sum(data)
	o := memObject{data: data, obj: Object{Size: int64(len(data)), ETag: hex.EncodeToString(sum[:]), ModTime: time.Now()}}
	s.b.mu.Lock()
	s.b.objects[s.prefix+key] = o
	s.b.mu.Unlock()
	return nil
}

func (s *memStore) Stat(ctx context.Context, key string) (Object, error) {
	o, err := s.get(key)
	return o.obj, err
}
