package provisioning_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"basestation/provisioning"
	"basestation/provisioning/provisioningtest"
)

// fakeTester answers the port's diagnostics; release lets a running test
// end (nil: end at once).
type fakeTester struct {
	err     error
	release chan struct{}
	started chan string
}

func (f *fakeTester) run(ctx context.Context, what string) (json.RawMessage, error) {
	if f.started != nil {
		f.started <- what
	}
	if f.release != nil {
		select {
		case <-f.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	return json.RawMessage(fmt.Sprintf(`{"pass":true,"what":%q}`, what)), nil
}

func (f *fakeTester) LineTest(ctx context.Context, port string) (json.RawMessage, error) {
	return f.run(ctx, "line-test "+port)
}

func (f *fakeTester) CallerIDSelfTest(ctx context.Context) (json.RawMessage, error) {
	return f.run(ctx, "self-test")
}

func startDiagBase(t *testing.T, lt provisioning.LineTester) (*base, func(id, name string, args any) (*provisioning.Result, []string)) {
	e := mochiEnv(t, false)
	b := startBaseWith(t, e, t.TempDir(), provisioningtest.NewRadio(), func(o *provisioning.Options) { o.LineTester = lt })
	c := dialCloud(t, e)
	waitState(t, c, b.id, "online", func(*provisioning.State) bool { return true })
	return b, func(id, name string, args any) (*provisioning.Result, []string) {
		t.Helper()
		var seen []string
		r, err := c.CommandID(tctx(t, 10*time.Second), b.id, id, name, args, func(r provisioning.Result) { seen = append(seen, r.Status) })
		if err != nil {
			t.Fatal(err)
		}
		return r, seen
	}
}

// Issue 16 §1–2: line-test and callerid-self-test are jobs with one result:
// accepted, then the port's result.
func TestDiagnosticJobs(t *testing.T) {
	_, cmd := startDiagBase(t, &fakeTester{})
	r, seen := cmd("lt-1", provisioning.CmdLineTest, nil)
	if r.Status != provisioning.StatusSucceeded || strings.Join(seen, ",") != "accepted,succeeded" || !strings.Contains(string(r.LineTest), `"line-test port1"`) {
		t.Fatalf("line-test: %v %+v (line_test %s)", seen, r, r.LineTest)
	}
	r, _ = cmd("st-1", provisioning.CmdCallerIDSelfTest, nil)
	if r.Status != provisioning.StatusSucceeded || !strings.Contains(string(r.SelfTest), `"self-test"`) || r.LineTest != nil {
		t.Fatalf("self-test: %+v", r)
	}
	for i, bad := range []struct {
		name string
		args any
		want string
	}{
		{provisioning.CmdLineTest, map[string]any{"port": "port2"}, "unknown-port"},
		{provisioning.CmdLineTest, map[string]any{"port": "port1", "loop": 1}, "loop"},
		{provisioning.CmdCallerIDSelfTest, map[string]any{"x": 1}, "args"},
	} {
		r, _ := cmd(fmt.Sprintf("bad-%d", i), bad.name, bad.args)
		if r.Status != provisioning.StatusRejected || !strings.Contains(r.Reason+r.Detail, bad.want) {
			t.Errorf("%s %v: %+v, want rejected naming %q", bad.name, bad.args, r, bad.want)
		}
	}
}

// A port in use refuses the test (rejected busy); a chip that fails is
// failed with its detail; one diagnostic at a time; a base without a
// testable SLIC says unsupported.
func TestDiagnosticRefusals(t *testing.T) {
	for _, c := range []struct {
		err           error
		status, wants string
	}{
		{fmt.Errorf("fxs: line busy: line call: %w", provisioning.ErrLineBusy), provisioning.StatusRejected, "busy"},
		{fmt.Errorf("the SLIC: %w", provisioning.ErrUnsupported), provisioning.StatusRejected, "unsupported"},
		{errors.New("proslic: read reg 80: bus error"), provisioning.StatusFailed, "bus error"},
	} {
		_, cmd := startDiagBase(t, &fakeTester{err: c.err})
		r, _ := cmd("lt", provisioning.CmdLineTest, nil)
		if r.Status != c.status || !strings.Contains(r.Reason+" "+r.Detail, c.wants) {
			t.Errorf("error %v: %+v, want %s naming %q", c.err, r, c.status, c.wants)
		}
	}

	ft := &fakeTester{release: make(chan struct{}), started: make(chan string, 2)}
	_, cmd := startDiagBase(t, ft)
	done := make(chan *provisioning.Result, 1)
	go func() { r, _ := cmd("lt-long", provisioning.CmdLineTest, nil); done <- r }()
	<-ft.started
	r, _ := cmd("st-meanwhile", provisioning.CmdCallerIDSelfTest, nil)
	if r.Status != provisioning.StatusRejected || r.Reason != "busy" || !strings.Contains(r.Detail, "lt-long") {
		t.Errorf("second diagnostic while one runs: %+v", r)
	}
	close(ft.release)
	if r := <-done; r.Status != provisioning.StatusSucceeded {
		t.Errorf("the first: %+v", r)
	}

	_, cmd = startDiagBase(t, nil)
	if r, _ := cmd("lt-none", provisioning.CmdLineTest, nil); r.Status != provisioning.StatusRejected || r.Reason != "unsupported" {
		t.Errorf("no tester: %+v", r)
	}
}
