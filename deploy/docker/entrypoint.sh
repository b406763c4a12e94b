#!/bin/sh
# Entry point of the whistle image: with keys on (WHISTLE_KEYS_DIR set, as docker-compose.yml
# does), makes sure the deployment's CurveZMQ keys exist in that folder (a volume shared by
# the four containers), creating them on the very first start, then runs the command.
#
# Created when missing, under an exclusive lock so that the four containers starting at once
# agree on one set:
#   server.key / server.pub       the services' server key pair (--keys; clients need .pub)
#   <service>.key / .pub          each service's own key, to follow its upstreams
#   gateway.key / .pub            the HTTP gateway's key (listed as 'service gateway': it may
#                                 act on behalf of its HTTP callers)
#   operator.key / .pub           for whistlectl inside the containers (healthchecks, exec)
#   allow.txt                     the allowlist: the service, gateway and operator keys above
#                                 (an allowlist made before the gateway existed gets its line)
#   api-keys.txt                  the gateway's bearer API keys, none at first (0600).
# Operators add the keys of departments, townships and integrators to allow.txt, one line
# '<public key> <kind> <code>' (e.g. '... department cg'); the services read it again when it
# changes. Keys never leave the volume: hand a department its .pub of server.pub and take its
# public key, never a secret. HTTP callers get a line '<bearer key> <kind> <code>' in
# api-keys.txt instead (a shared secret: hand it over as one); the gateway re-reads it too.
set -eu
dir=${WHISTLE_KEYS_DIR:-}
if [ -n "$dir" ]; then
  mkdir -p "$dir"
  (
    flock 9
    umask 077
    for name in server intake routing tracking notification gateway operator; do
      [ -f "$dir/$name.key" ] || whistlectl keygen "$dir/$name" >/dev/null
    done
    if [ ! -f "$dir/allow.txt" ]; then
      {
        echo "# whistle allowlist: '<z85 public key> <kind> <code>' per line;"
        echo "# kinds: department, township, integrator, service, operator."
        for name in intake routing tracking notification gateway; do
          echo "$(sed -n 's/^public-key //p' "$dir/$name.pub") service $name"
        done
        echo "$(sed -n 's/^public-key //p' "$dir/operator.pub") operator ops"
      } > "$dir/allow.txt.new"
      mv "$dir/allow.txt.new" "$dir/allow.txt"
      echo "whistle: created CurveZMQ keys and the allowlist in $dir (server public key:" \
           "$(sed -n 's/^public-key //p' "$dir/server.pub"))" >&2
    fi
    # a volume from before the gateway: its key joins the allowlist (replaced whole: the
    # services re-read the file and must never see half of it)
    gw=$(sed -n 's/^public-key //p' "$dir/gateway.pub")
    if ! awk -v k="$gw" '$1 == k && $2 == "service" && $3 == "gateway" { f = 1 } END { exit !f }' \
         "$dir/allow.txt"; then
      { cat "$dir/allow.txt"; echo "$gw service gateway"; } > "$dir/allow.txt.new"
      mv "$dir/allow.txt.new" "$dir/allow.txt"
      echo "whistle: added the gateway's key to $dir/allow.txt" >&2
    fi
    if [ ! -f "$dir/api-keys.txt" ]; then
      {
        echo "# whistle-gateway's API keys: '<bearer key> <kind> <code>' per line, the key 20..128"
        echo "# of [A-Za-z0-9._~+/=-] (e.g. 'openssl rand -hex 24'); kinds as in allow.txt."
        echo "# Callers send 'Authorization: Bearer <key>'. Re-read when it changes."
      } > "$dir/api-keys.txt.new"
      mv "$dir/api-keys.txt.new" "$dir/api-keys.txt"
    fi
  ) 9>"$dir/.lock"
  echo "whistle: keys on; server key $dir/server.pub, allowlist $dir/allow.txt" >&2
fi
exec "$@"
