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
// hardware package (hal, fxs, dect, board, sim): a phone is the Endpoint
// interface defined here, which the daemon's wiring implements for fxs
// ports and dect devices.
//
// Specifications followed: RFC 3261 (SIP), RFC 3263 (DNS SRV for the
// registrar), RFC 3581 (rport; the Contact is re-registered with the
// address the registrar saw when it differs), RFC 2617/7616/8760 digest
// (MD5 and SHA-256, qop=auth, nonce counts, stale nonces), RFC 3264 (hold
// with sendonly/recvonly), RFC 3515 (REFER, blind transfer), RFC 3842 and
// RFC 6665 (message-summary), RFC 5626 §4.4.1 (CRLF keepalive), RFC 3325
// (P-Preferred-Identity).
//
// # Using it
//
//	ua, err := sipua.New(cfg, logger) // validates cfg
//	go ua.Run(ctx)                    // sockets, registrations, calls
//	report, err := ua.Attach("101", endpoint)
//	report(sipua.EndpointEvent{Kind: sipua.EvOffHook}) // from the driver
//	for ev := range ua.Events() { ... } // *RegistrationEvent, *MWIEvent, *CallEvent, *QualityEvent
//	ua.SetConfig(newCfg) / ua.SetAccounts(exts) // live: add, change, remove
//	ua.Detach(endpoint)
//
// Endpoint methods must return promptly; the Reporter never blocks (events
// are queued per endpoint and handled in order).
//
// # Registration
//
// Each extension's account registers with its registrars in order: the
// configured list, else DNS SRV of the domain (_sip._udp, _sip._tcp,
// _sips._tcp), else the domain itself. A REGISTER is refreshed at half the
// granted expiry. A timeout, transport error or 5xx moves to the next
// registrar at once (a Retry-After keeps that server out for its time);
// when all failed, the UA backs off exponentially (Timing.RetryMin doubling
// to RetryMax, with 0-50 % jitter) and starts over. 403 holds off for
// Timing.ForbiddenHold (default 20 min). While on a failover registrar, the
// primary is tried every Timing.Failback and the UA moves back (and
// un-registers from the secondary) when it answers. Over UDP a CRLF
// keepalive goes to the registrar every Timing.Keepalive (it touches no
// dialog, so calls are undisturbed); over TCP/TLS the Contact is the
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
// Incoming INVITEs are accepted only from the IPs of the registrar or
// outbound proxy the account uses (others: 403). An offer with no common
// codec (or SRTP mismatch) gets 488; with no endpoint able to take it,
// 486. Codec preference: G.722 first for a call that may reach a
// wideband endpoint (WidebandEndpoint: an incoming call to an extension
// with one, a call placed from one), whose channel then opens at 16 kHz;
// PCMU, PCMA, G.722 otherwise. Otherwise every idle endpoint of the extension rings at once and
// busy ones get a call-waiting alert; the first to go off-hook gets the
// call and the others stop; a CANCEL (or a BYE in the early dialog) stops
// all. Hook flash holds the current call (re-INVITE sendonly) and answers a
// waiting one, swaps between two calls, or gives dial tone: a number dialled
// then blind-transfers the held call (REFER); a second flash resumes it.
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
// RFC 4733 events received are played to the endpoint as DTMF tone pairs
// (replacing the received audio while they last). At call end a QualityEvent carries media.Stats
// (packets, loss, jitter, RTT, MOS).
//
// # Message waiting
//
// With Account.MWI the UA subscribes to message-summary for the account
// and refreshes in the dialog; unsolicited NOTIFYs from the account's
// server are accepted too. The body is parsed by ParseMessageSummary; the
// state is set on every endpoint of the extension (and on endpoints
// attached later), gives stutter dial tone, and is an MWIEvent.
//
// # Security
//
// SIP over TLS verifies the registrar's certificate against
// Config.TLSRootCAs (nil: the system pool) and the host name the UA
// connects to (the configured registrar or proxy host, or the SRV target).
// Account.SRTP "required" offers RTP/SAVP with SDES keys and refuses plain
// offers; "optional" accepts both. Passwords are never logged.
package sipua
