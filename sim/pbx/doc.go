// Package pbx is the simulator's stand-in for the cloud PBX: a SIP
// registrar and back-to-back user agent (B2BUA) on github.com/emiago/sipgo,
// listening on UDP and TCP on one loopback port.
//
// What it does, mirroring the project's kamailio configuration
// (reference/peers.md §2) where a proxy and a B2BUA can behave alike:
//
//   - Registrar (RFC 3261 §10): a users table (extension → password),
//     REGISTER with several contacts, per-contact expires, Contact: * with
//     Expires: 0, 423 below MinExpires (10 s), clamping at MaxExpires
//     (3600 s), expiry of lapsed bindings; 404 for an unknown extension.
//   - Digest authentication (RFC 2617 MD5, qop=auth, stateless HMAC nonces
//     valid 300 s, stale=true after): 401 on REGISTER, 407 on INVITE,
//     SUBSCRIBE and (outside a dialog) REFER; the authenticated user must be
//     the To user (REGISTER) or From user, else 403. Can be switched off.
//     The nonce count is not tracked: a replayed response is accepted while
//     its nonce is fresh (a test stand-in, not a hardened server).
//   - Calls as a B2BUA: the caller's INVITE is answered by the PBX, which
//     places its own INVITE to every registered contact of the callee
//     (parallel forking), relays 180/183, connects the first 2xx, cancels
//     the rest, and bridges the two dialogs: BYE on one side is sent on to
//     the other, re-INVITEs (hold, resume) and INFO/UPDATE are relayed. SDP
//     passes through untouched, so RTP flows end to end between the UAs.
//     The callee sees the caller's From user and display name with the
//     PBX's host, and P-Asserted-Identity taken from the caller's PAI or PPI
//     (RFC 3325); Privacy and Alert-Info pass through. 404 for an unknown
//     number, 480 when the callee has no live registration or does not
//     answer within RingTimeout, the callee's failure (e.g. 486) passed
//     through; CANCEL from the caller cancels every callee leg (487).
//     An INVITE without an SDP offer is refused with 488 (late offer is not
//     supported).
//   - Voicemail access number (default *97): answers, plays a prompt tone
//     (default 440 Hz) as PCMU or PCMA, logs RFC 4733 digits.
//   - Message waiting (RFC 3842 over RFC 6665): SUBSCRIBE to
//     message-summary (own mailbox only when Auth is on; a SUBSCRIBE to the
//     voicemail number means the subscriber's own box) with NOTIFYs in the
//     subscription dialog; SetVoicemail sends NOTIFYs to subscribers and
//     unsolicited NOTIFYs to registered contacts without a subscription.
//   - Transports: UDP and TCP on the same port. A request to a contact
//     registered over TCP goes over the UA's open connection when the
//     contact is that connection's address (sipgo reuses connections by
//     remote address), else over a new connection to the contact.
//   - Blind transfer (RFC 3515): the PBX carries out a REFER itself, as a
//     B2BUA can: 202, NOTIFY "100 Trying", call the Refer-To target with the
//     transferee's SDP, re-INVITE the transferee with the target's answer,
//     NOTIFY "200 OK", BYE the transferor. A failed transfer is reported in
//     the NOTIFY and leaves the original call up.
//   - Registrations, Calls, LastInvite and Subscriptions read the state for
//     tests and the simulator console.
//
// It belongs to the sim room: it may import hal and other sim packages
// (it uses sim/softphone/media for the voicemail prompt) and never sipua,
// fxs, dect or provisioning, so a bug in the daemon's SIP stack cannot hide
// behind shared code.
package pbx
