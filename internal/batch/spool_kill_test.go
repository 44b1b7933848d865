//go:build unix

package batch

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSpoolsGoneAfterKill9 is row 8 of issue 18: a batch run is killed
// with SIGKILL (a real subprocess: this test binary running
// TestHelperBatchRun) while its engine holds a batch; nothing it spooled
// stays in its $TMPDIR, because spools are unlinked as soon as they are
// created.
func TestSpoolsGoneAfterKill9(t *testing.T) {
	tmp := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperBatchRun$", "-test.count=1")
	cmd.Env = append(os.Environ(), "MLSERVE_TEST_HELPER_TMP="+tmp, "TMPDIR="+tmp)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck // already gone when the test passes
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "engine-running") {
				ready <- true
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("the helper ended before its engine ran")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the helper's engine did not run within 60s")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("helper ended with %v, want killed by SIGKILL", err)
	}
	ents, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if len(left) > 0 {
		t.Errorf("left in $TMPDIR after kill -9: %v", left)
	}
}

// TestHelperBatchRun is the subprocess of TestSpoolsGoneAfterKill9: a run
// whose records are spooled in $TMPDIR (the parent's temporary folder) and whose engine
// blocks once it has a batch, saying so on stdout.
func TestHelperBatchRun(t *testing.T) {
	if os.Getenv("MLSERVE_TEST_HELPER_TMP") == "" {
		t.Skip("the subprocess of TestSpoolsGoneAfterKill9")
	}
	in, out := newMem(t)
	// testConfig's t.TempDir would make a folder in $TMPDIR: the spools'
	// default place (os.TempDir) is what is checked.
	cfg := Config{Input: in, Output: out, Job: testJob, BatchSize: 1, TopK: 1, ProgressEvery: -1,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	c := &fakeClassifier{onRun: func(n int64) {
		if n == 2 { // one input recorded: the spools hold a line
			os.Stdout.WriteString("engine-running\n")
			select {} // until killed
		}
	}}
	Run(context.Background(), c, cfg) //nolint:errcheck // never returns
}
