package dect

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"basestation/dect/wire"
	"basestation/internal/atomicfile"
)

// TableFile is the name of the paired-device table in the state directory;
// TableFile+".bak" holds the previous version.
const TableFile = "dect-devices.json"

const tableMagic = "dect-devices v1 sha256="

// Record is one paired device as stored on disk.
type Record struct {
	Handset  int             `json:"handset"`
	IPEI     wire.IPEI       `json:"-"`
	EMC      uint16          `json:"emc"`
	PSN      uint32          `json:"psn"`
	Type     wire.DeviceType `json:"-"`
	TypeName string          `json:"type"`
	Model    string          `json:"model"`
	Wideband bool            `json:"wideband"`
	UAK      [16]byte        `json:"-"`
	UAKHex   string          `json:"uak"`
	PairedAt time.Time       `json:"paired_at"`
}

// Table is the persisted set of paired devices. Generation increases with
// every save.
type Table struct {
	Generation uint64   `json:"generation"`
	Devices    []Record `json:"devices"`
}

// Encode renders the table file: a header line carrying the SHA-256 of the
// JSON body, then the body.
func (t *Table) Encode() ([]byte, error) {
	c := Table{Generation: t.Generation, Devices: make([]Record, len(t.Devices))}
	for i, r := range t.Devices {
		r.EMC, r.PSN = r.IPEI.EMC, r.IPEI.PSN
		r.TypeName = r.Type.String()
		r.UAKHex = hex.EncodeToString(r.UAK[:])
		c.Devices[i] = r
	}
	sort.Slice(c.Devices, func(i, j int) bool { return c.Devices[i].Handset < c.Devices[j].Handset })
	body, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	var b bytes.Buffer
	b.WriteString(tableMagic)
	b.WriteString(hex.EncodeToString(sum[:]))
	b.WriteByte('\n')
	b.Write(body)
	return b.Bytes(), nil
}

// DecodeTable parses and verifies a table file.
func DecodeTable(data []byte) (*Table, error) {
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 || !bytes.HasPrefix(data, []byte(tableMagic)) {
		return nil, errors.New("table: missing header line")
	}
	want, err := hex.DecodeString(string(data[len(tableMagic):nl]))
	if err != nil || len(want) != sha256.Size {
		return nil, errors.New("table: malformed checksum in header")
	}
	body := data[nl+1:]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], want) {
		return nil, errors.New("table: checksum mismatch (file corrupt or truncated)")
	}
	var t Table
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("table: %w", err)
	}
	seenH := map[int]bool{}
	seenI := map[wire.IPEI]bool{}
	for i := range t.Devices {
		r := &t.Devices[i]
		if r.Handset < 1 || r.Handset > wire.MaxDevices {
			return nil, fmt.Errorf("table: device %d: handset number out of range", r.Handset)
		}
		if r.PSN > 0xFFFFF {
			return nil, fmt.Errorf("table: device %d: IPEI serial exceeds 20 bits", r.Handset)
		}
		r.IPEI = wire.IPEI{EMC: r.EMC, PSN: r.PSN}
		switch r.TypeName {
		case "linx":
			r.Type = wire.Linx
		case "headset":
			r.Type = wire.Headset
		default:
			return nil, fmt.Errorf("table: device %d: unknown type %q", r.Handset, r.TypeName)
		}
		k, err := hex.DecodeString(r.UAKHex)
		if err != nil || len(k) != 16 {
			return nil, fmt.Errorf("table: device %d: malformed key", r.Handset)
		}
		copy(r.UAK[:], k)
		if seenH[r.Handset] || seenI[r.IPEI] {
			return nil, fmt.Errorf("table: device %d (%v) listed twice", r.Handset, r.IPEI)
		}
		seenH[r.Handset], seenI[r.IPEI] = true, true
	}
	return &t, nil
}

// SaveTable writes the table to dir atomically (internal/atomicfile): the
// new content goes to a temporary file which is fsynced, the current file
// becomes the backup, the temporary file is renamed into place and the
// directory is fsynced. A crash at any point leaves a file (current or
// backup) holding either the old or the new table.
func SaveTable(dir string, t *Table) error {
	data, err := t.Encode()
	if err != nil {
		return fmt.Errorf("dect: save table: %w", err)
	}
	// Keep the current file as the backup only if it is intact: a corrupt
	// current file must not overwrite a good backup.
	var o atomicfile.Options
	if cur, err := os.ReadFile(filepath.Join(dir, TableFile)); err == nil {
		if _, derr := DecodeTable(cur); derr == nil {
			o.Backup = TableFile + ".bak"
		}
	}
	if err := atomicfile.Write(dir, TableFile, data, 0o600, &o); err != nil {
		return fmt.Errorf("dect: save table: %w", err)
	}
	return nil
}

// LoadTable reads the table from dir. A missing table is an empty one. A
// corrupt current file falls back to the backup; restored reports that. It
// fails only when a table existed and neither copy is readable.
func LoadTable(dir string) (t *Table, restored bool, err error) {
	path := filepath.Join(dir, TableFile)
	cur, cerr := os.ReadFile(path)
	if cerr == nil {
		t, derr := DecodeTable(cur)
		if derr == nil {
			return t, false, nil
		}
		cerr = derr
	} else if !errors.Is(cerr, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("dect: load table: %w", cerr)
	}
	bak, berr := os.ReadFile(path + ".bak")
	if berr == nil {
		t, derr := DecodeTable(bak)
		if derr == nil {
			return t, true, nil
		}
		berr = derr
	}
	if errors.Is(cerr, fs.ErrNotExist) && errors.Is(berr, fs.ErrNotExist) {
		return &Table{}, false, nil
	}
	var msgs []string
	if !errors.Is(cerr, fs.ErrNotExist) {
		msgs = append(msgs, fmt.Sprintf("%s: %v", path, cerr))
	}
	if !errors.Is(berr, fs.ErrNotExist) {
		msgs = append(msgs, fmt.Sprintf("%s.bak: %v", path, berr))
	}
	if errors.Is(cerr, fs.ErrNotExist) || len(msgs) == 1 {
		// Only one copy existed and it is broken.
		return nil, false, fmt.Errorf("dect: load table: %s", strings.Join(msgs, "; "))
	}
	return nil, false, fmt.Errorf("dect: load table: both copies unreadable: %s", strings.Join(msgs, "; "))
}
