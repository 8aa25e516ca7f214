// Package softphone is a simulated SIP phone for the "other users" of the
// simulator and for tests: it registers with a registrar (the sim PBX or
// kamailio) answering digest challenges (RFC 3261 §22, via sipgo), keeps
// the registration refreshed, places calls (answering 407), answers incoming
// calls automatically or on command, rejects, cancels and hangs up, follows
// re-INVITEs, sends blind-transfer REFERs (RFC 3515), subscribes to its
// message-summary (RFC 3842) and reports solicited and unsolicited MWI
// NOTIFYs.
//
// Media is its own (package media): a configurable tone sent as PCMU or
// PCMA over RTP every 20 ms, received audio decoded with its own G.711
// decoder and analysed for the dominant frequency, RFC 4733 digits sent and
// received. What an incoming INVITE carried (From, display name,
// P-Asserted-Identity, P-Preferred-Identity, Privacy, Alert-Info) is kept so
// tests can check the caller ID a system under test presents.
//
// One call at a time; a second incoming call gets 486. SIP over UDP only.
// Offers without SDP (late offer) are refused with 488. The MWI
// subscription is not refreshed automatically.
//
// It belongs to the sim room and must not import sipua, fxs, dect or
// provisioning: it is the independent far end the daemon is tested against.
package softphone
