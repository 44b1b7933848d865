package jpeg

import (
	"bytes"
	"errors"
	"image"
	stdjpeg "image/jpeg"
	"io"
	"reflect"
	"testing"
	"testing/iotest"
)

// chunkReader returns at most n bytes per Read, and (0, nil) every other
// call, as some network bodies do.
type chunkReader struct {
	r     io.Reader
	n     int
	calls int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	c.calls++
	if c.calls%2 == 0 {
		return 0, nil
	}
	return c.r.Read(p[:min(len(p), c.n)])
}

// decodeStream decodes data from r with a Stream, as Decode does from
// data.
func decodeStream(r io.Reader, opts Options) (image.Image, error) {
	s, err := NewStream(r, opts.MaxPixels)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Decode(opts)
}

// sameResult fails unless the stream's image and error are the []byte
// path's: the same pixels, or errors of the same kind.
func sameResult(t *testing.T, what string, got image.Image, gotErr error, want image.Image, wantErr error) {
	t.Helper()
	switch {
	case (gotErr == nil) != (wantErr == nil):
		t.Fatalf("%s: stream error %v, []byte error %v", what, gotErr, wantErr)
	case wantErr != nil:
		if isTruncated(wantErr) != isTruncated(gotErr) || isFormat(wantErr) != isFormat(gotErr) ||
			isUnsupported(wantErr) != isUnsupported(gotErr) || errors.Is(wantErr, ErrTooLarge) != errors.Is(gotErr, ErrTooLarge) {
			t.Fatalf("%s: stream error %v, []byte error %v", what, gotErr, wantErr)
		}
	case !reflect.DeepEqual(got, want):
		t.Fatalf("%s: stream image differs from the []byte path's (%T %v)", what, got, got.Bounds())
	}
}

// streamCases is the corpus plus files larger than a stream's window.
func streamCases(t *testing.T) map[string][]byte {
	cases := map[string][]byte{}
	for _, tc := range corpus(t) {
		cases[tc.Name] = tc.Data
	}
	big := photo(1200, 900, 11)
	var buf bytes.Buffer
	if err := stdjpeg.Encode(&buf, big, &stdjpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	cases["big baseline"] = buf.Bytes()
	cases["big progressive restarts"] = cjpeg(t, big, "-progressive", "-restart", "3")
	return cases
}

func TestStreamMatchesBytes(t *testing.T) {
	for name, data := range streamCases(t) {
		t.Run(name, func(t *testing.T) {
			if len(data) > inputWindow && len(data) < 2*inputWindow {
				t.Logf("%d bytes", len(data))
			}
			readers := map[string]func() io.Reader{
				"one byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) },
				"7 bytes":  func() io.Reader { return &chunkReader{r: bytes.NewReader(data), n: 7} },
				"whole":    func() io.Reader { return bytes.NewReader(data) },
				"data EOF": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) },
			}
			for _, scale := range []int{1, 2, 8} {
				want, wantErr := Decode(data, Options{Scale: scale})
				for rn, r := range readers {
					if rn == "one byte" && (len(data) > 200<<10 || scale != 1) {
						continue // slow, and the 7-byte reader crosses the same edges
					}
					got, err := decodeStream(r(), Options{Scale: scale})
					sameResult(t, rn, got, err, want, wantErr)
				}
			}
		})
	}
}

func TestStreamHeader(t *testing.T) {
	data := cjpeg(t, photo(64, 48, 3), "-progressive")
	s, err := NewStream(&chunkReader{r: bytes.NewReader(data), n: 5}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want, _ := DecodeConfig(data)
	if got := s.Config(); got != want {
		t.Errorf("Config %+v, DecodeConfig %+v", got, want)
	}
	h := s.Header()
	if !bytes.HasPrefix(data, h) || h[len(h)-1] == 0xFF {
		t.Fatalf("Header: %d bytes, not a prefix of the data ending at the frame header", len(h))
	}
	if got, err := DecodeConfig(h); err != nil || got != want {
		t.Errorf("DecodeConfig(Header) = %+v, %v", got, err)
	}
}

func TestStreamReadError(t *testing.T) {
	data := streamCases(t)["big progressive restarts"]
	boom := errors.New("connection reset")
	for _, cut := range []int{0, 1, 100, len(data) / 3, len(data) - 1} {
		_, err := decodeStream(io.MultiReader(bytes.NewReader(data[:cut]), iotest.ErrReader(boom)), Options{Scale: 8})
		var re *ReadError
		if !errors.As(err, &re) || !errors.Is(err, boom) {
			t.Errorf("cut at %d: %v (%T), want a *ReadError wrapping the reader's error", cut, err, err)
		}
		if isTruncated(err) || isFormat(err) {
			t.Errorf("cut at %d: %v reads as bad data", cut, err)
		}
	}
	// The data's own end is a truncation, as from []byte.
	_, err := decodeStream(bytes.NewReader(data[:len(data)/2]), Options{Scale: 8})
	if !isTruncated(err) {
		t.Errorf("half the data: %v, want a truncation", err)
	}
}

func TestStreamErrors(t *testing.T) {
	good := cjpeg(t, photo(64, 48, 3), "-quality", "90")
	_, err := decodeStream(bytes.NewReader(good), Options{MaxPixels: 64*48 - 1})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
	s, err := NewStream(bytes.NewReader(good), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Decode(Options{Scale: 3}); err == nil {
		t.Error("scale 3: no error")
	}
	if _, err := s.Decode(Options{}); err == nil {
		t.Error("second Decode: no error")
	}
	s.Close()
	s.Close()
}
