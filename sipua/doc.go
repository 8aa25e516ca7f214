// Package sipua is the base station's SIP user agent and call bridge: one
// registration per extension that has a device on this base, calls between
// the cloud PBX and the local endpoints (the analog port, DECT devices),
// message-waiting subscriptions, and the events the cloud wants to see.
//
// It owns the SIP signalling (on github.com/emiago/sipgo v1.7.2, with its
// own dialog layer: sipgo's dialog sessions have no re-INVITE, cap an
// INVITE at ten responses and mishandle ACK/BYE reordering) and the bridge
// between calls and endpoints. Media (SDP, RTP, codecs, jitter buffer,
// RFC 4733, RTCP, SRTP) is the subpackage media. It must not import any
// hardware package (hal, fxs, dect, board, sim): a phone is an
// endpoint.Endpoint (the call vocabulary, package endpoint), which
// fxs.Port and dect.Device implement themselves; the user agent consumes
// it and knows no device type.
//
// Specifications followed: RFC 3261 (SIP), RFC 3263 (DNS SRV for the
// registrar), RFC 3581 (rport; the Contact is re-registered with the
// address the registrar saw when it differs), RFC 2617/7616/8760 digest
// (MD5 and SHA-256, qop=auth, nonce counts, stale nonces), RFC 3264 (hold
// with sendonly/recvonly), RFC 3515 (REFER, blind transfer), RFC 3842 and
// RFC 6665 (message-summary), RFC 5626 §4.4.1 (CRLF keepalive), RFC 3325
// (P-Preferred-Identity out, P-Asserted-Identity in), RFC 3966 (tel: URIs).
//
// # Using it
//
//	ua, err := sipua.New(cfg, logger) // validates cfg
//	go ua.Run(ctx)                    // sockets, registrations, calls
//	report, err := ua.Attach("101", phone) // phone: an endpoint.Endpoint
//	report(endpoint.Event{Kind: endpoint.OffHook}) // from the driver
//	for ev := range ua.Events() { ... } // *RegistrationEvent, *MWIEvent, *CallEvent, *QualityEvent, *QualityAlertEvent
//	ua.SetConfig(newCfg) / ua.SetAccounts(exts) // live: add, change, remove
//	ua.Detach(phone)
//
// Endpoint methods must return promptly; the Reporter never blocks (events
// are queued per endpoint and handled in order). The user agent is the one
// registry of attachments: ua.Report(phone, ev) is the Reporter looked up,
// ua.ExtensionOf(phone) says where it is attached, and ua.Offer(phone)
// gives an endpoint back in reach its message state and a call ringing for
// its extension. When the far end ends a call, an endpoint.Releaser (a
// cordless device) is released after its busy tone.
//
// # Registration
//
// Each extension's account registers with its registrars in order: the
// configured list, else DNS SRV of the domain (_sip._udp, _sip._tcp,
// _sips._tcp), else the domain itself. A REGISTER is refreshed at half the
// granted expiry, or earlier so that a refresh nobody answers
// (Timing.RequestTimeout, 32 s) plus the REGISTER to the next registrar end
// before the binding lapses (60 s granted: every 23 s); a refresh
// unanswered when the binding lapses is given up then, so the state never
// says registered past RegistrationEvent.ExpiresAt, which every successful
// refresh moves (one event each). A timeout, transport error or 5xx
// moves to the next registrar at once (a Retry-After keeps that server
// out for its time). Over UDP an ICMP port unreachable counts as a
// transport error: the listener's socket is unconnected and hears no ICMP,
// so a connected socket of its own probes the registrar (a CRLF) every
// second while a REGISTER is unanswered and at every keepalive, and the
// UA fails over within a probe round trip instead of the transaction
// timeout. When all failed, the UA backs off exponentially
// (Timing.RetryMin doubling to RetryMax, with 0-50 % jitter) and starts
// over. 403 holds off for Timing.ForbiddenHold (default 20 min). While on
// a failover registrar, the primary is tried Timing.Failback (the daemon
// sets it from system.failover_retry_s) after the moment of failover;
// refreshes do not move that moment. If the primary accepts, the UA
// un-registers (Expires: 0) from the fallback and stays on the primary;
// if not, it stays on the fallback and tries again a whole period later
// (an attempt that would run into the refresh waits until after it). The
// active registrar (address, port and transport of the binding in force)
// is what incoming requests are checked against; it moves only when a
// REGISTER succeeds. Over UDP a CRLF keepalive goes to the registrar every
// Timing.Keepalive (it touches no dialog, so calls are undisturbed); over TCP/TLS the Contact is the
// connection's own address so the registrar reaches us over it. The local
// address towards the registrar is re-checked every Timing.AddrCheck and a
// change re-registers at once. REGISTERs leave from the SIP listener's own
// socket (libraries.md §3.2), Via/Contact carry the address actually used,
// and Run waits for sipgo's connection pool before the first request
// (sipgo#367). Registration changes are RegistrationEvents with the last
// error ("401 Unauthorized", "403 Forbidden", "timeout", ...).
//
// # Calls
//
// Incoming INVITEs (and message-summary NOTIFYs) are accepted only from
// the flow the account's registration uses now: the address, port and
// transport of the registrar or outbound proxy it is registered with (after
// a failover, the new one; after failback, the primary again). Anything
// else gets 403 before any user lookup, so an outsider cannot tell which
// users exist; the registrar naming a user we do not have gets 404.
// In-dialog requests must carry the dialog's Call-ID and both tags (else
// 481). The caller ID is the P-Asserted-Identity (sip:, sips: or tel: URI;
// a tel: number wins, with its visual separators removed), else the From.
// An offer with no common
// codec (or SRTP mismatch) gets 488; with no endpoint able to take it,
// 486 (an endpoint the bridge still holds off-hook but that says it is
// idle, its on-hook on the way, counts as able: it rings when the on-hook
// arrives). A message-summary NOTIFY older (lower CSeq) than one already
// applied in its dialog is answered 200 and ignored. Codec preference: G.722 first for a call that may reach a
// wideband endpoint (endpoint.Wideband: an incoming call to an extension
// with one, a call placed from one), whose channel then opens at 16 kHz;
// PCMU, PCMA, G.722 otherwise. Otherwise every idle endpoint of the extension rings at once and
// busy ones get a call-waiting alert; the first to go off-hook gets the
// call and the others stop; a CANCEL (or a BYE in the early dialog) stops
// all; a call nobody answers and the caller does not cancel is refused
// with 480 after Timing.RingNoAnswer (180 s, RFC 3261 Timer C) and stops
// ringing. Hook flash holds the current call (re-INVITE sendonly) and answers a
// waiting one, swaps between two calls, or gives dial tone: a number dialled
// then blind-transfers the held call (REFER, sent once the hold re-INVITE
// has its answer); a second flash resumes it. Putting the phone down after
// dialling leaves the call to the transfer: it is hung up after the final
// NOTIFY (at most 10 s), or at once if the REFER is refused.
// Hanging up with a held or waiting call rings the phone again for it.
// Re-INVITEs from the far end (hold/resume) are answered; ours are
// serialised per call and retried after 491. A REFER from the far end
// (blind transfer) gets 202; the endpoint's call moves to the Refer-To
// target, progress is NOTIFYed as message/sipfrag, and the old call ends
// once the new one is answered (on failure the endpoint returns to it).
//
// Outgoing calls use the extension's account. Caller ID: the From user is
// the account user (the identity the PBX authenticates; PBXs such as
// kamailio with auth_check refuse a From that is not the digest user) with
// the CallerIDName as display name, and the configured CallerIDNumber
// (default: the account user) goes in P-Preferred-Identity
// ("Name" <sip:number@domain>), which the PBX turns into the asserted
// identity the callee sees.
// Emergency numbers (Config.EmergencyNumbers, default 911 and 933) go out
// through any registered account when the extension's own registration is
// down, with "Priority: emergency", and are never interrupted by call
// waiting. 180 plays ringback on the endpoint; 18x with SDP connects early
// media. Failures play busy (486/600), SIT (404/410/484/604) or reorder.
// When the far end hangs up, the endpoint hears busy tone.
//
// Digits the endpoint reports during a call are sent as RFC 4733 events;
// while telephone-event is negotiated, an endpoint audio port that offers
// SuppressInBandDTMF(bool) (the analog port's) is asked to keep their
// tones out of the audio, so the far end gets each digit once, as an
// event. RFC 4733 events received are played to the endpoint as DTMF tone pairs
// (replacing the received audio while they last).
//
// # Call quality
//
// Every call's media sends RTCP XR VoIP Metrics (RFC 3611 §4.7) with its
// reports and keeps the far end's (media.Session.RemoteQuality). During a
// call a QualityEvent (Report "interval") carries the RFC 6035 figures of
// each Config.Quality.Interval (30 s; negative: none), and when it ends a
// QualityEvent (Report "end") those of the whole call with media.Stats
// and the far end's XR figures. Every Quality.Window (5 s) the window's
// figures are checked against the thresholds (MOS-LQ 3.5 for G.711, R
// 70, loss heard 3 %, jitter 40 ms, round trip 400 ms): a crossing is a
// QualityAlertEvent "raised", the return "cleared" (quality.go).
//
// # QoS marking
//
// SIP leaves with DSCP Config.SIPDSCP (CS3, 24) on UDP, on TCP and TLS
// connections sipgo dials (its transports get a marking dialer) and on
// TCP connections accepted (the listening socket is marked); RTP and
// RTCP with Config.RTPDSCP (EF, 46). See qos.go.
//
// # Message waiting
//
// With Account.MWI the UA subscribes to message-summary for the account
// and refreshes in the dialog; unsolicited NOTIFYs from the account's
// server are accepted too. The body is parsed by ParseMessageSummary; the
// state is set on every endpoint of the extension (and on endpoints
// attached later), gives stutter dial tone, and is an MWIEvent.
//
// # Hostile input
//
// Every request handler sits behind a guard that checks what the handlers
// rely on before they run: To, From, Call-ID, CSeq (its method matching the
// request's), Via, SIP/2.0 (else 505), single To/From/Call-ID/CSeq/
// Content-Length/Content-Type/Max-Forwards, Content-Length equal to the
// body, a sip/sips Request-URI without headers (416/400), a usable Contact
// on INVITE, SUBSCRIBE and REFER, Event on NOTIFY and SUBSCRIBE: a missing
// or bad one gets 400 naming it. A Require we do not support gets 420 with
// Unsupported, an INVITE body that is not SDP 415, an Accept without SDP
// 406, a method we do not implement 405 with Allow. A panic in a handler is
// contained, logged with its stack and answered 500. sipgo itself drops
// messages it cannot parse and answers 400 to requests without Via or CSeq
// (the RFC 4475 torture messages and the answer to each are in
// testdata/torture and TestRFC4475Torture).
//
// Over UDP a read filter runs before sipgo keeps any state: datagrams that
// do not parse are dropped, requests the guard refuses are answered
// statelessly, and out-of-dialog requests from outside the registration
// flows are answered statelessly too (OPTIONS 200, others 403; an ACK is
// dropped), so junk from any number of addresses costs no memory (sipgo
// keeps a transaction for 32 s per request and a pool entry per source
// address). Accepted TCP connections are closed after Timing.TCPIdle
// (5 min) of silence, or after Timing.TCPFirstMessage (30 s) when they have
// not delivered a complete message header; connections the UA opened to
// its registrar are not limited.
//
// # Security
//
// SIP over TLS verifies the registrar's certificate against
// Config.TLSRootCAs (nil: the system pool) and the host name the UA
// connects to (the configured registrar or proxy host, or the SRV target).
// Account.SRTP "required" offers RTP/SAVP with SDES keys and refuses plain
// offers; "optional" accepts both. Passwords are never logged.
//
// # Errors
//
// Returned errors wrap the sentinels of errors.go (ErrInvalidConfig,
// ErrNoSuchExtension, ErrNotRegistered, ErrTimeout, ...) with %w: test them
// with errors.Is. A final failure status from the far end is a
// *StatusError, which matches ErrRejected and, by code, ErrForbidden or
// ErrBusy.
package sipua
