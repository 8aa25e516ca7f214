#include "textflag.h"

// func goertzel8SSE(x []int16, c *[8]float32, s1, s2 *[8]float32) int64
//
// The eight Goertzel filters of goertzel8 with SSE: rows in one register,
// columns in another, so the loop-carried chain per sample is one MULPS and
// one ADDPS for all eight filters. The operations and their order are those
// of goertzel4, so the results are bit-identical to the Go code.
TEXT ·goertzel8SSE(SB), NOSPLIT, $0-56
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), DX
	MOVQ c+24(FP), DI
	MOVQ s1+32(FP), R8
	MOVQ s2+40(FP), BX
	MOVUPS 0(R8), X0   // a rows
	MOVUPS 16(R8), X2  // a cols
	MOVUPS 0(BX), X1   // b rows
	MOVUPS 16(BX), X3  // b cols
	MOVUPS 0(DI), X4   // c rows
	MOVUPS 16(DI), X5  // c cols
	XORQ R9, R9        // energy
	XORQ CX, CX
	CMPQ CX, DX
	JGE done

loop:
	MOVWQSX (SI)(CX*2), AX
	XORPS X6, X6       // break the false dependency of CVTSL2SS
	CVTSL2SS AX, X6
	SHUFPS $0, X6, X6  // v in all four lanes
	IMULQ AX, AX
	ADDQ AX, R9

	MOVAPS X6, X7
	SUBPS X1, X7       // v - b
	MOVAPS X0, X1      // b = a
	MULPS X4, X0       // c*a
	ADDPS X7, X0       // a = (v-b) + c*a

	MOVAPS X6, X8
	SUBPS X3, X8
	MOVAPS X2, X3
	MULPS X5, X2
	ADDPS X8, X2

	INCQ CX
	CMPQ CX, DX
	JLT loop

done:
	MOVUPS X0, 0(R8)
	MOVUPS X2, 16(R8)
	MOVUPS X1, 0(BX)
	MOVUPS X3, 16(BX)
	MOVQ R9, ret+48(FP)
	RET
