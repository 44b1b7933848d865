package main

import "fmt"

// Encodings of the AdvSIMD instruction forms Go's arm64 assembler lacks
// (Arm Architecture Reference Manual, A64 "Advanced SIMD vector x indexed
// element" and "Advanced SIMD three same"), all with arrangement 4S.

// encFMLAElem is FMLA Vd.4S, Vn.4S, Vm.S[idx]: 0 Q=1 0 01111 1 sz=0 L M Rm
// 0001 H 0 Rn Rd, with idx = H:L and Vm = M:Rm (any of V0-V31 for .S).
func encFMLAElem(d, n, m, idx int) uint32 {
	check(d, n, m)
	if idx < 0 || idx > 3 {
		panic(fmt.Sprintf("FMLA: lane %d", idx))
	}
	h, l := uint32(idx>>1), uint32(idx&1)
	return 0x4f801000 | l<<21 | uint32(m)<<16 | h<<11 | uint32(n)<<5 | uint32(d)
}

// encFADD is FADD Vd.4S, Vn.4S, Vm.4S: 0 Q=1 0 01110 0 sz=0 1 Rm 11010 1 Rn Rd.
func encFADD(d, n, m int) uint32 {
	check(d, n, m)
	return 0x4e20d400 | uint32(m)<<16 | uint32(n)<<5 | uint32(d)
}

// encFMAX is FMAX Vd.4S, Vn.4S, Vm.4S: 0 Q=1 0 01110 0 sz=0 1 Rm 11110 1 Rn Rd.
// It returns NaN when either operand is NaN and +0 for max(-0, +0), like
// the amd64 kernels' max(v, 0) and the generic kernel's v < 0 test.
func encFMAX(d, n, m int) uint32 {
	check(d, n, m)
	return 0x4e20f400 | uint32(m)<<16 | uint32(n)<<5 | uint32(d)
}

func check(regs ...int) {
	for _, r := range regs {
		if r < 0 || r > 31 {
			panic(fmt.Sprintf("bad vector register V%d", r))
		}
	}
}

func fmlaElem(s *file, d, n, m, idx int) {
	s.word(encFMLAElem(d, n, m, idx), fmt.Sprintf("FMLA V%d.S4, V%d.S4, V%d.S[%d]", d, n, m, idx))
}

func fadd(s *file, d, n, m int) {
	s.word(encFADD(d, n, m), fmt.Sprintf("FADD V%d.S4, V%d.S4, V%d.S4", d, n, m))
}

func fmax(s *file, d, n, m int) {
	s.word(encFMAX(d, n, m), fmt.Sprintf("FMAX V%d.S4, V%d.S4, V%d.S4", d, n, m))
}
