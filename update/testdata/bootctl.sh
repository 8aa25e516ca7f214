#!/bin/sh
# RAUC "custom" bootloader backend for the tests: a boot counter model kept
# in boot.state next to this script's copy (primary slot, attempts left and
# trial flag per slot, the booted slot). The test harness plays the
# bootloader: at each "boot" it starts the primary slot if it has attempts
# left (spending one while on trial), else the other slot. Like a real
# bootloader environment, each change is written at once (a new file
# renamed over the old), so a power cut leaves the old or the new state.
S="$(dirname "$0")/boot.state"
. "$S"
save() {
	printf 'primary=%s\nA_attempts=%s\nB_attempts=%s\nA_trial=%s\nB_trial=%s\nbooted=%s\n' \
		"$primary" "$A_attempts" "$B_attempts" "$A_trial" "$B_trial" "$booted" > "$S.tmp.$$"
	mv "$S.tmp.$$" "$S"
}
case "$1" in
get-primary) echo "$primary" ;;
set-primary)
	eval a=\$${2}_attempts; eval tr=\$${2}_trial
	primary=$2
	if [ "$a" -eq 0 ] || [ "$tr" -eq 1 ]; then eval ${2}_trial=1; fi
	eval ${2}_attempts=3
	save ;;
get-state)
	eval a=\$${2}_attempts
	if [ "$a" -gt 0 ]; then echo good; else echo bad; fi ;;
set-state)
	if [ "$3" = good ]; then eval ${2}_attempts=3; eval ${2}_trial=0; else eval ${2}_attempts=0; fi
	save ;;
get-current) echo "$booted" ;;
*) echo "bootctl: unknown command $1" >&2; exit 1 ;;
esac
