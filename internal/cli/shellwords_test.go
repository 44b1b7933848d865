package cli

import (
	"slices"
	"strings"
	"testing"
)

// shellCommands splits one line of sh into its simple commands (split at
// unquoted |, ||, &&, ; and &), each a list of words with quotes removed.
// It knows what the READMEs use: single and double quotes, backslash
// escapes, $(...) kept whole inside a word, and # comments. Redirections
// (>, 2>&1, < file) are dropped with their target; a <placeholder> glued
// to other characters (https://<api-id>.example) stays a word.
func shellCommands(line string) [][]string {
	var (
		cmds  [][]string
		words []string
		word  strings.Builder
		inW   bool
	)
	endWord := func() {
		if inW {
			words = append(words, word.String())
			word.Reset()
			inW = false
		}
	}
	endCmd := func() {
		endWord()
		if len(words) > 0 {
			cmds = append(cmds, dropRedirections(words))
		}
		words = nil
	}
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				j = len(line) - i - 1
			}
			word.WriteString(line[i+1 : i+1+j])
			inW, i = true, i+1+j
		case ch == '"':
			inW = true
			for i++; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) {
					i++
				}
				word.WriteByte(line[i])
			}
		case ch == '\\' && i+1 < len(line):
			word.WriteByte(line[i+1])
			inW, i = true, i+1
		case ch == '$' && i+1 < len(line) && line[i+1] == '(':
			depth, j := 0, i+1
			for ; j < len(line); j++ {
				if line[j] == '(' {
					depth++
				} else if line[j] == ')' {
					if depth--; depth == 0 {
						break
					}
				}
			}
			word.WriteString(line[i:min(j+1, len(line))])
			inW, i = true, j
		case ch == '#' && !inW:
			endCmd()
			return cmds
		case ch == ' ' || ch == '\t':
			endWord()
		case ch == '|' || ch == ';' || ch == '&' && (i+1 < len(line) && line[i+1] == '&' || !inW):
			if ch == '&' && i > 0 && line[i-1] == '>' {
				word.WriteByte(ch) // 2>&1
				break
			}
			endCmd()
			if i+1 < len(line) && line[i+1] == ch {
				i++
			}
		default:
			word.WriteByte(ch)
			inW = true
		}
	}
	endCmd()
	return cmds
}

// dropRedirections removes >, >>, 2>, < with their target word, and words
// that are a whole redirection (>out, 2>&1).
func dropRedirections(words []string) []string {
	var out []string
	for i := 0; i < len(words); i++ {
		w := strings.TrimLeft(words[i], "0123456789")
		switch {
		case w == ">" || w == ">>" || w == "<":
			i++ // and its target
		case strings.HasPrefix(w, ">") || strings.HasPrefix(w, "<") && !strings.HasSuffix(w, ">"):
		default:
			out = append(out, words[i])
		}
	}
	return out
}

func TestShellCommands(t *testing.T) {
	for _, tc := range []struct {
		line string
		want [][]string
	}{
		{`mlserve classify photo.jpg   # top-5`, [][]string{{"mlserve", "classify", "photo.jpg"}}},
		{`curl -s x | mlserve classify -`, [][]string{{"curl", "-s", "x"}, {"mlserve", "classify", "-"}}},
		{`A=1 mlserve serve && echo "a b" 'c|d'`, [][]string{{"A=1", "mlserve", "serve"}, {"echo", "a b", "c|d"}}},
		{`mlserve batch --input "$(pwd)/in" 2>&1 > out.txt`, [][]string{{"mlserve", "batch", "--input", "$(pwd)/in"}}},
		{`mlserve classify --endpoint https://<api-id>.example <ApiUrl> x.jpg &`, [][]string{{"mlserve", "classify", "--endpoint", "https://<api-id>.example", "<ApiUrl>", "x.jpg"}}},
		{`echo a\ b; true`, [][]string{{"echo", "a b"}, {"true"}}},
	} {
		if got := shellCommands(tc.line); !slices.EqualFunc(got, tc.want, slices.Equal) {
			t.Errorf("shellCommands(%q)\n got %q\nwant %q", tc.line, got, tc.want)
		}
	}
}
