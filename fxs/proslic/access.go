package proslic

import "fmt"

// ReadReg reads one direct register. It does not allocate.
func (d *Dev) ReadReg(reg uint8) (uint8, error) {
	d.mu.Lock()
	v, err := d.readReg(reg)
	d.mu.Unlock()
	return v, err
}

// WriteReg writes one direct register. It does not allocate.
func (d *Dev) WriteReg(reg, v uint8) error {
	d.mu.Lock()
	err := d.writeReg(reg, v)
	d.mu.Unlock()
	return err
}

// The Si321x deselects between bytes: every byte is its own transfer.
func (d *Dev) readReg(reg uint8) (uint8, error) {
	d.buf[0] = reg | 0x80
	if err := d.c.Tx(d.buf[:], nil); err != nil {
		return 0, d.busErr("read", reg, err)
	}
	d.buf[0] = 0
	if err := d.c.Tx(d.buf[:], d.rd[:]); err != nil {
		return 0, d.busErr("read", reg, err)
	}
	return d.rd[0], nil
}

func (d *Dev) writeReg(reg, v uint8) error {
	d.buf[0] = reg & 0x7F
	if err := d.c.Tx(d.buf[:], nil); err != nil {
		return d.busErr("write", reg, err)
	}
	d.buf[0] = v
	if err := d.c.Tx(d.buf[:], nil); err != nil {
		return d.busErr("write", reg, err)
	}
	return nil
}

// busErr is only built on the error path.
func (d *Dev) busErr(op string, reg uint8, err error) error {
	return &RegError{Bus: d.name, Op: op, Reg: reg, Err: err}
}

// RegError is a failed register access.
type RegError struct {
	Bus string
	Op  string
	Reg uint8
	Err error
}

func (e *RegError) Error() string {
	return fmt.Sprintf("proslic %s: %s reg %d: %v", e.Bus, e.Op, e.Reg, e.Err)
}

func (e *RegError) Unwrap() error { return e.Err }

// WriteIndirect writes one indirect register (Si3210 numbering; mapped for
// the Si3215 family). Registers absent on the part are skipped.
func (d *Dev) WriteIndirect(ir uint8, v uint16) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.writeIndirect(ir, v)
}

// ReadIndirect reads one indirect register (Si3210 numbering).
func (d *Dev) ReadIndirect(ir uint8) (uint16, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	addr, ok := d.irAddr(ir)
	if !ok {
		return 0, fmt.Errorf("%w: indirect register %d does not exist on %s", ErrInvalidValue, ir, d.id.Part)
	}
	if err := d.waitIndirect(ir); err != nil {
		return 0, err
	}
	if err := d.writeReg(regIAA, addr); err != nil {
		return 0, err
	}
	if err := d.waitIndirect(ir); err != nil {
		return 0, err
	}
	lo, err := d.readReg(regIDALo)
	if err != nil {
		return 0, err
	}
	hi, err := d.readReg(regIDAHi)
	if err != nil {
		return 0, err
	}
	return uint16(hi)<<8 | uint16(lo), nil
}

func (d *Dev) irAddr(ir uint8) (uint8, bool) {
	if !d.id.Part.is3215() {
		return ir, true
	}
	switch {
	case ir >= 13 && ir <= 40:
		return ir - 13, true
	case ir == 41 || ir == 43:
		return ir + 23, true
	case ir >= 88 && ir <= 98:
		return ir - 13, true
	case ir >= 99 && ir <= 104:
		return ir - 30, true
	}
	return 0, false
}

func (d *Dev) writeIndirect(ir uint8, v uint16) error {
	addr, ok := d.irAddr(ir)
	if !ok {
		return nil
	}
	if err := d.waitIndirect(ir); err != nil {
		return err
	}
	if err := d.writeReg(regIDALo, uint8(v)); err != nil {
		return err
	}
	if err := d.writeReg(regIDAHi, uint8(v>>8)); err != nil {
		return err
	}
	return d.writeReg(regIAA, addr)
}

// waitIndirect polls I_STATUS until the previous indirect access is done.
// An access takes a few µs at 8 kHz frame sync; 100 polls is generous.
func (d *Dev) waitIndirect(ir uint8) error {
	for i := 0; i < 100; i++ {
		v, err := d.readReg(regIStatus)
		if err != nil {
			return err
		}
		if v == 0 {
			return nil
		}
	}
	return fmt.Errorf("%w on %s: indirect register %d: I_STATUS (reg 31) stays busy", ErrTimeout, d.name, ir)
}
