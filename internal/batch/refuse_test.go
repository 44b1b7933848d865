package batch

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlserve/mlserve/internal/s3io"
)

// localInputs makes a folder with two images, links to a file outside,
// to a folder and to nothing, and a file outside it.
func localInputs(t *testing.T) (dir, outside string) {
	t.Helper()
	root := t.TempDir()
	dir, outside = filepath.Join(root, "in"), filepath.Join(root, "outside")
	for _, d := range []string{dir, filepath.Join(dir, "sub"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, data string) {
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "a.jpg"), jpegMagic+"a")
	write(filepath.Join(dir, "sub", "b.jpg"), jpegMagic+"bb")
	write(filepath.Join(outside, "secret.jpg"), jpegMagic+"secret")
	for link, target := range map[string]string{
		"to-outside.jpg": filepath.Join(outside, "secret.jpg"),
		"to-folder":      outside,
		"dangling.jpg":   filepath.Join(root, "nothing.jpg"),
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	return dir, outside
}

// TestSymlinksRefusedWithRecords is row 5 of issue 18: links in a folder
// (to a file outside, to a folder, to nothing) are neither followed nor
// skipped in silence: each gets a symlink record, in a listing and through
// a manifest alike, and the other files succeed.
func TestSymlinksRefusedWithRecords(t *testing.T) {
	dir, _ := localInputs(t)
	links := []string{"dangling.jpg", "to-folder", "to-outside.jpg"}
	t.Run("listing", func(t *testing.T) {
		out := t.TempDir()
		cfg := testConfig(t, dir, out)
		sum, err := Run(context.Background(), &fakeClassifier{}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkLinkRecords(t, out, dir+"/", links, []string{"a.jpg", "sub/b.jpg"})
		if sum.RunFailed != 0 || sum.Failed != 3 || sum.Succeeded != 2 {
			t.Errorf("summary %+v", sum)
		}
	})
	t.Run("manifest", func(t *testing.T) {
		out := t.TempDir()
		var lines []string
		for _, k := range append([]string{"a.jpg", "sub/b.jpg"}, links...) {
			lines = append(lines, dir+"/"+k)
		}
		man := filepath.Join(t.TempDir(), "m.jsonl")
		if err := os.WriteFile(man, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := testConfig(t, "", out)
		cfg.Manifest = man
		if _, err := Run(context.Background(), &fakeClassifier{}, cfg); err != nil {
			t.Fatal(err)
		}
		checkLinkRecords(t, out, dir+"/", links, []string{"a.jpg", "sub/b.jpg"})
	})
}

func checkLinkRecords(t *testing.T, out, base string, links, good []string) {
	t.Helper()
	results, failures := shardRecords(t, out, 1)
	for _, k := range good {
		if _, ok := results[base+k]; !ok {
			t.Errorf("%s: no result (failure %+v)", k, failures[base+k])
		}
	}
	for _, k := range links {
		f, ok := failures[base+k]
		if !ok || f.Code != CodeSymlink || f.Attempt != 1 {
			t.Errorf("%s: failure %+v (found %v), want code symlink on the first try", k, f, ok)
		}
		if k == "dangling.jpg" && !strings.Contains(f.Message, "dangling") {
			t.Errorf("%s: message %q does not say it dangles", k, f.Message)
		}
	}
	if n := len(results) + len(failures); n != len(good)+len(links) {
		t.Errorf("%d records, want %d", n, len(good)+len(links))
	}
	s, _ := s3io.Open(context.Background(), out)
	if ok, _ := s3io.Exists(context.Background(), s, "to-outside.jpg.json"); ok {
		t.Error("the link to a file outside was read and classified")
	}
}

// TestManifestEntriesThatCanNeverBeRead is row 4 of issue 18: a manifest
// mixing "..", "./", plain and file:// paths, an entry outside --input and
// an unsupported scheme. The valid lines succeed (/p and file:///p alike);
// each bad one is a failure with its own code on the first try, without
// the read retries' backoff, and a rerun records the same without
// counting them as the run's failures.
func TestManifestEntriesThatCanNeverBeRead(t *testing.T) {
	dir, outside := localInputs(t)
	t.Chdir(dir)
	entries := map[string]string{ // entry -> want code ("" succeeds)
		"a.jpg":                             "",
		"./sub/b.jpg":                       "",
		"file://" + dir + "/sub/b.jpg":      "", // the same file as ./sub/b.jpg: one record
		dir + "/sub/../a.jpg":               CodeInvalidInput,
		"sub/./../../outside/secret.jpg":    CodeInvalidInput,
		"file://" + outside + "/secret.jpg": CodeOutsideInput,
		outside + "/secret.jpg":             CodeOutsideInput,
		dir + "/sub/":                       CodeInvalidInput,
		"ftp://host/a.jpg":                  CodeInvalidInput,
		"s3://bucket/in/../a.jpg":           CodeInvalidInput,
	}
	var lines []string
	for e := range entries {
		lines = append(lines, e)
	}
	man := filepath.Join(t.TempDir(), "m.jsonl")
	if err := os.WriteFile(man, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	for run := range 2 {
		cfg := testConfig(t, dir, out)
		cfg.Manifest = man
		start := time.Now()
		sum, err := Run(context.Background(), &fakeClassifier{}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		// One read retry alone would wait 250 ms, three attempts 1.25 s.
		if d := time.Since(start); d > time.Second {
			t.Errorf("run %d took %v: refused entries were retried", run, d)
		}
		results, failures := shardRecords(t, out, 1)
		for e, code := range entries {
			if code == "" {
				continue
			}
			f, ok := failures[e]
			if !ok || f.Code != code || f.Attempt != 1 || f.Message == "" {
				t.Errorf("run %d: %q: failure %+v (found %v), want %s on the first try", run, e, f, ok, code)
			}
		}
		for _, k := range []string{"a.jpg", "sub/b.jpg"} {
			if _, ok := results[dir+"/"+k]; !ok {
				t.Errorf("run %d: %s: no result; results %v", run, k, results)
			}
		}
		if len(results) != 2 || len(failures) != 7 {
			t.Errorf("run %d: %d results and %d failures, want 2 and 7", run, len(results), len(failures))
		}
		if sum.RunFailed != 0 {
			t.Errorf("run %d: %d failures counted as the run's (retried next run), want 0", run, sum.RunFailed)
		}
		if run == 1 && sum.Skipped != 2 {
			t.Errorf("rerun skipped %d, want the 2 done", sum.Skipped)
		}
	}
}
