#!/bin/sh
# usage: kamailio-start.sh PORT RUNDIR [extra kamailio args, e.g. -A 'DS_LIST="/path/dispatcher.list"']
# Starts Kamailio with this folder's kamailio.cfg on udp+tcp 127.0.0.1:PORT in the foreground
# (-DD, in the background of this shell); pid file, control socket and log go to RUNDIR.
# Waits until its control socket answers, then prints the PID. Same contract as the test peer's
# ../shared/peers/kamailio/start.sh, so the tests start it the same way; stop it with
# kamailio-stop.sh RUNDIR.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 PORT RUNDIR [kamailio args...]" >&2; exit 2; }
PORT=$1; RUNDIR=$2; shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$RUNDIR"; RUNDIR=$(cd "$RUNDIR" && pwd)
rm -f "$RUNDIR/kamailio.pid" "$RUNDIR/kamailio_ctl"

# Kamailio sets SO_REUSEADDR on UDP, so a second instance could share the port: refuse a busy one
if command -v ss >/dev/null 2>&1; then
	BUSY=$(ss -Hlnut "sport = :$PORT")
	[ -z "$BUSY" ] || { echo "port $PORT already in use: $BUSY" >&2; exit 1; }
fi

# -DD: no daemonizing, so $! is the main kamailio process; -E: log to stderr (the log file)
kamailio -f "$HERE/kamailio.cfg" -DD -E -Y "$RUNDIR" -w "$RUNDIR" -P "$RUNDIR/kamailio.pid" \
	-m 64 -M 8 -A "PORT=$PORT" -A "CTL_SOCK=\"unix:$RUNDIR/kamailio_ctl\"" "$@" \
	</dev/null >"$RUNDIR/kamailio.log" 2>&1 &
PID=$!

i=0
while :; do
	if ! kill -0 "$PID" 2>/dev/null; then
		echo "kamailio exited during startup, see $RUNDIR/kamailio.log:" >&2
		tail -20 "$RUNDIR/kamailio.log" >&2; exit 1
	fi
	# the control socket answers once the children run
	if [ -S "$RUNDIR/kamailio_ctl" ] && kamcmd -s "unix:$RUNDIR/kamailio_ctl" core.uptime >/dev/null 2>&1; then break; fi
	i=$((i + 1))
	if [ "$i" -ge 40 ]; then
		echo "kamailio control socket not answering in $RUNDIR" >&2
		kill "$PID" 2>/dev/null || true; exit 1
	fi
	sleep 0.25
done
echo "$PID"
