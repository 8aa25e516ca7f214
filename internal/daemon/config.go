package daemon

import "basestation/internal/settings"

// Config is the daemon's local configuration; its schema, defaults and
// validation are package settings'.
type Config = settings.Config

// Defaults returns settings.Defaults().
func Defaults() Config { return settings.Defaults() }

// LoadConfig is settings.LoadConfig.
func LoadConfig(path string) (Config, error) { return settings.LoadConfig(path) }
