#!/bin/sh
# Run by the Job in keys-job.yaml, after the image's entry point has made the district's keys
# in $WHISTLE_KEYS_DIR (deploy/docker/entrypoint.sh): creates the Secret $WHISTLE_KEYS_SECRET
# from every file there, through the Kubernetes API with the pod's ServiceAccount (curl is in
# the image). A Secret that exists is kept as it is: its keys are the district's.
#
# WHISTLE_KEYS_SECRET_OUT=FILE writes the Secret (JSON) to FILE instead and asks no API
# server (tests/kube/test_kube.sh checks it against the Kubernetes schema).
set -eu
dir=${WHISTLE_KEYS_DIR:?WHISTLE_KEYS_DIR is not set: run me through the image entry point}
name=${WHISTLE_KEYS_SECRET:-whistle-keys}

# the Secret's data: one entry a file, base64 (no line breaks); names are [-._a-zA-Z0-9]
secret() {
  printf '{"apiVersion":"v1","kind":"Secret","type":"Opaque",'
  printf '"metadata":{"name":"%s","labels":{"app.kubernetes.io/part-of":"whistle"}},' "$name"
  printf '"data":{'
  sep=
  for f in "$dir"/*.key "$dir"/*.pub "$dir/allow.txt" "$dir/api-keys.txt"; do
    [ -f "$f" ] || { echo "keys-secret: $f is missing" >&2; exit 1; }
    printf '%s"%s":"%s"' "$sep" "$(basename "$f")" "$(base64 -w0 <"$f")"
    sep=,
  done
  printf '}}\n'
}

if [ -n "${WHISTLE_KEYS_SECRET_OUT:-}" ]; then
  secret >"$WHISTLE_KEYS_SECRET_OUT"
  exit 0
fi

sa=/var/run/secrets/kubernetes.io/serviceaccount
ns=$(cat "$sa/namespace")
url="https://${KUBERNETES_SERVICE_HOST:-kubernetes.default.svc}:${KUBERNETES_SERVICE_PORT:-443}"
url="$url/api/v1/namespaces/$ns/secrets"
api() {
  curl -sS --cacert "$sa/ca.crt" -H "Authorization: Bearer $(cat "$sa/token")" \
       -o /dev/null -w '%{http_code}' "$@"
}
code=$(api "$url/$name")
case $code in
  200) echo "keys-secret: Secret $ns/$name exists; keeping its keys"; exit 0 ;;
  404) ;;
  *) echo "keys-secret: GET Secret $ns/$name answered HTTP $code" >&2; exit 1 ;;
esac
code=$(secret | api -X POST -H 'Content-Type: application/json' --data-binary @- "$url")
case $code in
  201) echo "keys-secret: created Secret $ns/$name (server public key:" \
            "$(sed -n 's/^public-key //p' "$dir/server.pub"))" ;;
  # another run was first: its keys stand, these are thrown away with the emptyDir
  409) echo "keys-secret: Secret $ns/$name was created meanwhile; keeping it" ;;
  *) echo "keys-secret: creating Secret $ns/$name answered HTTP $code" >&2; exit 1 ;;
esac
