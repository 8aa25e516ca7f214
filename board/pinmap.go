package board

import (
	"fmt"
	"sort"
	"time"
)

// PinMap names every bus, pin and device file the daemon uses on one board
// revision. Names are periph.io registry names (SPI ports such as "SPI0.0",
// GPIO lines such as "GPIO17") or device paths.
type PinMap struct {
	Name        string
	Description string

	SLICSPI     string // SPI port of the ProSLIC, e.g. "SPI0.0"
	SLICIRQ     string // active-low interrupt line
	SLICReset   string // active-low reset line
	SLICPCM     string // character device of the SLIC's PCM time slot (TDM driver)
	RadioUART   string // serial device of the DECT module
	RadioBaud   int
	RadioReset  string // active-low reset line of the DECT module
	RadioPCMFmt string // printf pattern of the DECT module's PCM slot devices, given the slot number

	LEDs   map[string]string // hal LED name -> /sys/class/leds entry
	Button string            // GPIO line of the push button, active low

	// ButtonDebounce is how long a level must be stable to count.
	ButtonDebounce time.Duration
}

// Boards lists the board revisions this firmware knows, by name. The
// daemon's --board flag selects one (virtual:SOCKET selects the simulator's
// board instead, see board/virtual).
func Boards() map[string]PinMap {
	return map[string]PinMap{
		"bs1": {
			Name:        "bs1",
			Description: "Base Station rev 1 (Cortex-A7, Si3215 on SPI0.0, DECT module on UART1)",
			SLICSPI:     "SPI0.0",
			SLICIRQ:     "GPIO17",
			SLICReset:   "GPIO27",
			SLICPCM:     "/dev/tdm0.0",
			RadioUART:   "/dev/ttyAMA1",
			RadioBaud:   115200,
			RadioReset:  "GPIO22",
			RadioPCMFmt: "/dev/tdm0.%d",
			LEDs: map[string]string{
				"power":        "bs:green:power",
				"cloud":        "bs:blue:cloud",
				"registration": "bs:amber:dect",
				"line":         "bs:green:line",
				"fault":        "bs:red:fault",
			},
			Button:         "GPIO23",
			ButtonDebounce: 30 * time.Millisecond,
		},
	}
}

// Names returns the known board names, sorted.
func Names() []string {
	var n []string
	for k := range Boards() {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Lookup returns the pin map of the named board.
func Lookup(name string) (PinMap, error) {
	pm, ok := Boards()[name]
	if !ok {
		return PinMap{}, fmt.Errorf("board %q is unknown (known: %v)", name, Names())
	}
	return pm, nil
}
