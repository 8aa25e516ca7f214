package provisioning_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"basestation/provisioning"
	"basestation/provisioning/provisioningtest"
)

// fakeUpdater queues each job and reports it through the agent.
type fakeUpdater struct {
	mu    sync.Mutex
	agent *provisioning.Agent
	jobs  map[string]provisioning.FirmwareJob
	wg    sync.WaitGroup // the reporting goroutines
}

func (f *fakeUpdater) SubmitFirmware(_ context.Context, id string, a provisioning.FirmwareUpdateArgs) (provisioning.FirmwareJob, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if j, ok := f.jobs[id]; ok {
		j.Duplicate = true
		return j, nil
	}
	j := provisioning.FirmwareJob{ID: id, State: provisioning.JobQueued, Version: a.Version, Total: a.Size}
	f.jobs[id] = j
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		time.Sleep(50 * time.Millisecond)
		d := j
		d.State, d.Bytes = provisioning.JobDownloading, a.Size/2
		_ = f.agent.PublishFirmwareJob(d)
		d.State, d.Reason = provisioning.JobRejected, provisioning.RejectDowngrade
		f.mu.Lock()
		f.jobs[id] = d
		f.mu.Unlock()
		_ = f.agent.PublishFirmwareJob(d)
	}()
	return j, nil
}

// firmware-update reaches the updater with checked arguments; its job
// reports reach the cloud; bad arguments are rejected naming the field; a
// re-sent id is answered by the updater as a duplicate.
func TestFirmwareUpdateCommand(t *testing.T) {
	e := mochiEnv(t, false)
	fu := &fakeUpdater{jobs: map[string]provisioning.FirmwareJob{}}
	a, err := provisioning.NewAgent(provisioning.Options{
		BaseID: "bs-1", Brokers: []string{e.url}, TLS: e.baseTLS, StateDir: t.TempDir(),
		Applier: provisioningtest.NewApplier(), Radio: provisioningtest.NewRadio(), State: &provisioningtest.State{},
		Firmware: "test-1.0", FirmwareUpdater: fu, Logger: logger(t),
		MaxReconnectInterval: 500 * time.Millisecond, ConnectRetryInterval: 200 * time.Millisecond, ConnectTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	fu.agent = a
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { fu.wg.Wait(); cancel(); <-done }()
	c := dialCloud(t, e)
	waitState(t, c, "bs-1", "online", func(*provisioning.State) bool { return true })
	tc := tctx(t, 10*time.Second)

	args := provisioning.FirmwareUpdateArgs{URL: "https://fw.example/b.raucb", Version: "1.2.0", Size: 100, SHA256: strings.Repeat("ab", 32)}
	var states []string
	j, r, err := c.FirmwareUpdate(tc, "bs-1", "fw-1", args, func(j provisioning.FirmwareJob) { states = append(states, j.State) })
	if err != nil || r != nil || j.State != provisioning.JobRejected || j.Reason != provisioning.RejectDowngrade {
		t.Fatalf("job %+v result %+v err %v", j, r, err)
	}
	if strings.Join(states, " ") != "queued downloading rejected" {
		t.Fatalf("states %v", states)
	}
	j, _, err = c.FirmwareUpdate(tc, "bs-1", "fw-1", args, nil)
	if err != nil || !j.Duplicate || j.State != provisioning.JobRejected {
		t.Fatalf("re-sent: %+v %v", j, err)
	}
	bad := args
	bad.URL = "http://fw.example/b.raucb"
	_, r, err = c.FirmwareUpdate(tc, "bs-1", "fw-2", bad, nil)
	if err != nil || r == nil || r.Status != provisioning.StatusRejected || !strings.Contains(r.Reason, "args.url") {
		t.Fatalf("http URL: %+v %v", r, err)
	}
}
