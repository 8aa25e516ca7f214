package provisioning

import (
	"strings"
	"testing"
)

// TestCallQualitySettings: out-of-range settings are refused with their
// path; absent ones take the defaults; an explicit interval 0 is "off";
// Clone copies the settings deeply.
func TestCallQualitySettings(t *testing.T) {
	c := sample()
	dscp, iv := 64, 2
	c.System.SIPDSCP = &dscp
	c.System.CallQuality = &CallQualitySettings{IntervalS: &iv, MinMOSLQ: 5, MinR: 101, MaxLossPct: 0.01, MaxJitterMs: 1001, MaxRTTMs: -1}
	var got []string
	for _, e := range Validate(c, "bs-1", known) {
		got = append(got, e.Path)
	}
	want := "system.sip_dscp system.call_quality.interval_s system.call_quality.min_mos_lq system.call_quality.min_r " +
		"system.call_quality.max_loss_pct system.call_quality.max_jitter_ms system.call_quality.max_rtt_ms"
	if strings.Join(got, " ") != want {
		t.Errorf("errors at %v, want %s", got, want)
	}

	d := sample().System
	q := d.QualitySettings()
	if *q.IntervalS != 30 || q.MinMOSLQ != 3.5 || q.MinR != 70 || q.MaxLossPct != 3 || q.MaxJitterMs != 40 || q.MaxRTTMs != 400 || d.SIPDSCPValue() != 24 {
		t.Errorf("defaults %+v interval %d DSCP %d", q, *q.IntervalS, d.SIPDSCPValue())
	}
	off, zero := 0, 0
	c = sample()
	c.System.SIPDSCP = &zero
	c.System.CallQuality = &CallQualitySettings{IntervalS: &off, MinR: 60}
	if errs := Validate(c, "bs-1", known); errs != nil {
		t.Fatalf("interval 0 (off), DSCP 0 refused: %v", errs)
	}
	if q := c.System.QualitySettings(); *q.IntervalS != 0 || q.MinR != 60 || q.MinMOSLQ != 3.5 || c.System.SIPDSCPValue() != 0 {
		t.Errorf("explicit values %+v", q)
	}
	n := c.Clone()
	*n.System.CallQuality.IntervalS, *n.System.SIPDSCP = 60, 46
	if *c.System.CallQuality.IntervalS != 0 || *c.System.SIPDSCP != 0 {
		t.Error("Clone shares the call-quality settings")
	}
	b := []byte(`{"schema":1,"base":"bs-1","version":1,"system":{"registrars":["sip:pbx.example.net"],"tone_region":"US","time_zone":"",
		"sip_dscp":26,"call_quality":{"interval_s":0,"min_mos_lq":3.8,"max_jitter_ms":30}},"extensions":[]}`)
	cfg, err := DecodeConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if q := cfg.System.QualitySettings(); *q.IntervalS != 0 || q.MinMOSLQ != 3.8 || q.MaxJitterMs != 30 || cfg.System.SIPDSCPValue() != 26 {
		t.Errorf("decoded %+v", q)
	}
	if _, err := DecodeConfig([]byte(strings.Replace(string(b), `"max_jitter_ms"`, `"max_jitter"`, 1))); err == nil {
		t.Error("an unknown call_quality field accepted")
	}
}
