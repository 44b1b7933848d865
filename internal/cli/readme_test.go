package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/testsupport"
)

// docFiles are the documents a user copies commands from.
var docFiles = []string{"README.md", "deploy/README.md", "bench/README.md", "BENCHMARKS.md"}

// testVars returns the MLSERVE_ names that the tests and CI read, not
// mlserve: the docs may name them (MLSERVE_TEST_S3_ENDPOINT,
// MLSERVE_CI_KERNELS, ...), and internal/config rightly does not declare
// them. A name counts only where a test file, internal/testsupport,
// internal/shiptest, .ci/run or a make file uses it, so a misspelt one in
// the docs still fails.
// experimentTags are build tags that only measurements use (BENCHMARKS.md
// cites the variables their files read): internal/gemm's pooldrag and
// poolstats.
var experimentTags = []string{"pooldrag", "poolstats"}

// experimentFile reports whether the Go file b is built only with one of
// experimentTags.
func experimentFile(b []byte) bool {
	first, _, _ := strings.Cut(string(b), "\n")
	expr, ok := strings.CutPrefix(first, "//go:build ")
	return ok && slices.Contains(experimentTags, strings.TrimSpace(expr))
}

func testVars(t *testing.T, root string) []string {
	var names []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && rel != ".ci" && rel != "." || d.Name() == "node_modules" || d.Name() == "bin" {
				return filepath.SkipDir
			}
			return nil
		}
		testOnly := strings.HasSuffix(p, "_test.go") && d.Name() != "readme_test.go" ||
			strings.HasPrefix(rel, "internal/testsupport/") || strings.HasPrefix(rel, "internal/shiptest/") ||
			rel == ".ci/run" || rel == "Makefile" || strings.HasPrefix(rel, "mk/")
		if !testOnly && !strings.HasSuffix(p, ".go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !testOnly && !experimentFile(b) {
			return nil
		}
		names = append(names, envRE.FindAllString(string(b), -1)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

var (
	envRE = regexp.MustCompile(`MLSERVE_[A-Z0-9]+(?:_[A-Z0-9]+)*`)
	// pathRE finds repository paths: a known top-level directory (or the
	// shared fixtures) at the start of a word or after ./, up to the end of
	// the path.
	pathRE   = regexp.MustCompile("(?:^|[\\s`(@\"'=\\[])(?:\\./)?((?:\\.\\./shared/fixtures|testdata|scripts|mk|internal|cmd|bench|deploy|models|\\.ci|_asm)/[A-Za-z0-9_./-]*[A-Za-z0-9_/])")
	inlineRE = regexp.MustCompile("`(mlserve [^`]+)`")
	targetRE = regexp.MustCompile(`(?m)^([a-zA-Z0-9_-]+):`)
)

// docCommand is one shell line of a code block, or one inline code span
// that starts with "mlserve ".
type docCommand struct {
	line   int
	text   string
	inline bool // prose: a flag may be named without its value
}

// docCommands returns the commands of a Markdown text: the lines of its
// fenced code blocks (with \ continuations joined) and its inline
// `mlserve ...` spans.
func docCommands(text string) []docCommand {
	var cmds []docCommand
	inBlock, cont := false, ""
	for i, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inBlock, cont = !inBlock, ""
			continue
		}
		if !inBlock {
			for _, m := range inlineRE.FindAllStringSubmatch(line, -1) {
				cmds = append(cmds, docCommand{line: i + 1, text: m[1], inline: true})
			}
			continue
		}
		if l, ok := strings.CutSuffix(line, "\\"); ok {
			cont += l + " "
			continue
		}
		cmds = append(cmds, docCommand{line: i + 1, text: cont + line})
		cont = ""
	}
	return cmds
}

// mlserveArgs returns the arguments of an mlserve invocation in words, and
// whether there is one: words that start with mlserve (bin/mlserve,
// /mlserve), or that run it through a launcher (aws-lambda-rie mlserve
// lambda, docker run <image mlserve> serve; not docker build -t mlserve).
func mlserveArgs(words []string) ([]string, bool) {
	for len(words) > 0 && strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "-") {
		words = words[1:] // VAR=value
	}
	isMlserve := func(w string) bool { return w == "mlserve" || strings.HasSuffix(w, "/mlserve") }
	if len(words) == 0 {
		return nil, false
	}
	if isMlserve(words[0]) {
		return words[1:], true
	}
	if !slices.Contains([]string{"aws-lambda-rie", "docker", "env", "nice", "time", "exec"}, words[0]) ||
		len(words) > 1 && words[1] == "build" {
		return nil, false
	}
	for i := 1; i < len(words); i++ {
		if isMlserve(words[i]) && !slices.Contains([]string{"-t", "--tag", "--name"}, words[i-1]) {
			return words[i+1:], true
		}
	}
	return nil, false
}

// checkArgs parses args with mlserve's real command tree: the subcommand
// must exist, every flag must be one of its flags with a valid value, and
// the positional arguments must fit (unless --help). An inline span may end
// in a flag without its value.
func checkArgs(args []string, inline bool) error {
	if len(args) == 0 {
		return nil // mlserve alone prints its help; an image runs its CMD
	}
	root := NewRootCmd(IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard, Env: config.Default()})
	root.InitDefaultVersionFlag()
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	cmd.InitDefaultHelpFlag()
	if err := cmd.ParseFlags(rest); err != nil {
		if inline && strings.Contains(err.Error(), "flag needs an argument") {
			return nil
		}
		return fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	if help, _ := cmd.Flags().GetBool("help"); help {
		return nil
	}
	if v, _ := root.Flags().GetBool("version"); v && cmd == root {
		return nil
	}
	pos := cmd.Flags().Args()
	if !cmd.Runnable() {
		if len(pos) > 0 {
			return fmt.Errorf("%s: unknown subcommand %q", cmd.CommandPath(), pos[0])
		}
		if !inline {
			return fmt.Errorf("%s: needs a subcommand", cmd.CommandPath())
		}
		return nil
	}
	if inline {
		return nil // prose: `mlserve classify` names the command, not a run
	}
	if err := cmd.ValidateArgs(pos); err != nil {
		return fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	return nil
}

// checkDoc returns every false statement of a README about the tree at
// root: commands mlserve would refuse, MLSERVE_ variables it does not
// read, repository paths and make targets that do not exist. dir is the
// README's directory relative to root (paths may be relative to it).
func checkDoc(root, dir, text string, targets, testOnlyVars []string) []string {
	var problems []string
	for _, c := range docCommands(text) {
		for _, words := range shellCommands(c.text) {
			if args, ok := mlserveArgs(words); ok {
				if err := checkArgs(args, c.inline); err != nil {
					problems = append(problems, fmt.Sprintf("line %d: %q: %v", c.line, c.text, err))
				}
			}
			if !c.inline && len(words) > 1 && words[0] == "make" {
				for _, w := range words[1:] {
					if !strings.Contains(w, "=") && !strings.HasPrefix(w, "-") && !slices.Contains(targets, w) {
						problems = append(problems, fmt.Sprintf("line %d: make %s: no such target", c.line, w))
					}
				}
			}
		}
	}
	for i, line := range strings.Split(text, "\n") {
		for _, name := range envRE.FindAllString(line, -1) {
			if !config.Declared(name) && !slices.Contains(testOnlyVars, name) {
				problems = append(problems, fmt.Sprintf("line %d: %s is not a variable internal/config declares (nor one the tests or CI read)", i+1, name))
			}
		}
		for _, m := range pathRE.FindAllStringSubmatch(line, -1) {
			p := m[1]
			if strings.Contains(p, "node_modules") || strings.Contains(p, "cdk.out") {
				continue // made by npm ci / cdk synth
			}
			if !exists(filepath.Join(root, p)) && !exists(filepath.Join(root, dir, p)) {
				problems = append(problems, fmt.Sprintf("line %d: %s does not exist", i+1, p))
			}
		}
	}
	return problems
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// makeTargets lists the targets of the Makefile and mk/*.mk.
func makeTargets(t *testing.T, root string) []string {
	files, _ := filepath.Glob(filepath.Join(root, "mk", "*.mk"))
	var targets []string
	for _, f := range append(files, filepath.Join(root, "Makefile")) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range targetRE.FindAllStringSubmatch(string(b), -1) {
			targets = append(targets, m[1])
		}
	}
	return targets
}

// TestDocs checks the READMEs against the program: every mlserve command
// line parses with the real cobra tree, every MLSERVE_ name is a variable
// mlserve reads, every repository path and make target exists.
func TestDocs(t *testing.T) {
	root := testsupport.RepoRoot(t)
	targets, vars := makeTargets(t, root), testVars(t, root)
	for _, f := range docFiles {
		t.Run(f, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(root, f))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, c := range docCommands(string(b)) {
				for _, w := range shellCommands(c.text) {
					if _, ok := mlserveArgs(w); ok {
						n++
					}
				}
			}
			t.Logf("%d mlserve command lines", n)
			for _, p := range checkDoc(root, filepath.Dir(f), string(b), targets, vars) {
				t.Errorf("%s %s", f, p)
			}
		})
	}
}

// TestDocsCatches feeds the checker READMEs with one mistake each: it must
// find every one, and nothing in the correct one.
func TestDocsCatches(t *testing.T) {
	root := testsupport.RepoRoot(t)
	targets, vars := makeTargets(t, root), testVars(t, root)
	block := func(lines ...string) string { return "```sh\n" + strings.Join(lines, "\n") + "\n```\n" }
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"made-up flag", block("mlserve classify --no-such-flag testdata/dog.jpg"), "unknown flag: --no-such-flag"},
		{"made-up shorthand", block("mlserve serve -Z"), "unknown shorthand flag"},
		{"made-up flag, continued line", block("mlserve batch --input ./in \\", "  --outptu ./out"), "unknown flag: --outptu"},
		{"made-up flag after a pipe", block("cat x.jpg | mlserve classify --jsn -"), "unknown flag: --jsn"},
		{"made-up flag under the RIE", block("aws-lambda-rie mlserve lambda --nope"), "unknown flag: --nope"},
		{"made-up flag inline", "Run `mlserve classify --colour photo.jpg`.", "unknown flag: --colour"},
		{"bad flag value", block("mlserve classify --top-k many x.jpg"), "invalid argument"},
		{"unknown subcommand", block("mlserve clasify x.jpg"), "unknown command"},
		{"unknown model subcommand", block("mlserve model fetch"), "unknown subcommand"},
		{"missing argument", block("mlserve classify"), "mlserve classify"},
		{"unknown variable", "Set `MLSERVE_MODLE` to a path.", "MLSERVE_MODLE is not a variable"},
		{"unknown test variable", "Set `MLSERVE_TEST_S3_ENDPIONT` first.", "MLSERVE_TEST_S3_ENDPIONT is not a variable"},
		{"missing path", "The photo is `testdata/cat.jpg`.", "testdata/cat.jpg does not exist"},
		{"missing make target", block("make no-such-target"), "no such target"},
		{"missing package", block("go test -run X ./internal/nosuch"), "internal/nosuch does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems := checkDoc(root, ".", tc.doc, targets, vars)
			if len(problems) != 1 || !strings.Contains(problems[0], tc.want) {
				t.Errorf("problems %q, want one containing %q", problems, tc.want)
			}
		})
	}
	good := block("mlserve classify --json --top-k 3 testdata/dog.jpg", "MLSERVE_MODEL=m.onnx mlserve serve --addr :8080 &",
		"mlserve model info", "mlserve --help", "make test") + "`mlserve classify --endpoint` and `MLSERVE_TOP_K`, `scripts/fetch-model.sh`, `MLSERVE_CI_KERNELS`, `MLSERVE_TEST_S3_ENDPOINT`"
	if p := checkDoc(root, ".", good, targets, vars); len(p) != 0 {
		t.Errorf("correct doc: %q", p)
	}
}

// TestHelpExamples checks the Example lines of every command's --help the
// same way: each `$ mlserve ...` line parses with the tree it documents.
func TestHelpExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		for _, line := range strings.Split(c.Example, "\n") {
			cmdline, ok := strings.CutPrefix(strings.TrimSpace(line), "$ ")
			if !ok {
				continue
			}
			for _, words := range shellCommands(cmdline) {
				if args, ok := mlserveArgs(words); ok {
					n++
					if err := checkArgs(args, false); err != nil {
						t.Errorf("%s --help: %q: %v", c.CommandPath(), cmdline, err)
					}
				}
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewRootCmd(IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard, Env: config.Default()}))
	if n < 10 {
		t.Errorf("%d example lines in --help, want the commands' examples", n)
	}
	t.Logf("%d mlserve example lines in --help", n)
}
