package dect_test

import (
	"bufio"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"basestation/dect"
)

const childEnv = "DECT_TABLE_CHILD_DIR"

// tableFor is the table written at generation g: its content is a pure
// function of g so the parent can check what it loads.
func tableFor(g uint64) *dect.Table {
	t := &dect.Table{Generation: g}
	n := int(g%5) + 1
	for i := 0; i < n; i++ {
		var k [16]byte
		for j := range k {
			k[j] = byte(g) ^ byte(i*16+j)
		}
		t.Devices = append(t.Devices, dect.Record{
			Handset: i + 1, IPEI: dect.IPEI{EMC: uint16(g), PSN: uint32(i)}, Type: dect.Linx,
			Model: fmt.Sprintf("model-%d-%d", g, i), UAK: k, PairedAt: time.Unix(int64(g), 0).UTC(),
		})
	}
	return t
}

// childWriter saves tables in a loop, printing each generation once saved
// ("error ..." and exit 2 when a save fails).
func childWriter() {
	dir := os.Getenv(childEnv)
	t, _, err := dect.LoadTable(dir)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	for g := t.Generation + 1; ; g++ {
		if err := dect.SaveTable(dir, tableFor(g)); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Println(g)
	}
}

// TestTableSurvivesSIGKILL re-executes the test binary as a child that
// saves tables in a loop and kills it with SIGKILL at a random moment once
// it is saving (it used to be killed after a fixed sleep, often before it
// had written anything, so a round could test nothing); after every kill
// the table must load whole, at the last generation the child reported
// saved or the one after it. Every round must have seen writes: the
// generations reached are counted.
func TestTableSurvivesSIGKILL(t *testing.T) {
	dir := t.TempDir()
	rounds := 40
	if testing.Short() {
		rounds = 15
	}
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	var confirmed uint64 // highest generation known to be on disk
	mid := 0             // rounds killed after the child had saved at least once
	for i := 0; i < rounds; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var reported atomic.Uint64 // the last generation the child printed
		started := make(chan struct{})
		readDone := make(chan struct{})
		childErr := make(chan string, 1)
		go func() {
			defer close(readDone)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				g, err := strconv.ParseUint(sc.Text(), 10, 64)
				if err != nil {
					select {
					case childErr <- sc.Text():
					default:
					}
					continue
				}
				if reported.Swap(g) == 0 {
					close(started)
				}
			}
		}()
		// Wait until the child is writing, then let it run a random while
		// and kill it mid-flight.
		select {
		case <-started:
			mid++
		case <-readDone:
			_ = cmd.Wait()
			msg := "no output"
			select {
			case msg = <-childErr:
			default:
			}
			t.Fatalf("round %d: the child stopped before saving: %s", i, msg)
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("round %d: the child never saved", i)
		}
		time.Sleep(time.Duration(rng.Intn(20000)) * time.Microsecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-readDone
		_ = cmd.Wait()
		last := max(confirmed, reported.Load())
		select {
		case msg := <-childErr:
			t.Fatalf("round %d: the child failed: %s", i, msg)
		default:
		}
		got, _, err := dect.LoadTable(dir)
		if err != nil {
			t.Fatalf("round %d: table broken after SIGKILL: %v", i, err)
		}
		if got.Generation < last || got.Generation > last+1 {
			t.Fatalf("round %d: loaded generation %d, last completed write %d", i, got.Generation, last)
		}
		confirmed = got.Generation
		if want := tableFor(got.Generation); !reflect.DeepEqual(got.Devices, normalise(want).Devices) {
			t.Fatalf("round %d: generation %d content differs:\n got %+v\nwant %+v", i, got.Generation, got.Devices, want.Devices)
		}
	}
	t.Logf("%d kills, all during writes; the child reached generation %d", mid, confirmed)
	if mid != rounds || confirmed < uint64(rounds) {
		t.Fatalf("only %d of %d kills came during writes (generation %d)", mid, rounds, confirmed)
	}
}

// normalise runs a table through encode/decode so derived fields match.
func normalise(t *dect.Table) *dect.Table {
	b, err := t.Encode()
	if err != nil {
		panic(err)
	}
	n, err := dect.DecodeTable(b)
	if err != nil {
		panic(err)
	}
	return n
}

func TestCorruptTableFallsBackToBackup(t *testing.T) {
	dir := t.TempDir()
	if err := dect.SaveTable(dir, tableFor(1)); err != nil {
		t.Fatal(err)
	}
	if err := dect.SaveTable(dir, tableFor(2)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, dect.TableFile)
	b, _ := os.ReadFile(path)
	b[len(b)-5] ^= 0x20 // one flipped bit in the body
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	got, restored, err := dect.LoadTable(dir)
	if err != nil || !restored || got.Generation != 1 {
		t.Fatalf("load: gen %v restored %v err %v", got, restored, err)
	}
	// The driver reports it.
	drv, err := dect.New(halRadioForTable(), &dect.Options{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-drv.Events():
		if e.Kind != dect.EventTableRestored {
			t.Errorf("event %v", e)
		}
	default:
		t.Error("no table-restored event")
	}
	if len(drv.Devices()) != 2 {
		t.Errorf("devices %v", drv.Devices())
	}
	// A save now must not replace the good backup with the corrupt file.
	if err := dect.SaveTable(dir, tableFor(3)); err != nil {
		t.Fatal(err)
	}
	if bak, err := os.ReadFile(path + ".bak"); err != nil {
		t.Fatal(err)
	} else if bt, err := dect.DecodeTable(bak); err != nil || bt.Generation != 1 {
		t.Errorf("backup after save: %v %v", bt, err)
	}
	// Both copies broken: a clear error.
	os.WriteFile(path, []byte("junk"), 0o600)
	os.WriteFile(path+".bak", []byte("junk"), 0o600)
	if _, _, err := dect.LoadTable(dir); err == nil {
		t.Fatal("loaded a table from two corrupt files")
	}
	if _, err := dect.New(halRadioForTable(), &dect.Options{StateDir: dir}); err == nil {
		t.Fatal("New accepted an unreadable table")
	}
}

func TestDecodeTableRejects(t *testing.T) {
	good, _ := tableFor(3).Encode()
	if _, err := dect.DecodeTable(good); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"empty":     nil,
		"no header": []byte("{}"),
		"truncated": good[:len(good)-10],
	} {
		if _, err := dect.DecodeTable(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
