package onnx

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// ErrExternalData is wrapped by the errors about tensors stored in external
// data files.
var ErrExternalData = errors.New("external data")

// externalData reads tensors stored beside the model (data_location
// EXTERNAL), relative to the model's directory and never outside it. The
// directory is opened on the first external tensor.
type externalData struct {
	dir  string // "": the model was not read from a file
	root *os.Root
}

func (e *externalData) close() {
	if e != nil && e.root != nil {
		e.root.Close()
	}
}

// open opens loc inside the model's directory.
func (e *externalData) open(loc string) (*os.File, error) {
	if e.root == nil {
		r, err := os.OpenRoot(e.dir)
		if err != nil {
			return nil, fmt.Errorf("the model's directory: %w", err)
		}
		e.root = r
	}
	return e.root.Open(loc)
}

// read returns the want bytes of p's external data: the keys location,
// offset and length (onnx.proto external_data), checked against the file
// size before anything is allocated.
func (e *externalData) read(p *tensorProto, want int) ([]byte, error) {
	var loc string
	var off, length int64 = 0, -1
	for _, kv := range p.external {
		var err error
		switch kv.key {
		case "location":
			loc = kv.value
		case "offset":
			off, err = strconv.ParseInt(kv.value, 10, 64)
		case "length":
			length, err = strconv.ParseInt(kv.value, 10, 64)
		}
		if err != nil || off < 0 || (kv.key == "length" && length < 0) {
			return nil, fmt.Errorf("tensor %q: %w: bad %s %q", p.name, ErrExternalData, kv.key, kv.value)
		}
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("tensor %q: %w %q: %s", p.name, ErrExternalData, loc, fmt.Sprintf(format, args...))
	}
	switch {
	case loc == "":
		return nil, fmt.Errorf("tensor %q: %w without a location", p.name, ErrExternalData)
	case !filepath.IsLocal(loc):
		return nil, fail("the path leaves the model's directory")
	case e == nil || e.dir == "":
		return nil, fail("the model was not read from a file, so its directory is unknown: load it by path")
	case length >= 0 && length != int64(want):
		return nil, fail("length %d, want %d bytes for shape %v", length, want, p.dims)
	}
	f, err := e.open(loc)
	if err != nil {
		return nil, fail("%v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fail("%v", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fail("not a regular file")
	}
	if off > st.Size() || st.Size()-off < int64(want) {
		return nil, fail("%d bytes at offset %d do not fit in the file of %d bytes", want, off, st.Size())
	}
	buf := make([]byte, want)
	if _, err := f.ReadAt(buf, off); err != nil && !(errors.Is(err, io.EOF) && want == 0) {
		return nil, fail("%v", err)
	}
	return buf, nil
}
