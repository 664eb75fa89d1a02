#!/usr/bin/env bash
# A job that outlives the command that started it: a training run longer than one call of a remote-command
# tool (e.g. 25 minutes of GPU under a 10-minute limit per call), started in one call, followed in the next
# ones and collected in the last. The job runs in its own session (setsid), so it is not ended with the
# command that started it.
#
#   tools/detached.sh start DIR -- COMMAND [ARGS...]   start COMMAND; its output goes to DIR/log
#   tools/detached.sh follow DIR SECONDS               print progress until the job ends or SECONDS pass
#   tools/detached.sh status DIR                       "running" (exit status 1) or "exited RC" (0)
#   tools/detached.sh collect DIR DEST [SECONDS]       wait up to SECONDS (default 0) for the end, then copy
#                                                      DIR/log and DIR/rc to DEST
#
# DIR must not hold a running job when `start` is given it. The job's exit status lands in DIR/rc.
set -euo pipefail

die() { echo "detached.sh: $*" >&2; exit 2; }
usage() { sed -n '6,11p' "$0" | sed 's/^# *//' >&2; exit 2; }

running() { [ -f "$1/pid" ] && [ ! -f "$1/rc" ] && kill -0 "$(cat "$1/pid")" 2>/dev/null; }

status_line() {
  if running "$1"; then echo running
  elif [ -f "$1/rc" ]; then echo "exited $(cat "$1/rc")"
  elif [ -f "$1/pid" ]; then echo "ended without an exit status (killed?)"
  else echo "no job in $1"
  fi
}

wait_for() {  # DIR SECONDS [print progress]
  local dir=$1 limit=$2 show=${3:-0} t0 last=0
  t0=$(date +%s)
  while running "$dir" && [ $(( $(date +%s) - t0 )) -lt "$limit" ]; do
    sleep 5
    if [ "$show" = 1 ] && [ $(( $(date +%s) - last )) -ge 60 ]; then
      last=$(date +%s)
      echo "--- $(date -u +%T) $(status_line "$dir")"
      tail -n 3 "$dir/log" | cut -c1-300
    fi
  done
}

[ $# -ge 2 ] || usage
cmd=$1 dir=$2
shift 2
case "$cmd" in
  start)
    [ "${1:-}" = "--" ] || usage
    shift
    [ $# -ge 1 ] || usage
    mkdir -p "$dir"
    ! running "$dir" || die "a job is still running in $dir (pid $(cat "$dir/pid"))"
    rm -f "$dir/rc" "$dir/pid" "$dir/log"
    # The wrapper records the job's exit status; </dev/null and the redirections detach it from the caller.
    setsid bash -c 'echo $$ > "$0/pid"; "$@" > "$0/log" 2>&1; echo $? > "$0/rc"' "$dir" "$@" \
      < /dev/null > /dev/null 2>&1 &
    for _ in $(seq 50); do [ -s "$dir/pid" ] && break; sleep 0.1; done
    [ -s "$dir/pid" ] || die "the job did not start"
    echo "started pid $(cat "$dir/pid"): $*"
    ;;
  follow)
    [ $# -eq 1 ] || usage
    [[ $1 =~ ^[0-9]+$ ]] || die "SECONDS must be a whole number, got '$1'"
    [ -f "$dir/pid" ] || die "no job in $dir"
    wait_for "$dir" "$1" 1
    echo "=== $(date -u +%T) $(status_line "$dir")"
    tail -n 20 "$dir/log" | cut -c1-300
    ;;
  status)
    [ $# -eq 0 ] || usage
    status_line "$dir"
    [ -f "$dir/pid" ] && ! running "$dir" && [ -f "$dir/rc" ]
    ;;
  collect)
    [ $# -ge 1 ] && [ $# -le 2 ] || usage
    dest=$1 secs=${2:-0}
    [[ $secs =~ ^[0-9]+$ ]] || die "SECONDS must be a whole number, got '$secs'"
    [ -f "$dir/pid" ] || die "no job in $dir"
    wait_for "$dir" "$secs"
    mkdir -p "$dest"
    cp "$dir/log" "$dest/"
    [ -f "$dir/rc" ] && cp "$dir/rc" "$dest/"
    echo "$(status_line "$dir"); log copied to $dest"
    ! running "$dir"
    ;;
  *) usage ;;
esac
