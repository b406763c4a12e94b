#!/usr/bin/env bash
# backup.sh: a district's four LMDB environments copied live, in the one safe order, and put
# back in place on a stopped (or new) district. docs/deploy.md, "Backup and restore", says why
# the order is what it is; tests/e2e/test_backup.py proves it under load.
#
#   tools/backup.sh DATA_ROOT OUT             copy DATA_ROOT/{intake,routing,tracking,
#                                             notification} (services running) into OUT
#   tools/backup.sh restore BACKUP DATA_ROOT  put BACKUP's copies in DATA_ROOT/<service>
#                                             (each absent or empty: nothing running there)
#   tools/backup.sh check BACKUP              is BACKUP a complete, consistent set?
#
# Each follower must find its upstream's log at least as far as its own cursor, or it stops
# ("STOPPED ... was rebuilt or replaced"). Copies taken one after the other are taken at
# different instants, so a downstream service is copied before its upstream (its cursor can
# only be behind the upstream's later head): notification, then tracking, routing, intake.
# Routing and tracking follow each other (routing follows tracking's log for the ladder), so
# no order of the two is safe while both move: routing's writer lock is held (whistle-hold:
# its next batch waits, nothing is refused) while both are copied, which makes their two
# copies one instant.
set -euo pipefail

SERVICES=(intake routing tracking notification)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
  cat <<'EOF'
usage: tools/backup.sh DATA_ROOT OUT
       tools/backup.sh restore BACKUP DATA_ROOT
       tools/backup.sh check BACKUP

DATA_ROOT holds each service's --data folder: DATA_ROOT/intake, routing, tracking,
notification (deploy/local/up.sh: ./data; docker compose: the four volumes' folders, see
docs/deploy.md).

backup   copies the four environments with `mdb_copy -c` while the services run: notification,
         then tracking and routing with routing's commits held (whistle-hold), then intake.
         Writes OUT/<service>/data.mdb and OUT/MANIFEST (when, the order, each copy's log
         head and cursors). OUT must not exist or be empty; it is written as OUT.partial and
         renamed once complete and checked.
restore  checks BACKUP, then puts each copy in DATA_ROOT/<service>, which must be absent or
         empty (a service that ran there left data.mdb: stop it and move the folder away).
         Start the services afterwards in any order; each follower replays what it lacks.
check    reads each copy's log head and cursors and checks every follower's cursor is at
         most its upstream's head (else that follower would stop after a restore).

Environment: WHISTLE_HOLD (the whistle-hold binary; default: on PATH, else
build/tools/backup/whistle-hold), WHISTLECTL (whistlectl, for the services' Ping in the
manifest; default: on PATH, else build/tools/whistlectl/whistlectl; left out if not found).
Needs mdb_copy and mdb_dump (Debian: lmdb-utils).
EOF
}

die() { echo "backup.sh: $*" >&2; exit 1; }

need() { command -v "$1" >/dev/null || die "$1 not found: install Debian's lmdb-utils"; }

find_tool() { # name, env value, build path
  if [ -n "$2" ]; then echo "$2"; return; fi
  if command -v "$1" >/dev/null; then command -v "$1"; return; fi
  if [ -x "$here/../build/$3" ]; then echo "$here/../build/$3"; return; fi
  echo ""
}

# the hex of a string, as mdb_dump prints keys
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

# value_of ENV TABLE KEY: the first 8 bytes (be64) of KEY's value in TABLE, decimal; 0 if absent
value_of() {
  local dump want
  dump=$(mdb_dump -s "$2" "$1" 2>/dev/null) || { echo 0; return; }
  want=$(hex "$3")
  printf '%s\n' "$dump" | awk -v want="$want" '
    /^HEADER=END/ { body = 1; next }
    /^DATA=END/ { body = 0 }
    body { sub(/^ /, ""); if (k == "") { k = $0 } else { if (k == want) print $0; k = "" } }' |
    { read -r v || true; if [ -n "${v:-}" ]; then echo $((16#${v:0:16})); else echo 0; fi; }
}

head_of() { value_of "$1/$2" heads "$2/"; }          # a copy's own log head
cursor_of() { value_of "$1/$2" cursors "$3"; }       # a copy's cursor on an upstream

# every follower edge: downstream upstream
EDGES=("routing intake" "routing tracking" "tracking routing" "notification tracking")

# check_set DIR: prints each copy's head and cursors; fails naming a follower that would stop
check_set() {
  local dir=$1 s bad=0
  for s in "${SERVICES[@]}"; do
    [ -f "$dir/$s/data.mdb" ] || die "$dir/$s/data.mdb missing: not a complete backup"
  done
  for s in intake routing tracking; do echo "head $s $(head_of "$dir" "$s")"; done
  for e in "${EDGES[@]}"; do
    set -- $e
    local c h
    c=$(cursor_of "$dir" "$1" "$2")
    h=$(head_of "$dir" "$2")
    echo "cursor $1 $2 $c"
    if [ "$c" -gt "$h" ]; then
      echo "backup.sh: $1 applied $2's log up to $c but $2's copy ends at $h:" \
           "$1 would stop (STOPPED) after a restore" >&2
      bad=1
    fi
  done
  return $bad
}

ping_json() { # whistlectl, file
  [ -n "$1" ] || return 0
  "$1" --json --timeout 3000 ping >"$2" 2>&1 || true
}

backup() {
  local root=$1 out=$2
  [ -d "$root" ] || die "$root: no such folder"
  local s
  for s in "${SERVICES[@]}"; do
    [ -f "$root/$s/data.mdb" ] || die "$root/$s/data.mdb missing: DATA_ROOT must hold each service's --data folder"
  done
  if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then die "$out exists and is not empty"; fi
  need mdb_copy
  need mdb_dump
  local hold ctl
  hold=$(find_tool whistle-hold "${WHISTLE_HOLD:-}" tools/backup/whistle-hold)
  [ -n "$hold" ] && [ -x "$hold" ] || die "whistle-hold not found: build it (cmake --build build --target whistle-hold) or set WHISTLE_HOLD"
  ctl=$(find_tool whistlectl "${WHISTLECTL:-}" tools/whistlectl/whistlectl)
  local part="$out.partial"
  rm -rf "$part"
  mkdir -p "$part"
  for s in "${SERVICES[@]}"; do mkdir "$part/$s"; done
  local started
  started=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
  ping_json "$ctl" "$part/ping-before.json"
  # downstream first: notification's cursor on tracking can only be behind tracking's later head
  mdb_copy -c "$root/notification" "$part/notification" || die "mdb_copy of notification failed"
  # routing and tracking as of one instant: routing commits nothing while both are copied
  local held=$(date +%s%3N)
  "$hold" "$root/routing" -- sh -c 'mdb_copy -c "$1/tracking" "$2/tracking" &&
    mdb_copy -c "$1/routing" "$2/routing"' sh "$root" "$part" ||
    die "copying tracking and routing (routing held) failed"
  held=$(( $(date +%s%3N) - held ))
  # upstream last: routing's cursor on intake can only be behind intake's later head
  mdb_copy -c "$root/intake" "$part/intake" || die "mdb_copy of intake failed"
  local finished
  finished=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
  ping_json "$ctl" "$part/ping-after.json"
  local summary
  summary=$(check_set "$part") || die "the copies are not consistent (a bug: see above); $part kept"
  {
    echo "whistle backup"
    echo "source $root"
    echo "started $started"
    echo "finished $finished"
    echo "order notification tracking+routing(routing held) intake"
    echo "routing_held_ms $held"
    echo "$summary"
  } >"$part/MANIFEST"
  mkdir -p "$out"
  rmdir "$out"
  mv "$part" "$out"
  echo "backup.sh: $out: $(tr '\n' ' ' <"$out/MANIFEST" | sed 's/^whistle backup //')"
}

restore() {
  local from=$1 root=$2 s
  [ -f "$from/MANIFEST" ] || die "$from/MANIFEST missing: not a backup made by backup.sh"
  need mdb_dump
  check_set "$from" >/dev/null || die "$from is not a consistent set: refusing to restore it"
  for s in "${SERVICES[@]}"; do
    if [ -e "$root/$s" ] && [ -n "$(ls -A "$root/$s" 2>/dev/null)" ]; then
      die "$root/$s is not empty: stop whistle-$s and move its folder away first (nothing was restored)"
    fi
  done
  for s in "${SERVICES[@]}"; do
    mkdir -p "$root/$s"
    cp "$from/$s/data.mdb" "$root/$s/data.mdb.restoring"
    mv "$root/$s/data.mdb.restoring" "$root/$s/data.mdb"
  done
  echo "backup.sh: restored $from ($(sed -n 's/^started //p' "$from/MANIFEST")) into $root: start the four services"
}

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  restore) [ $# -eq 3 ] || { usage >&2; exit 2; }; restore "$2" "$3" ;;
  check)
    [ $# -eq 2 ] || { usage >&2; exit 2; }
    need mdb_dump
    check_set "$2" || die "$2 is not a consistent set"
    ;;
  ""|-*) usage >&2; exit 2 ;;
  *) [ $# -eq 2 ] || { usage >&2; exit 2; }; backup "$1" "$2" ;;
esac
