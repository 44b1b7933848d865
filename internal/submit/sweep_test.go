package submit

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/s3io"
)

type listing []s3io.Object

func (l listing) List(_ context.Context, prefix string, fn func(s3io.Object) error) error {
	for _, o := range l {
		if strings.HasPrefix(o.Key, prefix) {
			if err := fn(o); err != nil {
				return err
			}
		}
	}
	return nil
}

func TestMissing(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Hour)
	objs := listing{
		{Key: "input/done.jpg", ModTime: t0},
		{Key: "input/new.jpg", ModTime: t0},
		{Key: "input/a/reuploaded.png", ModTime: t1},
		{Key: "input/readme.txt", ModTime: t0},
		{Key: "input/dir/", ModTime: t0},
		{Key: "output/done.jpg.json", ModTime: t1},
		{Key: "output/a/reuploaded.png.json", ModTime: t0},
		{Key: "output/_jobs/j/summary.json", ModTime: t1},
	}
	got, err := Missing(context.Background(), objs, "input/", "output/")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "input/new.jpg,input/a/reuploaded.png" {
		t.Errorf("missing %q", got)
	}
	if _, err := Missing(context.Background(), objs, "", "output/"); err == nil {
		t.Error("an output inside the input: want an error")
	}
}
