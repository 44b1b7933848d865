package batch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/mlserve/mlserve/internal/api"
	"github.com/mlserve/mlserve/internal/s3io"
)

// records gathers a shard's result and failure lines (and CSV rows) and
// writes them sorted by input key at the end of the run, so a rerun after a
// crash rewrites them whole: every input appears exactly once.
type records struct {
	dir               string
	results, failures *spool
	csv               *spool
	topK              int
	csvBuf            bytes.Buffer
	csvW              *csv.Writer
}

func newRecords(dir string, withCSV bool, topK int) (*records, error) {
	r := &records{dir: dir, topK: topK}
	var err error
	if r.results, err = newSpool(dir, "mlserve-results-*"); err != nil {
		return nil, err
	}
	if r.failures, err = newSpool(dir, "mlserve-failures-*"); err != nil {
		r.close()
		return nil, err
	}
	if withCSV {
		if r.csv, err = newSpool(dir, "mlserve-csv-*"); err != nil {
			r.close()
			return nil, err
		}
		r.csvW = csv.NewWriter(&r.csvBuf)
	}
	return r, nil
}

func (r *records) close() {
	for _, s := range []*spool{r.results, r.failures, r.csv} {
		if s != nil {
			s.close()
		}
	}
}

// add records the outcome of w.
func (r *records) add(w *work) error {
	f := w.fail
	if f == nil && w.result != nil && w.result.Error != nil {
		f = &Failure{Input: w.uri, Key: w.rel, Code: w.result.Error.Code, Message: w.result.Error.Message, Attempt: max(w.attempt, 1)}
	}
	if f != nil {
		line, err := json.Marshal(f)
		if err != nil {
			return err
		}
		if err := r.failures.add(w.rel, append(line, '\n')); err != nil {
			return err
		}
		return r.addCSV(w, nil, f)
	}
	line, err := json.Marshal(w.result)
	if err != nil {
		return err
	}
	if err := r.results.add(w.rel, append(line, '\n')); err != nil {
		return err
	}
	return r.addCSV(w, w.result, nil)
}

// CSVHeader returns the columns of results-<shard>.csv for topK classes.
func CSVHeader(topK int) []string {
	h := []string{"key", "uri", "size", "etag", "status", "error_code", "error_message"}
	for i := 1; i <= topK; i++ {
		n := strconv.Itoa(i)
		h = append(h, "class_id_"+n, "label_"+n, "probability_"+n)
	}
	return h
}

func (r *records) addCSV(w *work, res *api.Result, f *Failure) error {
	if r.csv == nil {
		return nil
	}
	size, etag := w.obj.Size, w.obj.ETag
	if res != nil && res.Source != nil {
		size, etag = res.Source.Size, res.Source.ETag
	}
	row := []string{w.rel, w.uri, strconv.FormatInt(size, 10), etag}
	if f != nil {
		row = append(row, "failed", f.Code, f.Message)
	} else {
		row = append(row, "ok", "", "")
	}
	for i := range r.topK {
		if res != nil && i < len(res.Predictions) {
			p := res.Predictions[i]
			row = append(row, strconv.Itoa(p.ClassID), p.Label, strconv.FormatFloat(p.Probability, 'g', 6, 64))
		} else {
			row = append(row, "", "", "")
		}
	}
	r.csvBuf.Reset()
	r.csvW.Write(row)
	r.csvW.Flush()
	if err := r.csvW.Error(); err != nil {
		return err
	}
	return r.csv.add(w.rel, bytes.Clone(r.csvBuf.Bytes()))
}

// write stores the shard's files under dir (the job's folder); the
// summary goes last.
func (r *records) write(ctx context.Context, out s3io.Store, dir string, shard int, sum Summary) error {
	sfx := strconv.Itoa(shard)
	out = prefixed{out, dir}
	if err := r.writeSpool(ctx, out, "results-"+sfx+".jsonl", nil, r.results); err != nil {
		return err
	}
	if err := r.writeSpool(ctx, out, "failures-"+sfx+".jsonl", nil, r.failures); err != nil {
		return err
	}
	if r.csv != nil {
		r.csvBuf.Reset()
		r.csvW.Write(CSVHeader(r.topK))
		r.csvW.Flush()
		if err := r.writeSpool(ctx, out, "results-"+sfx+".csv", bytes.Clone(r.csvBuf.Bytes()), r.csv); err != nil {
			return err
		}
	}
	data, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if err := out.Put(ctx, "summary-"+sfx+".json", bytes.NewReader(data), int64(len(data))); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

func (r *records) writeSpool(ctx context.Context, out s3io.Store, key string, header []byte, s *spool) error {
	f, err := os.CreateTemp(r.dir, "mlserve-out-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	bw := bufio.NewWriter(f)
	bw.Write(header)
	if err := s.sorted(func(_ string, line []byte) error {
		_, err := bw.Write(line)
		return err
	}); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := out.Put(ctx, key, f, size); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}
