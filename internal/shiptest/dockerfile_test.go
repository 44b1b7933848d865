package shiptest

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/mlserve/mlserve/internal/testsupport"
	"github.com/mlserve/mlserve/models"
)

// repoRoot is the directory holding go.mod, two levels up from here.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("repository root: %v", err)
	}
	return dir
}

// instruction is one Dockerfile instruction with continuation lines joined.
type instruction struct {
	Cmd  string // upper case: FROM, RUN, ...
	Args string
}

type stage struct {
	Name, From string
	Flags      []string `json:",omitempty"` // FROM's options, such as --platform=$BUILDPLATFORM
	Body       []instruction
}

// parseDockerfile splits a Dockerfile into stages. It knows comments, line
// continuations and FROM ... AS name: enough for our file.
func parseDockerfile(t testing.TB, data []byte) []stage {
	t.Helper()
	var stages []stage
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)}
		if in.Cmd == "FROM" {
			f := strings.Fields(in.Args)
			st := stage{}
			for len(f) > 1 && strings.HasPrefix(f[0], "--") { // --platform=...
				st.Flags = append(st.Flags, f[0])
				f = f[1:]
			}
			st.From = f[0]
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.Name = f[2]
			}
			stages = append(stages, st)
			return
		}
		if len(stages) == 0 {
			if in.Cmd != "ARG" {
				t.Fatalf("Dockerfile: %s before the first FROM", in.Cmd)
			}
			return
		}
		stages[len(stages)-1].Body = append(stages[len(stages)-1].Body, in)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if trimmed := strings.TrimSpace(line); strings.HasPrefix(trimmed, "#") {
			continue
		}
		if s, ok := strings.CutSuffix(strings.TrimRight(line, " \t"), "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush()
	return stages
}

func readDockerfile(t testing.TB) []stage {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	return parseDockerfile(t, data)
}

func findStage(t testing.TB, stages []stage, name string) stage {
	t.Helper()
	for _, s := range stages {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("Dockerfile: no stage %q", name)
	return stage{}
}

// args returns the ARG defaults of a stage.
func (s stage) args() map[string]string {
	m := map[string]string{}
	for _, in := range s.Body {
		if in.Cmd == "ARG" {
			k, v, _ := strings.Cut(in.Args, "=")
			m[k] = v
		}
	}
	return m
}

func (s stage) all(cmd string) []string {
	var out []string
	for _, in := range s.Body {
		if in.Cmd == cmd {
			out = append(out, in.Args)
		}
	}
	return out
}

func TestDockerfileRuntime(t *testing.T) {
	stages := readDockerfile(t)
	if last := stages[len(stages)-1]; last.From != "runtime" {
		t.Errorf("default target: last stage is FROM %s, want FROM runtime", last.From)
	}
	rt := findStage(t, stages, "runtime")
	if rt.From != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("runtime base: got %s", rt.From)
	}
	const model = "/models/resnet50-v1-12.onnx"
	tests := []struct {
		cmd, want string
	}{
		{"ENTRYPOINT", `["/mlserve"]`},
		{"CMD", `["serve"]`},
		{"EXPOSE", "8080"},
		{"USER", "nonroot:nonroot"},
		{"COPY", "--from=build /out/mlserve /mlserve"},
		{"COPY", "--from=model " + model + " " + model},
	}
	for _, tt := range tests {
		if !slices.Contains(rt.all(tt.cmd), tt.want) {
			t.Errorf("runtime stage: no %s %s; have %q", tt.cmd, tt.want, rt.all(tt.cmd))
		}
	}
	env := strings.Join(rt.all("ENV"), " ")
	if !strings.Contains(env, "MLSERVE_MODEL="+model) {
		t.Errorf("runtime ENV %q: want MLSERVE_MODEL=%s", env, model)
	}
	labels := strings.Join(rt.all("LABEL"), " ")
	for _, l := range []string{"org.opencontainers.image.title", "org.opencontainers.image.version", "org.opencontainers.image.source"} {
		if !strings.Contains(labels, l) {
			t.Errorf("runtime stage: no label %s", l)
		}
	}
	rie := findStage(t, stages, "lambda-rie")
	if rie.From != "runtime" || !slices.Contains(rie.all("ENTRYPOINT"), `["/usr/local/bin/aws-lambda-rie", "/mlserve"]`) {
		t.Errorf("lambda-rie stage: FROM %s, ENTRYPOINT %q", rie.From, rie.all("ENTRYPOINT"))
	}
}

// TestDockerfileModelDefaults keeps the model stage's defaults equal to
// the manifest the binary embeds.
func TestDockerfileModelDefaults(t *testing.T) {
	st := findStage(t, readDockerfile(t), "model")
	man := models.Default()
	args := st.args()
	if args["MODEL_URL"] != man.URL {
		t.Errorf("MODEL_URL default %q, manifest url %q", args["MODEL_URL"], man.URL)
	}
	if args["MODEL_SHA256"] != man.SHA256 {
		t.Errorf("MODEL_SHA256 default %q, manifest sha256 %q", args["MODEL_SHA256"], man.SHA256)
	}
	run := strings.Join(st.all("RUN"), "\n")
	if !strings.Contains(run, `fetch-model.sh "${MODEL_URL}" "${MODEL_SHA256}" /models/`+man.File) {
		t.Errorf("model stage does not verify with fetch-model.sh: %s", run)
	}
}

// buildCommand returns the build stage's `go build` RUN line, with ARG
// defaults and the given overrides expanded.
func buildCommand(t testing.TB, overrides map[string]string) string {
	t.Helper()
	st := findStage(t, readDockerfile(t), "build")
	vars := st.args()
	for k, v := range overrides {
		vars[k] = v
	}
	var run string
	for _, r := range st.all("RUN") {
		if strings.Contains(r, "go build") {
			run = runCommand(r)
		}
	}
	if run == "" {
		t.Fatal("build stage: no RUN go build")
	}
	return os.Expand(run, func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		return "${" + k + "}"
	})
}

// runCommand drops a RUN instruction's leading --mount=... options
// (BuildKit and buildah cache mounts), leaving the shell command.
func runCommand(args string) string {
	for strings.HasPrefix(args, "--mount=") {
		_, args, _ = strings.Cut(args, " ")
		args = strings.TrimLeft(args, " ")
	}
	return args
}

// TestStaticBinary builds mlserve exactly as the Dockerfile's build stage
// does (its RUN line, run from the repository root) and checks that the
// result is static, so it runs on distroless/static and as a Lambda image.
func TestStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds mlserve with -trimpath: skipped with -short")
	}
	if runtime.GOOS != "linux" {
		t.Skip("checks an ELF binary")
	}
	cmdline := buildCommand(t, map[string]string{"VERSION": "v0.0.0-shiptest"})
	out := filepath.Join(t.TempDir(), "mlserve")
	if !strings.Contains(cmdline, " -o /out/mlserve ") {
		t.Fatalf("build RUN line does not write /out/mlserve: %s", cmdline)
	}
	cmdline = strings.Replace(cmdline, " -o /out/mlserve ", " -o "+out+" ", 1)
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X github.com/mlserve/mlserve/internal/cli.Version=v0.0.0-shiptest"} {
		if !strings.Contains(cmdline, want) {
			t.Errorf("build RUN line lacks %s: %s", want, cmdline)
		}
	}
	build := exec.Command("sh", "-c", cmdline)
	build.Dir = repoRoot(t)
	build.Env = append(os.Environ(), "CGO_ENABLED=1") // the RUN line must set it itself
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, b)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("binary: %.1f MB", float64(fi.Size())/1e6)

	if file, err := exec.LookPath("file"); err == nil {
		b, _ := exec.Command(file, out).CombinedOutput()
		if !strings.Contains(string(b), "statically linked") {
			t.Errorf("file: %s", b)
		}
	} else if testsupport.CI() {
		t.Errorf("file(1) not found (apt-get install file): %v", err)
	}
	b, _ := exec.Command("ldd", out).CombinedOutput() // exits 1 for a static binary
	if !strings.Contains(string(b), "not a dynamic executable") && !strings.Contains(string(b), "statically linked") {
		t.Errorf("ldd: %s", b)
	}
	v, err := exec.Command(out, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(v), "v0.0.0-shiptest") {
		t.Errorf("mlserve --version: %v: %s", err, v)
	}
}

func TestParseDockerfile(t *testing.T) {
	src := "ARG X=1\n# comment\nFROM a AS one\nRUN echo \\\n  two\nFROM one\nCMD [\"x\"]\nFROM --platform=$BUILDPLATFORM b AS three\n"
	got := parseDockerfile(t, []byte(src))
	want := []stage{
		{Name: "one", From: "a", Body: []instruction{{"RUN", "echo    two"}}},
		{From: "one", Body: []instruction{{"CMD", `["x"]`}}},
		{Name: "three", From: "b", Flags: []string{"--platform=$BUILDPLATFORM"}},
	}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Errorf("got %s\nwant %s", gj, wj)
	}
}

// TestDockerfilePlatform: the stages that compile or download run on the
// build machine and cross-compile for the platform asked for, so a
// `--platform linux/arm64` build needs no emulation.
func TestDockerfilePlatform(t *testing.T) {
	stages := readDockerfile(t)
	for _, name := range []string{"build", "model", "rie"} {
		st := findStage(t, stages, name)
		if !slices.Contains(st.Flags, "--platform=$BUILDPLATFORM") {
			t.Errorf("stage %s: FROM %v %s, want --platform=$BUILDPLATFORM", name, st.Flags, st.From)
		}
		if name == "model" {
			continue
		}
		if _, ok := st.args()["TARGETARCH"]; !ok {
			t.Errorf("stage %s: no ARG TARGETARCH", name)
		}
		var goRun string
		for _, r := range st.all("RUN") {
			if strings.Contains(r, "go build") || strings.Contains(r, "go install") {
				goRun = r
			}
		}
		for _, want := range []string{"CGO_ENABLED=0", "GOOS=${TARGETOS}", "GOARCH=${TARGETARCH}"} {
			if !strings.Contains(goRun, want) {
				t.Errorf("stage %s: go RUN line lacks %s: %s", name, want, goRun)
			}
		}
	}
}

// TestDockerfileRIE: the emulator is built from the Go module proxy at the
// version CI and the local stack use, and no stage copies from an image
// outside this Dockerfile.
func TestDockerfileRIE(t *testing.T) {
	stages := readDockerfile(t)
	version := findStage(t, stages, "rie").args()["RIE_VERSION"]
	if version == "" {
		t.Fatal("rie stage: no ARG RIE_VERSION default")
	}
	for _, f := range []string{".ci/run", "mk/local-stack.mk", "mk/lambda.mk"} {
		b, err := os.ReadFile(filepath.Join(repoRoot(t), f))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), version) {
			t.Errorf("%s does not use aws-lambda-rie %s, the Dockerfile's version", f, version)
		}
	}
	names := map[string]bool{}
	for _, st := range stages {
		for _, c := range st.all("COPY") {
			if from, ok := strings.CutPrefix(c, "--from="); ok {
				if from, _, _ = strings.Cut(from, " "); !names[from] {
					t.Errorf("COPY --from=%s: not an earlier stage of this Dockerfile", from)
				}
			}
		}
		names[st.Name] = true
	}
	if !slices.Contains(findStage(t, stages, "lambda-rie").all("COPY"), "--from=rie /out/aws-lambda-rie /usr/local/bin/aws-lambda-rie") {
		t.Error("lambda-rie stage: does not copy the emulator from the rie stage")
	}
}

// TestCrossCompile runs the build stage's RUN line for linux/arm64 and
// checks the binary's ELF machine.
func TestCrossCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles mlserve: skipped with -short")
	}
	cmdline := buildCommand(t, map[string]string{"VERSION": "v0.0.0-shiptest", "TARGETOS": "linux", "TARGETARCH": "arm64"})
	out := filepath.Join(t.TempDir(), "mlserve")
	cmdline = strings.Replace(cmdline, " -o /out/mlserve ", " -o "+out+" ", 1)
	build := exec.Command("sh", "-c", cmdline)
	build.Dir = repoRoot(t)
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Errorf("TARGETARCH=arm64 built a %s binary", f.Machine)
	}
	if slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP }) {
		t.Error("the arm64 binary is dynamically linked")
	}
}
