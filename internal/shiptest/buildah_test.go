package shiptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// needImageTest skips unless make image-test asked for the image tests
// (they build the Dockerfile and need root), and fails when a tool they
// need is missing.
func needImageTest(t *testing.T) {
	t.Helper()
	if os.Getenv("MLSERVE_IMAGE_TEST") != "1" {
		t.Skip("builds and runs the container image with buildah: run by make image-test (MLSERVE_IMAGE_TEST=1)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("buildah --isolation chroot and network namespaces need root")
	}
	for _, tool := range []string{"buildah", "ip", "mount", "umount", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s: %v (make image-test: apt-get install buildah iproute2 curl)", tool, err)
		}
	}
}

func randomName(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// run runs a command and returns its combined output.
func run(ctx context.Context, name string, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tailString(out.String(), 4000))
	}
	return out.String(), err
}

func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := run(context.Background(), name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// bud builds target of the repository's Dockerfile, unchanged, tagged ref,
// from local images only, for the machine's platform.
func bud(t *testing.T, ref, target string, buildArgs map[string]string) (string, error) {
	t.Helper()
	args := []string{"bud", "--pull-never", "--isolation", "chroot", "--layers", "--force-rm", "-t", ref, "--target", target,
		"--build-arg", "TARGETOS=" + runtime.GOOS, "--build-arg", "TARGETARCH=" + runtime.GOARCH}
	keys := make([]string, 0, len(buildArgs))
	for k := range buildArgs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		args = append(args, "--build-arg", k+"="+buildArgs[k])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := run(ctx, "buildah", append(args, repoRoot(t))...)
	t.Logf("buildah bud --target %s: %.1fs", target, time.Since(start).Seconds())
	return out, err
}

// imageConfig is the part of an image's OCI config a container runtime uses.
type imageConfig struct {
	User       string   `json:"User"`
	Env        []string `json:"Env"`
	Entrypoint []string `json:"Entrypoint"`
	Cmd        []string `json:"Cmd"`
}

func inspectImage(t *testing.T, ref string) imageConfig {
	t.Helper()
	var info struct {
		OCIv1 struct {
			Config imageConfig `json:"config"`
		}
	}
	out := mustRun(t, "buildah", "inspect", "--type", "image", ref)
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("buildah inspect %s: %v", ref, err)
	}
	return info.OCIv1.Config
}

// imageSize returns the size buildah reports for ref, in bytes (buildah
// prints 3 significant digits of decimal units).
func imageSize(t *testing.T, ref string) float64 {
	t.Helper()
	out := mustRun(t, "buildah", "images", "--format", "{{.Size}}", ref)
	num, unit, _ := strings.Cut(strings.TrimSpace(out), " ")
	v, err := strconv.ParseFloat(num, 64)
	mult := map[string]float64{"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}[unit]
	if err != nil || mult == 0 {
		t.Fatalf("buildah images: size %q", out)
	}
	return v * mult
}

// container is a working container from an image, its root file system
// read-only: the mount points buildah run needs are made while it is
// still writable, /run gets a small tmpfs (buildah writes .containerenv
// there on every run), then the root is remounted read-only. Each run
// gets a fresh tmpfs on /tmp, as Lambda and `docker run --read-only
// --tmpfs /tmp` give.
type container struct {
	name, image string
	cfg         imageConfig
}

func newContainer(t *testing.T, image string, hosts ...string) *container {
	t.Helper()
	c := &container{name: randomName("mlserve-imagetest-"), image: image, cfg: inspectImage(t, image)}
	args := []string{"from", "--pull-never", "--name", c.name}
	for _, h := range hosts {
		args = append(args, "--add-host", h)
	}
	mustRun(t, "buildah", append(args, image)...)
	root := mustRun(t, "buildah", "mount", c.name)
	t.Cleanup(func() {
		run(context.Background(), "umount", filepath.Join(root, "run"))
		run(context.Background(), "mount", "-o", "remount,rw", root)
		run(context.Background(), "buildah", "rm", c.name)
	})
	for _, d := range []string{"dev", "proc", "sys", "run", "data", "out"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"etc/hosts", "etc/resolv.conf", "etc/hostname"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustRun(t, "mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", filepath.Join(root, "run"))
	mustRun(t, "mount", "-o", "remount,ro", root)
	return c
}

// runSpec says how to run a command in a container.
type runSpec struct {
	netns string            // network namespace ("" for the host's)
	user  string            // "" for the image's USER
	env   map[string]string // added to the image's ENV
	binds []string          // host:container[:ro]
}

// command returns the command that runs argv in c as spec says.
func (c *container) command(ctx context.Context, spec runSpec, argv ...string) *exec.Cmd {
	user := spec.user
	if user == "" {
		user = c.cfg.User
	}
	args := []string{"run", "--isolation", "chroot", "--user", user,
		"--mount", "type=tmpfs,destination=/tmp,tmpfs-mode=1777"}
	for _, b := range spec.binds {
		args = append(args, "-v", b)
	}
	keys := make([]string, 0, len(spec.env))
	for k := range spec.env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		args = append(args, "-e", k+"="+spec.env[k])
	}
	args = append(append(args, c.name, "--"), argv...)
	return nsCommand(ctx, spec.netns, "buildah", args...)
}

// nsCommand runs a host program in network namespace netns ("" for the
// host's).
func nsCommand(ctx context.Context, netns, name string, args ...string) *exec.Cmd {
	if netns == "" {
		return exec.CommandContext(ctx, name, args...)
	}
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", netns, name}, args...)...)
}

// composeArgv is what compose runs: the service's entrypoint (else the
// image's) followed by its command (else the image's CMD).
func (c *container) composeArgv(entrypoint, command []string) []string {
	if len(entrypoint) == 0 {
		entrypoint = c.cfg.Entrypoint
	}
	if len(command) == 0 {
		command = c.cfg.Cmd
	}
	return append(slices.Clone(entrypoint), command...)
}

// newNetns makes a network namespace with loopback up, standing in for a
// compose service's own network: its ports are the container's ports,
// reachable only from inside. Cleanup ends what runs in it and removes it.
func newNetns(t *testing.T) string {
	t.Helper()
	name := randomName("mlsimg-")
	mustRun(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		stopNetns(name, 0)
		run(context.Background(), "ip", "netns", "del", name)
	})
	mustRun(t, "ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")
	return name
}

// netnsPids lists the processes in a network namespace.
func netnsPids(name string) []int {
	out, _ := run(context.Background(), "ip", "netns", "pids", name)
	var ps []int
	for _, f := range strings.Fields(out) {
		if p, err := strconv.Atoi(f); err == nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// signalNamed sends sig to the processes in netns whose command name is
// comm and returns how many there were.
func signalNamed(netns, comm string, sig syscall.Signal) int {
	n := 0
	for _, p := range netnsPids(netns) {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p)); err == nil && strings.TrimSpace(string(b)) == comm {
			syscall.Kill(p, sig)
			n++
		}
	}
	return n
}

// stopNetns sends SIGTERM to every process in the namespace (all started
// by this test), waits up to grace for them to go, then SIGKILLs the rest.
func stopNetns(name string, grace time.Duration) {
	pids := func() []int { return netnsPids(name) }
	for _, p := range pids() {
		syscall.Kill(p, syscall.SIGTERM)
	}
	for deadline := time.Now().Add(grace); time.Now().Before(deadline) && len(pids()) > 0; {
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range pids() {
		syscall.Kill(p, syscall.SIGKILL)
	}
}

// nsCurl runs curl inside a network namespace and returns the body;
// curl's -w adds the status code on a last line.
func nsCurl(ctx context.Context, netns string, args ...string) (body []byte, status int, err error) {
	var out, stderr bytes.Buffer
	cmd := nsCommand(ctx, netns, "curl", append([]string{"-sS", "--max-time", "60", "-w", "\n%{http_code}"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, 0, fmt.Errorf("curl %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	b := out.Bytes()
	i := bytes.LastIndexByte(b, '\n')
	status, _ = strconv.Atoi(string(b[i+1:]))
	return b[:i], status, nil
}

// waitHTTP polls url inside netns until it answers 200 or d passes.
func waitHTTP(t *testing.T, netns, url string, d time.Duration, exited <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, status, err := nsCurl(ctx, netns, url)
		cancel()
		if err == nil && status == 200 {
			return
		}
		select {
		case <-exited:
			t.Fatalf("%s: the process exited before it answered", url)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not 200 after %s (last: %d %v)", url, d, status, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// started is a long-running command whose output is kept.
type started struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
	err    error
}

func start(t *testing.T, cmd *exec.Cmd) *started {
	t.Helper()
	s := &started{cmd: cmd, out: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = cmd.Wait(); close(s.exited) }()
	return s
}

// syncBuffer is a bytes.Buffer safe for a process writing while a test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
