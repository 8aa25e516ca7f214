//go:build !amd64

package dsp

// goertzel8 runs the row and the column filters over x and returns the
// energy of x.
func goertzel8(x []int16, c, s1, s2 *[8]float32) int64 {
	return goertzel8Go(x, c, s1, s2)
}
