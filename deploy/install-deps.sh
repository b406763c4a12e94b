#!/usr/bin/env bash
# Installs what whistle needs to build, run and test, from Debian 12's archive, by name.
# The one install step: the README's commands, .ci/run and the Dockerfile's build stage use
# this list. Idempotent: installs only what is missing.
#
#   deploy/install-deps.sh          build + test dependencies (the fuzzers' clang, promtool too)
#   deploy/install-deps.sh --build  what building needs (the Dockerfile's build stage)
#   deploy/install-deps.sh --runtime    only what the services need at run time
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

BUILD_PKGS=(
  build-essential cmake pkg-config
  libzmq3-dev libprotobuf-c-dev protobuf-c-compiler liblmdb-dev libuv1-dev libjansson-dev
  # webhooks: notification POSTs with libcurl's multi interface on its libuv loop
  libcurl4-openssl-dev
  # the gateway: libmicrohttpd in its external epoll mode on the gateway's libuv loop
  libmicrohttpd-dev
  check libsubunit-dev
  # tests in other languages: Google's protoc and the Python runtime prove the wire contract
  protobuf-compiler python3 python3-zmq python3-protobuf
  # docker-compose.yml is validated by `docker-compose config` (no engine needed)
  docker-compose
)
# the libFuzzer targets (tests/fuzz, -DWHISTLE_FUZZ=ON): clang 14 and its runtime, which holds
# libclang_rt.fuzzer and the sanitizers; for the tests only, not for building an image
FUZZ_PKGS=(clang libclang-rt-14-dev)
# what only the tests use: promtool checks the Stats rendering (tests/e2e/test_stats.py)
TEST_PKGS=(prometheus)
# tests/deploy/test_compose.sh and deploy/docker/smoke.sh ask the compose gateway from the host
TEST_PKGS+=(curl)
# tests/deploy/test_swarm.sh makes two hosts in network namespaces (ip netns, veth, vxlan)
TEST_PKGS+=(iproute2)
# tools/backup.sh copies the services' LMDB live with mdb_copy and reads the copies' heads and
# cursors with mdb_dump (tests/e2e/test_backup.py); an operator's backup host needs it too
TEST_PKGS+=(lmdb-utils)
RUNTIME_PKGS=(libzmq5 libprotobuf-c1 liblmdb0 libuv1 libjansson4 libcurl4 libmicrohttpd12
              ca-certificates)
# the compose gateway's health check (GET /readyz): curl, whose libcurl4 is already above
RUNTIME_PKGS+=(curl)
# Open311 (services/gateway/open311*.c): uriparser decodes form fields; the Check suite reads
# the XML it renders back with libxml2's parser (tests only)
BUILD_PKGS+=(liburiparser-dev)
RUNTIME_PKGS+=(liburiparser1)
TEST_PKGS+=(libxml2-dev)
# the dashboard's browser test (tests/e2e/test_dashboard.py): Debian's Chromium, driven by
# npm's playwright-core (which never downloads a browser), and a CJK font so Chinese renders
TEST_PKGS+=(chromium fonts-noto-cjk)
# tests/kube (deploy/kubernetes): podman plays a district from the rendered manifests (its
# pods need catatonit, a Recommends); kubectl's kustomize renders them (below)
TEST_PKGS+=(podman catatonit)

pkgs=("${BUILD_PKGS[@]}" "${FUZZ_PKGS[@]}" "${TEST_PKGS[@]}")
[ "${1:-}" = "--build" ] && pkgs=("${BUILD_PKGS[@]}")
[ "${1:-}" = "--runtime" ] && pkgs=("${RUNTIME_PKGS[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# the Open311 client test runs node-open311 (npm ci): Debian's node and npm, unless a node
# with its npm is already on the machine (another node's files would clash with Debian's npm)
if [ -z "${1:-}" ] && ! command -v npm >/dev/null; then missing+=(nodejs npm); fi
# tests/kube renders deploy/kubernetes with `kubectl kustomize`: Debian's kubernetes-client
# (kubectl 1.20, kustomize v2.0.3), unless a kubectl is already on the machine (another
# package's /usr/bin/kubectl would clash with Debian's)
if [ -z "${1:-}" ] && ! command -v kubectl >/dev/null; then missing+=(kubernetes-client); fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${missing[*]}; run as root (or: sudo $0 $*)" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}" >&2
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
