#!/bin/bash
# usage: start.sh RUNDIR [ENGINES] [KAMAILIO_PORT] [FIRST_ENGINE_PORT]
#   e.g. examples/scale-out/start.sh /tmp/scale 3 5060 5071   (after `npm run build`)
# Starts Kamailio (this folder's kamailio.cfg) on 127.0.0.1:KAMAILIO_PORT and ENGINES engine
# processes (dist/examples/scale-out/engine.js) on FIRST_ENGINE_PORT, +1, ... with the dispatcher
# list pointing at them. Engine 2 names its line 2 "agent42" (a per-line name reachable through
# Kamailio). Everything goes to RUNDIR: dispatcher.list, kamailio.{pid,log}, engineN.{pid,log}.
# Stop with stop.sh RUNDIR. Environment: LINES (per engine, default 64), PING (probe interval s, 1).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 RUNDIR [ENGINES] [KAMAILIO_PORT] [FIRST_ENGINE_PORT]" >&2; exit 2; }
RUNDIR=$1; N=${2:-3}; KPORT=${3:-5060}; EPORT=${4:-5071}
LINES=${LINES:-64}; PING=${PING:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RUNNER="$ROOT/dist/examples/scale-out/engine.js"
[ -f "$RUNNER" ] || { echo "build first: npm run build ($RUNNER missing)" >&2; exit 1; }
mkdir -p "$RUNDIR"; RUNDIR=$(cd "$RUNDIR" && pwd)

# set 1: the engines (flag 8: probed with OPTIONS)
{
	echo "# setid destination flags priority attrs"
	for i in $(seq 1 "$N"); do echo "1 sip:127.0.0.1:$((EPORT + i - 1)) 8 0 engine=$i"; done
} >"$RUNDIR/dispatcher.list"

"$HERE/kamailio-start.sh" "$KPORT" "$RUNDIR" -A "DS_LIST=\"$RUNDIR/dispatcher.list\"" -A "DS_PING_INTERVAL=$PING" >/dev/null
echo "kamailio on 127.0.0.1:$KPORT (pid $(cat "$RUNDIR/kamailio.pid"))"

for i in $(seq 1 "$N"); do
	PORT=$((EPORT + i - 1))
	RTP=$((20000 + (i - 1) * 2 * (LINES + 8)))
	AGENTS=()
	[ "$i" -eq 2 ] && AGENTS=(--agents 2=agent42)
	node "$RUNNER" --name "engine$i" --port "$PORT" --proxy "127.0.0.1:$KPORT" --lines "$LINES" \
		--rtp "$RTP-$((RTP + 2 * LINES + 15))" "${AGENTS[@]}" </dev/null >"$RUNDIR/engine$i.log" 2>&1 &
	echo $! >"$RUNDIR/engine$i.pid"
	echo "engine$i on 127.0.0.1:$PORT (pid $!, log $RUNDIR/engine$i.log)"
done
sleep 3
kamcmd -s "unix:$RUNDIR/kamailio_ctl" dispatcher.list | grep -E "URI|FLAGS" | paste - - | awk '{ print "  dispatcher:", $2, $4 }'
