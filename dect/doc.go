// Package dect drives the Base Station's DECT radio module over its serial
// port and presents each paired device (a Linx or a Headset) as a telephone
// endpoint.
//
// It owns:
//   - the link to the module (package dect/wire holds the pure codec):
//     framing, CRC, sequence numbers, acknowledgements, retransmission and
//     resynchronisation, over github.com/tarm/serial with a read timeout
//     (io.EOF from a read means "no data");
//   - the module's lifecycle: reset through hal.Radio.Reset, version
//     handshake, keepalive watchdog, recovery after a module reset or
//     silence, reconciliation of the module's device list with the table;
//   - registration mode (OpenRegistration/CloseRegistration): a PIN-protected
//     window of at most 120 s with LED indication, table-full refusal and
//     wrong-PIN lockout;
//   - the base's button (Button: a long press opens registration mode, a
//     short one pages every device or stops paging) and paging (PageFor,
//     ended by the driver); WaitReady for callers that arrive while the
//     module is still starting;
//   - the table of paired devices and their authentication keys in the
//     state directory (atomic writes with a checksummed backup);
//   - authentication of devices when they attach and when they start a call;
//   - the devices' radio health (protocol 1.1, Device.Health): signal,
//     link quality, battery, firmware, last seen, and why a device left
//     (out of range or switched off); Driver.Locate pages one device;
//   - the devices' clock, in the configured time zone (Options.Location),
//     set at start-up, hourly, at daylight-saving changes and on SyncClock;
//   - each paired Device as an endpoint.Endpoint (also endpoint.Wideband
//     and endpoint.MessageCounter), driven by the call layer in the call
//     vocabulary of package endpoint: ringing with caller ID (its time in
//     Options.Location) and cadence, tones, digits, answer and hang-up,
//     message waiting with a count, call waiting, and its PCM audio channel
//     (hal.Radio.Audio) at the call's rate, and endpoint.Releaser (the
//     network side ends its call). Each call is bounded by
//     Options.RequestTimeout; DeviceEvent.Endpoint gives the events the call
//     layer takes.
//
// It imports only basestation/hal and basestation/endpoint from the
// project (never fxs, sipua,
// provisioning, board or sim). It follows the project's host–module
// protocol, docs/radio-protocol.md; identities and the authentication
// structure follow ETSI EN 300 175-5/-6/-7 as summarised in
// reference/telephony.md §7.
//
// Usage: New(board.Radio, &Options{StateDir: ..., LED: leds["registration"]})
// then Run(ctx) in its own goroutine; read Events() for registration and
// module events, Device(n).Events() for each device's user actions until
// Device(n).Gone() is closed.
// Halt (periph's conn.Resource) leaves the radio inert without ending Run:
// the registration window closed, paging stopped, no device ringing.
package dect
