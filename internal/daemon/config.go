package daemon

import (
	"basestation/internal/health"
	"basestation/internal/settings"
)

// Config is the daemon's local configuration; its schema, defaults and
// validation are package settings'.
type Config = settings.Config

// Defaults returns settings.Defaults().
func Defaults() Config { return settings.Defaults() }

// LoadConfig is settings.LoadConfig.
func LoadConfig(path string) (Config, error) { return settings.LoadConfig(path) }

// Health is the watchdog's tracker of the main loops (package health).
type Health = health.Health

// NewHealth is health.NewHealth.
func NewHealth() *Health { return health.NewHealth() }
