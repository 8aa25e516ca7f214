package perf

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// CPUByStack sums the CPU time of a pprof CPU profile (the gzipped
// protocol buffer runtime/pprof writes; github.com/google/pprof
// proto/profile.proto) into buckets chosen by classify, which sees each
// sample's stack as function names, innermost first (inlined calls
// expanded). Results are in nanoseconds.
func CPUByStack(gz []byte, classify func(stack []string) string) (map[string]int64, error) {
	return ByStack(gz, "cpu", classify)
}

// ByStack is CPUByStack for any sample type of a profile: "inuse_space"
// of a heap profile gives live heap bytes by bucket.
func ByStack(gz []byte, sampleType string, classify func(stack []string) string) (map[string]int64, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	p, err := parseProfile(raw)
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	return p.byStack(sampleType, classify)
}

type profile struct {
	strs      []string
	types     []uint64            // sample_type type string indices
	samples   []sample            // samples
	locations map[uint64][]uint64 // location id → function ids, innermost first
	functions map[uint64]uint64   // function id → name string index
}

type sample struct {
	locs   []uint64
	values []int64
}

// packed appends the varints of a packed repeated field (or a single
// unpacked one) to dst.
func packed(dst []uint64, wt int, v uint64, d []byte) ([]uint64, error) {
	if wt == 0 {
		return append(dst, v), nil
	}
	if wt != 2 {
		return dst, fmt.Errorf("wire type %d for a repeated integer", wt)
	}
	for len(d) > 0 {
		x, k := binary.Uvarint(d)
		if k <= 0 {
			return dst, errors.New("bad packed varint")
		}
		dst = append(dst, x)
		d = d[k:]
	}
	return dst, nil
}

func parseProfile(b []byte) (*profile, error) {
	p := &profile{locations: map[uint64][]uint64{}, functions: map[uint64]uint64{}}
	err := pbFields(b, func(num int, wt int, v uint64, data []byte) error {
		if wt != 2 {
			return nil
		}
		switch num {
		case 1: // sample_type: ValueType{type=1, unit=2}
			var typ uint64
			err := pbFields(data, func(n, w int, v uint64, _ []byte) error {
				if n == 1 && w == 0 {
					typ = v
				}
				return nil
			})
			p.types = append(p.types, typ)
			return err
		case 2: // sample: Sample{location_id=1, value=2, label=3}
			var s sample
			err := pbFields(data, func(n, w int, v uint64, d []byte) error {
				var err error
				switch n {
				case 1:
					s.locs, err = packed(s.locs, w, v, d)
				case 2:
					var vs []uint64
					vs, err = packed(nil, w, v, d)
					for _, x := range vs {
						s.values = append(s.values, int64(x))
					}
				}
				return err
			})
			p.samples = append(p.samples, s)
			return err
		case 4: // location: Location{id=1, line=4 Line{function_id=1}}
			var id uint64
			var fns []uint64
			err := pbFields(data, func(n, w int, v uint64, d []byte) error {
				switch {
				case n == 1 && w == 0:
					id = v
				case n == 4 && w == 2:
					return pbFields(d, func(n, w int, v uint64, _ []byte) error {
						if n == 1 && w == 0 {
							fns = append(fns, v)
						}
						return nil
					})
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("location: %w", err)
			}
			if id == 0 {
				return errors.New("location with id 0")
			}
			p.locations[id] = fns
		case 5: // function: Function{id=1, name=2}
			var id, name uint64
			err := pbFields(data, func(n, w int, v uint64, _ []byte) error {
				if w == 0 && n == 1 {
					id = v
				}
				if w == 0 && n == 2 {
					name = v
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("function: %w", err)
			}
			if id == 0 {
				return errors.New("function with id 0")
			}
			p.functions[id] = name
		case 6: // string_table
			p.strs = append(p.strs, string(data))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (p *profile) str(i uint64) (string, error) {
	if i >= uint64(len(p.strs)) {
		return "", fmt.Errorf("string index %d outside the table of %d", i, len(p.strs))
	}
	return p.strs[i], nil
}

func (p *profile) byStack(sampleType string, classify func([]string) string) (map[string]int64, error) {
	col := -1
	for i, t := range p.types {
		s, err := p.str(t)
		if err != nil {
			return nil, fmt.Errorf("profile: %w", err)
		}
		if s == sampleType {
			col = i
		}
	}
	if col < 0 {
		return nil, fmt.Errorf("profile: no sample type %q", sampleType)
	}
	out := map[string]int64{}
	var stack []string
	for _, s := range p.samples {
		if col >= len(s.values) {
			return nil, fmt.Errorf("profile: sample with %d values, want at least %d", len(s.values), col+1)
		}
		stack = stack[:0]
		for _, l := range s.locs {
			fns, ok := p.locations[l]
			if !ok {
				return nil, fmt.Errorf("profile: sample names location %d, which is not in the profile", l)
			}
			for _, f := range fns {
				ni, ok := p.functions[f]
				if !ok {
					return nil, fmt.Errorf("profile: location %d names function %d, which is not in the profile", l, f)
				}
				name, err := p.str(ni)
				if err != nil {
					return nil, fmt.Errorf("profile: %w", err)
				}
				stack = append(stack, name)
			}
		}
		out[classify(stack)] += s.values[col]
	}
	return out, nil
}

// pbFields walks the fields of one protocol buffer message, calling f with
// the field number, wire type, the varint (wire type 0) or the bytes
// (wire type 2). Fixed 32/64-bit fields are skipped; groups are refused.
func pbFields(b []byte, f func(num, wt int, v uint64, data []byte) error) error {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return errors.New("bad field tag")
		}
		b = b[n:]
		num, wt := int(tag>>3), int(tag&7)
		if num == 0 {
			return errors.New("field number 0")
		}
		var v uint64
		var data []byte
		switch wt {
		case 0:
			v, n = binary.Uvarint(b)
			if n <= 0 {
				return fmt.Errorf("field %d: bad varint", num)
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return fmt.Errorf("field %d: short fixed64", num)
			}
			b = b[8:]
			continue
		case 5:
			if len(b) < 4 {
				return fmt.Errorf("field %d: short fixed32", num)
			}
			b = b[4:]
			continue
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return fmt.Errorf("field %d: bad length", num)
			}
			data = b[n : n+int(l)]
			b = b[n+int(l):]
		default:
			return fmt.Errorf("field %d: unsupported wire type %d", num, wt)
		}
		if err := f(num, wt, v, data); err != nil {
			return err
		}
	}
	return nil
}
