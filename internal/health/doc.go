// Package health tracks whether basestationd's main loops are making
// progress (the analog line's frame loop, the radio's serial port, the SIP
// listener, the cloud agent's loop), for the systemd watchdog that
// cmd/basestationd feeds. It counts signals the loops already produce
// (wrapping the line's PCM channel and the radio's port) and probes the SIP
// listener over loopback; internal/daemon wires it.
//
// It imports hal (the PCM interface it wraps) and nothing else of the
// project; it is imported by cmd/* and internal/daemon only.
package health
