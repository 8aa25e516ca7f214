#!/bin/sh
# RAUC "custom" bootloader backend for the tests: a boot counter model kept
# in boot.state next to this script's copy (primary slot, attempts left and
# trial flag per slot, the booted slot). The test harness plays the
# bootloader: at each "boot" it starts the primary slot if it has attempts
# left (spending one while on trial), else the other slot.
S="$(dirname "$0")/boot.state"
. "$S"
put() { sed -i "s/^$1=.*/$1=$2/" "$S"; }
case "$1" in
get-primary) echo "$primary" ;;
set-primary)
	eval a=\$${2}_attempts; eval tr=\$${2}_trial
	put primary "$2"
	if [ "$a" -eq 0 ] || [ "$tr" -eq 1 ]; then put "${2}_trial" 1; fi
	put "${2}_attempts" 3 ;;
get-state)
	eval a=\$${2}_attempts
	if [ "$a" -gt 0 ]; then echo good; else echo bad; fi ;;
set-state)
	if [ "$3" = good ]; then put "${2}_attempts" 3; put "${2}_trial" 0; else put "${2}_attempts" 0; fi ;;
get-current) echo "$booted" ;;
*) echo "bootctl: unknown command $1" >&2; exit 1 ;;
esac
