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
// EXTERNAL), relative to the model's directory and never outside it.
type externalData struct {
	root *os.Root // nil: the model was not read from a file
}

// openExternal opens dir for external data; "" means the model has no
// directory, and an external tensor is an error.
func openExternal(dir string) (*externalData, error) {
	if dir == "" {
		return &externalData{}, nil
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open the model's directory for external data: %w", err)
	}
	return &externalData{root: r}, nil
}

func (e *externalData) close() {
	if e != nil && e.root != nil {
		e.root.Close()
	}
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
	case e == nil || e.root == nil:
		return nil, fail("the model was not read from a file, so its directory is unknown: load it by path")
	case length >= 0 && length != int64(want):
		return nil, fail("length %d, want %d bytes for shape %v", length, want, p.dims)
	}
	f, err := e.root.Open(loc)
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
