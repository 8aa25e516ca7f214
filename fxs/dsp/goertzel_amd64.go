package dsp

// goertzel8SSE is goertzel8 in SSE assembly (goertzel_amd64.s).
//
//go:noescape
func goertzel8SSE(x []int16, c *[8]float32, s1, s2 *[8]float32) int64

// goertzel8 runs the row and the column filters over x and returns the
// energy of x.
func goertzel8(x []int16, c, s1, s2 *[8]float32) int64 {
	return goertzel8SSE(x, c, s1, s2)
}
