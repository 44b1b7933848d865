package main

import "testing"

// TestEncodings checks the encoders against GNU as: the want values are
// aarch64-linux-gnu-as 2.40 (Debian binutils-aarch64-linux-gnu) output for
// the instruction in the test name, read back with objdump -d.
func TestEncodings(t *testing.T) {
	for _, tc := range []struct {
		text string
		got  uint32
		want uint32
	}{
		{"fmla v0.4s, v26.4s, v24.s[0]", encFMLAElem(0, 26, 24, 0), 0x4f981340},
		{"fmla v23.4s, v28.4s, v25.s[3]", encFMLAElem(23, 28, 25, 3), 0x4fb91b97},
		{"fmla v5.4s, v27.4s, v24.s[1]", encFMLAElem(5, 27, 24, 1), 0x4fb81365},
		{"fmla v31.4s, v1.4s, v17.s[2]", encFMLAElem(31, 1, 17, 2), 0x4f91183f},
		{"fadd v0.4s, v0.4s, v25.4s", encFADD(0, 0, 25), 0x4e39d400},
		{"fadd v17.4s, v3.4s, v30.4s", encFADD(17, 3, 30), 0x4e3ed471},
		{"fmax v0.4s, v0.4s, v24.4s", encFMAX(0, 0, 24), 0x4e38f400},
		{"fmax v23.4s, v9.4s, v31.4s", encFMAX(23, 9, 31), 0x4e3ff537},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: encoded %#08x, want %#08x", tc.text, tc.got, tc.want)
		}
	}
}

func TestEncodingsPanic(t *testing.T) {
	for name, f := range map[string]func(){
		"lane 4": func() { encFMLAElem(0, 1, 2, 4) },
		"reg 32": func() { encFADD(32, 0, 0) },
		"reg -1": func() { encFMAX(0, -1, 0) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		})
	}
}
