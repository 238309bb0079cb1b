#!/bin/sh
# usage: kamailio-stop.sh RUNDIR -- stops the kamailio whose PID is in RUNDIR/kamailio.pid
set -eu
[ $# -eq 1 ] || { echo "usage: $0 RUNDIR" >&2; exit 2; }
PIDFILE="$1/kamailio.pid"
[ -f "$PIDFILE" ] || { echo "no $PIDFILE" >&2; exit 1; }
PID=$(cat "$PIDFILE")
# only signal it if that PID is still a kamailio (guards against PID reuse)
if kill -0 "$PID" 2>/dev/null && tr '\0' ' ' <"/proc/$PID/cmdline" | grep -q kamailio; then
	kill -TERM "$PID"
	i=0
	while kill -0 "$PID" 2>/dev/null && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	if kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID"; fi
fi
rm -f "$PIDFILE" "$1/kamailio_ctl"
