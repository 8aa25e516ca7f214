package provisioning

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"basestation/internal/atomicfile"
)

// Store keeps the applied configuration in a state directory so the base
// boots and serves calls with no broker reachable (docs/mqtt-api.md §8).
//
// Files (every write through internal/atomicfile: temp file, fsync,
// rename, directory fsync):
//
//	config.json         the applied configuration without SIP passwords,
//	                    with the SHA-256 of its body and the name and
//	                    SHA-256 of the secrets file it pairs with
//	config.prev.json    the previous good config.json
//	secrets-<hash>.json the SIP passwords (mode 0600), named by content so
//	                    a config file always points at exactly its secrets
//	commands.json       the command de-duplication window
//
// Load verifies every checksum and falls back to config.prev.json when
// config.json (or its secrets file) is missing or corrupt. A Store is used
// by one goroutine at a time (the agent's loop).
type Store struct {
	dir string
	log *slog.Logger
}

const (
	storeFormat  = 1
	configFile   = "config.json"
	prevFile     = "config.prev.json"
	commandsFile = "commands.json"
)

// envelope wraps every stored file: the body's checksum over its exact
// bytes.
type envelope struct {
	Format int             `json:"format"`
	SHA256 string          `json:"sha256"`
	Body   json.RawMessage `json:"body"`
}

type configBody struct {
	SavedAt       time.Time `json:"saved_at"`
	SecretsFile   string    `json:"secrets_file"`
	SecretsSHA256 string    `json:"secrets_sha256"`
	Config        *Config   `json:"config"`
}

type secretsBody struct {
	// Passwords by extension number.
	Passwords map[string]string `json:"passwords"`
}

// LoadInfo tells where a loaded configuration came from and what was wrong
// with the files skipped on the way.
type LoadInfo struct {
	File     string   // the file used (config.json or config.prev.json)
	Problems []string // corrupt or unreadable files that were skipped
}

// OpenStore opens (creating it with mode 0700 if needed) the state
// directory and removes temp files left by an interrupted write.
func OpenStore(dir string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("provisioning store: %w", err)
	}
	own := func(name string) bool {
		return name == configFile || name == commandsFile || strings.HasPrefix(name, "secrets-")
	}
	if err := atomicfile.RemoveTemps(dir, own); err != nil {
		return nil, fmt.Errorf("provisioning store: %w", err)
	}
	return &Store{dir: dir, log: log}, nil
}

// Dir is the state directory.
func (s *Store) Dir() string { return s.dir }

// Save stores cfg as the applied configuration; the previous one becomes
// config.prev.json. When Save returns nil the configuration is durable; if
// the process dies during Save, Load returns either the new or the previous
// configuration, never a mix.
func (s *Store) Save(cfg *Config) error {
	red := cfg.Clone()
	sec := secretsBody{Passwords: map[string]string{}}
	for i := range red.Extensions {
		sec.Passwords[red.Extensions[i].Number] = red.Extensions[i].SIP.Password
		red.Extensions[i].SIP.Password = ""
	}
	secBytes, secSum, err := seal(sec)
	if err != nil {
		return fmt.Errorf("provisioning store: encode secrets: %w", err)
	}
	secName := "secrets-" + secSum[:16] + ".json"
	// The secrets file is named by its content: when the passwords did not
	// change, the intact file already there is reused.
	var existing secretsBody
	if sum, err := s.readSealedSum(secName, &existing); err != nil || sum != secSum {
		// No directory fsync yet: the one after config.json's rename
		// covers every entry of the directory.
		if err := atomicfile.Write(s.dir, secName, secBytes, 0o600, &atomicfile.Options{NoDirSync: true}); err != nil {
			return fmt.Errorf("provisioning store: write secrets: %w", err)
		}
	}
	cfgBytes, _, err := seal(configBody{SavedAt: time.Now().UTC(), SecretsFile: secName, SecretsSHA256: secSum, Config: red})
	if err != nil {
		return fmt.Errorf("provisioning store: encode config: %w", err)
	}
	// Keep the current file as the fallback, but only if it is good: a
	// corrupt config.json must not overwrite a good config.prev.json. It
	// becomes the fallback once the new file is on disk.
	var o atomicfile.Options
	if _, err := s.loadFile(configFile); err == nil {
		o.Backup = prevFile
	}
	if err := atomicfile.Write(s.dir, configFile, cfgBytes, 0o600, &o); err != nil {
		return fmt.Errorf("provisioning store: write config: %w", err)
	}
	s.removeStaleSecrets()
	return nil
}

// Load returns the applied configuration: config.json if it is intact,
// else config.prev.json. It returns ErrNoConfig when nothing was ever
// saved and an error wrapping ErrCorrupt when files exist but none is
// intact.
func (s *Store) Load() (*Config, LoadInfo, error) {
	var info LoadInfo
	seen := false
	for _, name := range []string{configFile, prevFile} {
		cfg, err := s.loadFile(name)
		if err == nil {
			info.File = name
			if len(info.Problems) > 0 {
				s.log.Warn("provisioning store: using the previous configuration", "problems", info.Problems)
			}
			return cfg, info, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			seen = true
			info.Problems = append(info.Problems, err.Error())
		}
	}
	if !seen {
		return nil, info, ErrNoConfig
	}
	return nil, info, fmt.Errorf("provisioning store: no intact configuration (%s): %w", strings.Join(info.Problems, "; "), ErrCorrupt)
}

func (s *Store) loadFile(name string) (*Config, error) {
	var body configBody
	if err := s.readSealed(name, &body); err != nil {
		return nil, err
	}
	if body.Config == nil || !strings.HasPrefix(body.SecretsFile, "secrets-") || strings.ContainsAny(body.SecretsFile, "/\\") {
		return nil, fmt.Errorf("%s: incomplete body: %w", name, ErrCorrupt)
	}
	var sec secretsBody
	sum, err := s.readSealedSum(body.SecretsFile, &sec)
	if err != nil {
		return nil, fmt.Errorf("%s: secrets: %w", name, err)
	}
	if sum != body.SecretsSHA256 {
		return nil, fmt.Errorf("%s: secrets file %s does not match (checksum %s, want %s): %w", name, body.SecretsFile, sum[:12], body.SecretsSHA256[:min(12, len(body.SecretsSHA256))], ErrCorrupt)
	}
	cfg := body.Config
	for i := range cfg.Extensions {
		pw, ok := sec.Passwords[cfg.Extensions[i].Number]
		if !ok {
			return nil, fmt.Errorf("%s: no password stored for extension %s: %w", name, cfg.Extensions[i].Number, ErrCorrupt)
		}
		cfg.Extensions[i].SIP.Password = pw
	}
	return cfg, nil
}

func (s *Store) readSealed(name string, v any) error {
	_, err := s.readSealedSum(name, v)
	return err
}

// readSealedSum reads an envelope file, checks its checksum, decodes the
// body into v and returns the body's checksum.
func (s *Store) readSealedSum(name string, v any) (string, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, name))
	if err != nil {
		return "", err
	}
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return "", fmt.Errorf("%s: undecodable: %v: %w", name, err, ErrCorrupt)
	}
	if env.Format != storeFormat {
		return "", fmt.Errorf("%s: unknown format %d: %w", name, env.Format, ErrCorrupt)
	}
	sum := sha256.Sum256(env.Body)
	got := hex.EncodeToString(sum[:])
	if got != env.SHA256 {
		return "", fmt.Errorf("%s: checksum mismatch: %w", name, ErrCorrupt)
	}
	if err := json.Unmarshal(env.Body, v); err != nil {
		return "", fmt.Errorf("%s: body undecodable: %v: %w", name, err, ErrCorrupt)
	}
	return got, nil
}

// seal encodes body in an envelope and returns the file bytes and the
// body's checksum.
func seal(body any) ([]byte, string, error) {
	bb, err := json.Marshal(body)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(bb)
	hs := hex.EncodeToString(sum[:])
	out, err := json.Marshal(envelope{Format: storeFormat, SHA256: hs, Body: bb})
	if err != nil {
		return nil, "", err
	}
	return append(out, '\n'), hs, nil
}

// removeStaleSecrets deletes secrets files no config file refers to.
func (s *Store) removeStaleSecrets() {
	keep := map[string]bool{}
	for _, name := range []string{configFile, prevFile} {
		var body configBody
		if err := s.readSealed(name, &body); err == nil {
			keep[body.SecretsFile] = true
		}
	}
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, "secrets-") && !keep[n] {
			if err := os.Remove(filepath.Join(s.dir, n)); err != nil {
				s.log.Warn("provisioning store: remove stale secrets", "file", n, "err", err)
			}
		}
	}
}

// saveCommands stores the de-duplication window.
func (s *Store) saveCommands(w *dedupWindow) error {
	b, _, err := seal(w.entries)
	if err != nil {
		return fmt.Errorf("provisioning store: encode commands: %w", err)
	}
	if err := atomicfile.Write(s.dir, commandsFile, b, 0o600, nil); err != nil {
		return fmt.Errorf("provisioning store: write commands: %w", err)
	}
	return nil
}

// loadCommands reads the de-duplication window; a missing or corrupt file
// gives an empty window (and an error for the log).
func (s *Store) loadCommands(size int) (*dedupWindow, error) {
	w := newDedupWindow(size)
	var entries []dedupEntry
	if err := s.readSealed(commandsFile, &entries); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return w, nil
		}
		return w, err
	}
	for _, e := range entries {
		w.put(e)
	}
	return w, nil
}
