#!/usr/bin/env bash
# Local storage emulators for the storage conformance suites (docs/backends.md).
#
#   scripts/emulators.sh install   build/cache the Go servers in .cache/bin (idempotent)
#   scripts/emulators.sh start     install, start all three on 127.0.0.1, create the test buckets
#   scripts/emulators.sh stop      stop the servers this script started (by pid file)
#   scripts/emulators.sh status    one line per server
#   scripts/emulators.sh env       print the `export ...` lines the tests need
#
# Typical use:  scripts/emulators.sh start && eval "$(scripts/emulators.sh env)" && npx tap test/storage
#
# Servers (all bound to 127.0.0.1, ports outside Cassandra's 19042-19100 test range):
#   S3     MinIO, built from source with `go install`          PITR_EMU_S3_PORT    (19300)
#   GCS    fake-gcs-server, built from source with `go install` PITR_EMU_GCS_PORT   (19301)
#   Azure  Azurite blob service from node_modules               PITR_EMU_AZURE_PORT (19302)
# `install` also builds Toxiproxy (toxiproxy-server), which the fault tests start on their own
# ports (PITR_TEST_TOXIPROXY_PORT, test/helpers/toxiproxy.ts) in front of these servers, and MinIO's
# client `mc`, with which the object-lock tests create a user with the least-privilege policy.
# Data, logs and pid files live in .tmp/emulators; Go builds and module caches in .cache/.
# Needs only go, node and npm (npm ci done).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$REPO/.cache"
BIN="$CACHE/bin"
STATE="$REPO/.tmp/emulators"

FAKE_GCS_MODULE="github.com/fsouza/fake-gcs-server"
FAKE_GCS_VERSION="v1.56.1"
MINIO_MODULE="github.com/minio/minio"
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c" # master of 2026-02-12; MinIO publishes no module tags
# The fault proxy the fault-matrix tests start themselves (test/helpers/toxiproxy.ts).
TOXIPROXY_MODULE="github.com/Shopify/toxiproxy/v2/cmd/server"
TOXIPROXY_VERSION="v2.5.0"
# MinIO's client, for the least-privilege tests (users and IAM policies: test/storage/s3-object-lock.test.ts);
# the version MinIO's own go.mod pins, so its modules are mostly in the cache already.
MC_MODULE="github.com/minio/mc"
MC_VERSION="v0.0.0-20250313080218-cf909e1063a9"

HOST=127.0.0.1
S3_PORT="${PITR_EMU_S3_PORT:-19300}"
GCS_PORT="${PITR_EMU_GCS_PORT:-19301}"
AZURE_PORT="${PITR_EMU_AZURE_PORT:-19302}"
MINIO_CONSOLE_PORT="${PITR_EMU_MINIO_CONSOLE_PORT:-19303}"

S3_ACCESS_KEY="pitr-test"
S3_SECRET_KEY="pitr-test-secret-key"
BUCKET="pitr-test"
AZURE_ACCOUNT="devstoreaccount1"
# Azurite's fixed, publicly documented development key (not a secret).
AZURE_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

log() { printf 'emulators: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

go_env() {
  export GOPATH="$CACHE/go" GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" GOBIN="$BIN"
  export GOTOOLCHAIN=local GOFLAGS="-buildvcs=false" CGO_ENABLED=0
}

# install_go <name> <module> <version>: go install once per pinned version, output in .cache/bin.
install_go() {
  local name=$1 module=$2 version=$3 stamp="$BIN/.$1.version"
  if [[ -x "$BIN/$name" && -f "$stamp" && "$(cat "$stamp")" == "$version" ]]; then return 0; fi
  command -v go >/dev/null || die "go is required to build $name"
  mkdir -p "$BIN" "$STATE"
  go_env
  local started=$SECONDS
  log "building $name $version (first time only)..."
  if ! go install "$module@$version" >"$STATE/build-$name.log" 2>&1; then
    tail -n 20 "$STATE/build-$name.log" >&2
    die "go install $module@$version failed (log: $STATE/build-$name.log)"
  fi
  echo "$version" >"$stamp"
  log "built $name in $((SECONDS - started))s"
}

# Toxiproxy's server command is named "server": built into a private GOBIN, then renamed.
install_toxiproxy() {
  local stamp="$BIN/.toxiproxy-server.version"
  if [[ -x "$BIN/toxiproxy-server" && -f "$stamp" && "$(cat "$stamp")" == "$TOXIPROXY_VERSION" ]]; then return 0; fi
  command -v go >/dev/null || die "go is required to build toxiproxy-server"
  mkdir -p "$BIN" "$STATE"
  go_env
  local gobin
  gobin=$(mktemp -d)
  log "building toxiproxy-server $TOXIPROXY_VERSION (first time only)..."
  if ! GOBIN="$gobin" go install "$TOXIPROXY_MODULE@$TOXIPROXY_VERSION" >"$STATE/build-toxiproxy.log" 2>&1; then
    tail -n 20 "$STATE/build-toxiproxy.log" >&2
    die "go install $TOXIPROXY_MODULE@$TOXIPROXY_VERSION failed (log: $STATE/build-toxiproxy.log)"
  fi
  mv -f "$gobin/server" "$BIN/toxiproxy-server" && rmdir "$gobin"
  echo "$TOXIPROXY_VERSION" >"$stamp"
}

cmd_install() {
  install_go fake-gcs-server "$FAKE_GCS_MODULE" "$FAKE_GCS_VERSION"
  install_go minio "$MINIO_MODULE" "$MINIO_VERSION"
  install_go mc "$MC_MODULE" "$MC_VERSION"
  install_toxiproxy
  [[ -x "$REPO/node_modules/.bin/azurite-blob" ]] || die "node_modules/.bin/azurite-blob missing: run npm ci"
}

pid_alive() { [[ -f "$STATE/$1.pid" ]] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

# spawn <name> <cmd...>: start detached in its own session, log to .tmp/emulators/<name>.log
spawn() {
  local name=$1; shift
  mkdir -p "$STATE"
  setsid "$@" >"$STATE/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/$name.pid"
}

# wait_http <name> <url>: until the URL answers any HTTP status (max 60 s)
wait_http() {
  local name=$1 url=$2
  node -e '
    const [url, pidFile] = process.argv.slice(1);
    const fs = require("node:fs");
    const deadline = Date.now() + 60000;
    (async () => {
      for (;;) {
        try { await fetch(url, { signal: AbortSignal.timeout(2000) }); process.exit(0); } catch {}
        try { process.kill(Number(fs.readFileSync(pidFile, "utf8")), 0); } catch { process.exit(2); }
        if (Date.now() > deadline) process.exit(1);
        await new Promise((r) => setTimeout(r, 250));
      }
    })();' "$url" "$STATE/$name.pid" || { tail -n 20 "$STATE/$name.log" >&2; die "$name did not come up (log: $STATE/$name.log)"; }
}

start_minio() {
  if pid_alive minio; then log "s3     already running  http://$HOST:$S3_PORT (MinIO)"; return; fi
  mkdir -p "$STATE/minio"
  MINIO_ROOT_USER="$S3_ACCESS_KEY" MINIO_ROOT_PASSWORD="$S3_SECRET_KEY" MINIO_BROWSER=off MINIO_UPDATE=off \
    spawn minio "$BIN/minio" server "$STATE/minio" --address "$HOST:$S3_PORT" --console-address "$HOST:$MINIO_CONSOLE_PORT" --quiet
  wait_http minio "http://$HOST:$S3_PORT/minio/health/live"
  log "s3     up  http://$HOST:$S3_PORT (MinIO $MINIO_VERSION)"
}

start_gcs() {
  if pid_alive fake-gcs; then log "gcs    already running  http://$HOST:$GCS_PORT (fake-gcs-server)"; return; fi
  mkdir -p "$STATE/fake-gcs"
  spawn fake-gcs "$BIN/fake-gcs-server" -scheme http -host "$HOST" -port "$GCS_PORT" \
    -backend filesystem -filesystem-root "$STATE/fake-gcs" \
    -external-url "http://$HOST:$GCS_PORT" -public-host "$HOST:$GCS_PORT" -log-level error
  wait_http fake-gcs "http://$HOST:$GCS_PORT/storage/v1/b"
  log "gcs    up  http://$HOST:$GCS_PORT (fake-gcs-server $FAKE_GCS_VERSION)"
}

start_azurite() {
  if pid_alive azurite; then log "azure  already running  http://$HOST:$AZURE_PORT (Azurite)"; return; fi
  mkdir -p "$STATE/azurite"
  spawn azurite "$REPO/node_modules/.bin/azurite-blob" --blobHost "$HOST" --blobPort "$AZURE_PORT" \
    --location "$STATE/azurite" --silent --skipApiVersionCheck --disableTelemetry
  wait_http azurite "http://$HOST:$AZURE_PORT/$AZURE_ACCOUNT?comp=list"
  log "azure  up  http://$HOST:$AZURE_PORT/$AZURE_ACCOUNT (Azurite $(node -p 'require("./node_modules/azurite/package.json").version' 2>/dev/null || echo '?'))"
}

# Creates the test bucket/container on each server through the SDKs (idempotent).
create_buckets() {
  (cd "$REPO" && env $(cmd_env | sed -n 's/^export //p' | tr '\n' ' ') \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true node --input-type=module -e '
    const bucket = process.argv[1];
    const { S3Client, CreateBucketCommand } = await import("@aws-sdk/client-s3");
    const s3 = new S3Client({ endpoint: process.env.CASSANDRA_PITR_S3_ENDPOINT, forcePathStyle: true, region: "us-east-1" });
    try { await s3.send(new CreateBucketCommand({ Bucket: bucket })); }
    catch (e) { if (!["BucketAlreadyOwnedByYou", "BucketAlreadyExists"].includes(e.name)) throw e; }
    s3.destroy();
    const { Storage } = await import("@google-cloud/storage");
    const gcsEndpoint = process.env.STORAGE_EMULATOR_HOST;
    delete process.env.STORAGE_EMULATOR_HOST; // else the library ignores apiEndpoint for its JSON API
    const gcs = new Storage({ apiEndpoint: gcsEndpoint, projectId: "pitr-test" });
    const [exists] = await gcs.bucket(bucket).exists();
    if (!exists) await gcs.createBucket(bucket);
    const az = await import("@azure/storage-blob");
    const svc = new az.BlobServiceClient(process.env.CASSANDRA_PITR_AZURE_ENDPOINT,
      new az.StorageSharedKeyCredential("devstoreaccount1", process.env.AZURE_STORAGE_KEY));
    await svc.getContainerClient(bucket).createIfNotExists();
  ' "$BUCKET") || die "could not create the test buckets"
}

cmd_start() {
  cmd_install
  mkdir -p "$STATE"
  start_minio
  start_gcs
  start_azurite
  create_buckets
}

stop_one() {
  local name=$1 pid
  [[ -f "$STATE/$name.pid" ]] || return 0
  pid=$(cat "$STATE/$name.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    log "$name stopped (pid $pid)"
  fi
  rm -f "$STATE/$name.pid"
}

cmd_stop() {
  stop_one minio
  stop_one fake-gcs
  stop_one azurite
}

cmd_status() {
  local name
  for name in minio fake-gcs azurite; do
    if pid_alive "$name"; then log "$name running (pid $(cat "$STATE/$name.pid"))"; else log "$name stopped"; fi
  done
}

cmd_env() {
  cat <<ENV
export PITR_TEST_S3_URL=s3://$BUCKET/conformance
export PITR_TEST_MC=$BIN/mc
export CASSANDRA_PITR_S3_ENDPOINT=http://$HOST:$S3_PORT
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
export AWS_REGION=us-east-1
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
export PITR_TEST_GCS_URL=gs://$BUCKET/conformance
export STORAGE_EMULATOR_HOST=http://$HOST:$GCS_PORT
export GOOGLE_CLOUD_PROJECT=pitr-test
export PITR_TEST_AZURE_URL=az://$AZURE_ACCOUNT/$BUCKET/conformance
export CASSANDRA_PITR_AZURE_ENDPOINT=http://$HOST:$AZURE_PORT/$AZURE_ACCOUNT
export AZURE_STORAGE_KEY=$AZURE_KEY
ENV
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) echo "usage: $0 install|start|stop|status|env" >&2; exit 2 ;;
esac
