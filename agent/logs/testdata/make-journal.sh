#!/bin/sh
# Makes test.journal.gz, the journal file the logs tests read (journalctl
# --directory): seven entries of known priorities and times, written by
# systemd-journal-remote (apt-get install systemd-journal-remote) from
# journal export format. Run it from this directory; commit the result.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
e() { # time-in-seconds priority identifier unit pid message
	printf '__REALTIME_TIMESTAMP=%s000000\n__MONOTONIC_TIMESTAMP=%s000000\n_BOOT_ID=0123456789abcdef0123456789abcdef\n' "$1" "$1"
	printf 'PRIORITY=%s\nSYSLOG_IDENTIFIER=%s\n' "$2" "$3"
	[ -n "$4" ] && printf '_SYSTEMD_UNIT=%s\n' "$4"
	[ -n "$5" ] && printf '_PID=%s\n' "$5"
	printf 'MESSAGE=%s\n\n' "$6"
}
{
	e 1767225600 2 kernel "" "" "disk on fire"
	e 1767225660 3 disk disk.service 100 "read error on sda"
	e 1767225720 4 cron cron.service 200 "job slow"
	e 1767225780 6 cron cron.service 200 "job ran"
	e 1767225840 7 cron "" 200 "debug detail"
	e 1767312000 3 app app.service 300 "later error"
	e 1767312060 5 app app.service 300 "a notice"
} | /lib/systemd/systemd-journal-remote -o "$tmp/test.journal" -
gzip -9 -n -c "$tmp/test.journal" > test.journal.gz
