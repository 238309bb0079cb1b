#!/bin/bash
# usage: stop.sh RUNDIR -- stops what start.sh RUNDIR started: each engine by its pid file
# (SIGTERM: it drains, answering new calls and probes with 503, for up to 30 s), then Kamailio.
set -uo pipefail
[ $# -eq 1 ] || { echo "usage: $0 RUNDIR" >&2; exit 2; }
RUNDIR=$1
HERE=$(cd "$(dirname "$0")" && pwd)
for f in "$RUNDIR"/engine*.pid; do
	[ -f "$f" ] || continue
	PID=$(cat "$f")
	# only signal it if that PID is still our engine runner (guards against PID reuse)
	if kill -0 "$PID" 2>/dev/null && tr '\0' ' ' <"/proc/$PID/cmdline" | grep -q "scale-out/engine.js"; then
		kill -TERM "$PID"
		for _ in $(seq 1 350); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$PID" 2>/dev/null && kill -KILL "$PID"
	fi
	rm -f "$f"
done
[ -f "$RUNDIR/kamailio.pid" ] && "$HERE/kamailio-stop.sh" "$RUNDIR"
exit 0
