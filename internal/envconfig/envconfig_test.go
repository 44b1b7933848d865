package envconfig

import (
	"sort"
	"strings"
	"testing"
	"time"
)

func TestVarsSortedAndUnique(t *testing.T) {
	if !sort.SliceIsSorted(Vars, func(i, j int) bool { return Vars[i].Name < Vars[j].Name }) {
		t.Error("Vars is not sorted by name")
	}
	for i := 1; i < len(Vars); i++ {
		if Vars[i].Name == Vars[i-1].Name {
			t.Errorf("%s declared twice", Vars[i].Name)
		}
	}
	help := Help()
	for _, v := range Vars {
		if !strings.HasPrefix(v.Name, "MLSERVE_") || v.Usage == "" || !strings.Contains(help, v.Name) {
			t.Errorf("%s: bad declaration or missing from Help", v.Name)
		}
	}
}

func TestValues(t *testing.T) {
	t.Setenv("MLSERVE_TOP_K", " 7 ")
	if n, err := Int("MLSERVE_TOP_K"); n != 7 || err != nil {
		t.Errorf("Int = %d, %v", n, err)
	}
	t.Setenv("MLSERVE_TOP_K", "seven")
	if _, err := Int("MLSERVE_TOP_K"); err == nil || !strings.Contains(err.Error(), "MLSERVE_TOP_K") {
		t.Errorf("bad int: %v", err)
	}
	t.Setenv("MLSERVE_TOP_K", "")
	if n, _ := Int("MLSERVE_TOP_K"); n != 5 {
		t.Errorf("default = %d, want 5", n)
	}
	t.Setenv("MLSERVE_BATCH_WAIT", "2ms")
	if d, err := Duration("MLSERVE_BATCH_WAIT"); d != 2*time.Millisecond || err != nil {
		t.Errorf("Duration = %v, %v", d, err)
	}
	t.Setenv("MLSERVE_BATCH_WAIT", "soon")
	if _, err := Duration("MLSERVE_BATCH_WAIT"); err == nil {
		t.Error("bad duration accepted")
	}
	defer func() {
		if recover() == nil {
			t.Error("an undeclared variable did not panic")
		}
	}()
	String("MLSERVE_NOT_DECLARED")
}
