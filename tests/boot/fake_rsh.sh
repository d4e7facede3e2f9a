#!/bin/sh
# fake_rsh.sh HOST COMMAND: stands in for ssh in dsmrun's --hosts tests by
# running COMMAND on this host. Like sshd, it runs the command in its own
# session and feeds it stdin through a pipe that closes when this process
# dies, so the "remote" side sees EOF exactly as it would over ssh.
# FAKE_RSH_LOG, when set, receives each command line (host and command).
host=$1
shift
if [ -n "${FAKE_RSH_LOG:-}" ]; then
    printf '%s %s\n' "$host" "$*" >>"$FAKE_RSH_LOG"
fi
# A FIFO opened at both ends and unlinked at once: nothing is left on disk
# whatever ends this script. The read-write open does not block.
fifo=$(mktemp -u "${TMPDIR:-/tmp}/fake_rsh.XXXXXX")
mkfifo -m 600 "$fifo" || exit 255
exec 5<>"$fifo" 6<"$fifo" 7>"$fifo" 5>&-
rm -f "$fifo"
# An explicit stdin: a background command's stdin would be /dev/null otherwise.
exec 4<&0
cat <&4 >&7 6<&- &
feeder=$!
exec 7>&- 4<&-
trap 'kill "$feeder" 2>/dev/null; exit 143' TERM INT
setsid sh -c "$1" <&6
status=$?
kill "$feeder" 2>/dev/null
exit "$status"
