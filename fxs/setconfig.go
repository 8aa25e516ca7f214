package fxs

import (
	"fmt"
	"slices"
	"strings"

	"basestation/fxs/dsp"
)

// SetConfig changes the port's behaviour while it runs (the cloud changed
// the dial plan, the tone region, the timers): the new configuration takes
// effect at the next frame, and a call in progress keeps going. The ring
// generator's frequency and amplitude are programmed into the SLIC at
// start-up and change only with a new Port. An invalid configuration is
// refused whole with an error naming the field; the old one stays.
func (p *Port) SetConfig(cfg Config) error {
	c, err := cfg.compile()
	if err != nil {
		return err
	}
	cfg.Cadences = cloneCadences(cfg.Cadences)
	cfg.EmergencyNumbers = slices.Clone(cfg.EmergencyNumbers)
	// Not running yet: nothing else reads the loop's state, and startMu
	// keeps Run from starting until the change is made.
	p.startMu.Lock()
	if !p.run.Load() {
		defer p.startMu.Unlock()
		return p.l.setConfig(&cfg, c.plan)
	}
	p.startMu.Unlock()
	err = p.do(command{kind: cmdConfig, cfg: &cfg, plan: c.plan})
	if err == ErrNotRunning {
		// Run has ended (done is closed): its loop reads nothing more.
		return p.l.setConfig(&cfg, c.plan)
	}
	return err
}

// setConfig swaps the configuration in the frame loop's goroutine,
// rebuilding the tone generator when the region changed and the hook
// classifier when the flash window changed.
func (l *loop) setConfig(cfg *Config, plan *DialPlan) error {
	p := l.p
	p.cfgMu.RLock()
	old := p.cfg
	p.cfgMu.RUnlock()
	gen := l.gen
	if !strings.EqualFold(old.Region, cfg.Region) {
		tp, err := dsp.PlanFor(cfg.Region)
		if err != nil {
			return fmt.Errorf("fxs: tone plan: %w", err)
		}
		if gen, err = dsp.NewToneGenerator(tp, p.rate); err != nil {
			return fmt.Errorf("fxs: tone generator: %w", err)
		}
	}
	hc := l.hc
	if old.FlashMin != cfg.FlashMin || old.FlashMax != cfg.FlashMax {
		ho := dsp.DefaultHookOpts()
		ho.FlashMin, ho.FlashMax = cfg.FlashMin, cfg.FlashMax
		var err error
		if hc, err = dsp.NewHookClassifier(&ho); err != nil {
			return fmt.Errorf("fxs: hook classifier: %w", err)
		}
	}
	p.cfgMu.Lock()
	p.cfg = *cfg
	p.plan = plan
	p.cfgMu.Unlock()
	l.gen, l.hc = gen, hc
	return nil
}
