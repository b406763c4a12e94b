#!/bin/sh
# Entry point of the whistle image: with keys on (WHISTLE_KEYS_DIR set, as docker-compose.yml
# does), makes sure the deployment's CurveZMQ keys exist in that folder (a volume shared by
# the four containers), creating them on the very first start, then runs the command.
#
# Created when missing, under an exclusive lock so that the four containers starting at once
# agree on one set:
#   server.key / server.pub       the services' server key pair (--keys; clients need .pub)
#   <service>.key / .pub          each service's own key, to follow its upstreams
#   operator.key / .pub           for whistlectl inside the containers (healthchecks, exec)
#   allow.txt                     the allowlist: the service and operator keys above.
# Operators add the keys of departments, townships and integrators to allow.txt, one line
# '<public key> <kind> <code>' (e.g. '... department cg'); the services read it again when it
# changes. Keys never leave the volume: hand a department its .pub of server.pub and take its
# public key, never a secret.
set -eu
dir=${WHISTLE_KEYS_DIR:-}
if [ -n "$dir" ]; then
  mkdir -p "$dir"
  (
    flock 9
    umask 077
    for name in server intake routing tracking notification operator; do
      [ -f "$dir/$name.key" ] || whistlectl keygen "$dir/$name" >/dev/null
    done
    if [ ! -f "$dir/allow.txt" ]; then
      {
        echo "# whistle allowlist: '<z85 public key> <kind> <code>' per line;"
        echo "# kinds: department, township, integrator, service, operator."
        for name in intake routing tracking notification; do
          echo "$(sed -n 's/^public-key //p' "$dir/$name.pub") service $name"
        done
        echo "$(sed -n 's/^public-key //p' "$dir/operator.pub") operator ops"
      } > "$dir/allow.txt.new"
      mv "$dir/allow.txt.new" "$dir/allow.txt"
      echo "whistle: created CurveZMQ keys and the allowlist in $dir (server public key:" \
           "$(sed -n 's/^public-key //p' "$dir/server.pub"))" >&2
    fi
  ) 9>"$dir/.lock"
  echo "whistle: keys on; server key $dir/server.pub, allowlist $dir/allow.txt" >&2
fi
exec "$@"
