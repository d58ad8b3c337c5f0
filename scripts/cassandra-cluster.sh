#!/usr/bin/env bash
# Runs a Cassandra cluster of N nodes on one machine, each node a scripts/cassandra-node.sh node with
# its own directory (DIR/node1 ... DIR/nodeN) and its own loopback address.
#
# Every node listens on its own address with the same native and storage ports (as on real
# machines, and the driver assumes one native port for the whole cluster); JMX listens on 127.0.0.1
# only (Cassandra binds the local JMX server to the loopback address), so each node has its own JMX
# port. Node 1 is the only seed. Hinted handoff is on (a cluster is where hints matter); a fresh
# cluster has nothing to stream, so nodes join without bootstrapping, one after another, each
# waiting until it is Up/Normal, and the JIT compiles with C1 only (-XX:TieredStopAtLevel=1: short
# test runs never repay C2's compile time), which is what keeps a 3-node start affordable on 2 cores.
# The failure detector is less eager (phi_convict_threshold 12), because a live node starved of CPU
# can miss gossip rounds long enough for the default 8 to mark it down. (Suspected, not confirmed:
# a 3-node start once timed out waiting for all-UN at load 30.) A stopped node is still marked down
# at once (it announces its shutdown); a killed one a few seconds later than with 8.
#
# usage: scripts/cassandra-cluster.sh COMMAND DIR [ARGS]
#   init DIR [options] [node options]  write DIR/cluster.env and each node's conf
#   start DIR [I]                  start node I, or every stopped node (node 1 first), then wait for all UN
#   stop DIR [I]                   nodetool drain then SIGTERM node I, or every node (highest first)
#   drain DIR I                    nodetool drain (flushes, archives the active segment; node keeps running)
#   kill DIR [I]                   SIGKILL node I, or every node
#   restart DIR I                  stop then start node I
#   reconfigure DIR I|all [node options]  rewrite the node's conf with extra node options (node stopped)
#   nodetool DIR I ARGS...         nodetool against node I
#   wait DIR                       until every running node sees every running node UN
#                                  (at most CASSANDRA_CLUSTER_WAIT_TIMEOUT seconds, default 300)
#   status DIR                     one line per node: "I ADDRESS running PID" or "I ADDRESS stopped"
#   env DIR                        print the cluster's settings as shell variables
# init options:
#   --nodes N                      number of nodes (default 3)
#   --port-base P                  native port P and storage port P+1 on every address; node I's JMX
#                                  port is P+1+I on 127.0.0.1 (default 19042)
#   --addresses A1,A2,...          one loopback address per node (default 127.0.0.11, .12, ...)
#   --cluster-name NAME            (default pitr-cluster)
#   --no-hints                     hinted_handoff_enabled: false
#   --heap SIZE                    per node (default 384M)
# Any other option is a node option, passed to `cassandra-node.sh init` for every node (e.g.
# --archive-command, --segment-size, --jvm-opt). In node options, @NODE@ becomes the node's number
# and @NODE_DIR@ its directory, e.g. --archive-command "hook --config=@NODE_DIR@/pitr.yaml %path %name".
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
node_sh="$here/cassandra-node.sh"

die() { echo "cassandra-cluster: $*" >&2; exit 1; }

load() {
  local dir=$1
  [ -f "$dir/cluster.env" ] || die "no cluster in '$dir'; hint: scripts/cassandra-cluster.sh init $dir"
  # shellcheck disable=SC1091
  . "$dir/cluster.env"
  read -r -a ADDRS <<<"$ADDRESSES"
}

node_dir() { echo "$1/node$2"; }

check_index() {
  local i=$2
  [[ "$i" =~ ^[0-9]+$ ]] && [ "$i" -ge 1 ] && [ "$i" -le "$NODES" ] || die "no node '$i' in '$1' (nodes 1 to $NODES)"
}

# The node options of node I: the cluster's own, then the stored ones, then ARGS (later wins).
node_init() {
  local dir=$1 i=$2; shift 2
  local ndir; ndir=$(node_dir "$dir" "$i")
  local -a opts=(
    --address "${ADDRS[$((i - 1))]}" --port-base "$PORT_BASE" --jmx-port "$((PORT_BASE + 1 + i))"
    --seeds "${ADDRS[0]}:$((PORT_BASE + 1))" --cluster-name "$CLUSTER_NAME"
    --hinted-handoff "$HINTS" --auto-bootstrap false --snitch GossipingPropertyFileSnitch --heap "$HEAP"
    --jvm-opt -XX:TieredStopAtLevel=1 --phi-convict-threshold 12
  )
  local -a stored=()
  [ -f "$dir/node-options" ] && mapfile -t stored < "$dir/node-options"
  local o
  for o in ${stored[@]+"${stored[@]}"} "$@"; do
    o=${o//@NODE_DIR@/$ndir}
    opts+=("${o//@NODE@/$i}")
  done
  bash "$node_sh" init "$ndir" "${opts[@]}"
}

cmd_init() {
  local dir=$1; shift
  local nodes=3 port_base=19042 addresses="" name=pitr-cluster hints=true heap=384M
  local -a node_opts=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --nodes) nodes=$2; shift 2 ;;
      --port-base) port_base=$2; shift 2 ;;
      --addresses) addresses=$2; shift 2 ;;
      --cluster-name) name=$2; shift 2 ;;
      --no-hints) hints=false; shift ;;
      --heap) heap=$2; shift 2 ;;
      *) [ $# -ge 2 ] || die "node option '$1' needs a value"; node_opts+=("$1" "$2"); shift 2 ;;
    esac
  done
  [[ "$nodes" =~ ^[1-9][0-9]?$ ]] || die "--nodes must be a number from 1 to 99"
  if [ -z "$addresses" ]; then
    addresses=$(seq -s, -f '127.0.0.%g' 11 $((10 + nodes)))
  fi
  local -a addrs; IFS=, read -r -a addrs <<<"$addresses"
  [ "${#addrs[@]}" -eq "$nodes" ] || die "--addresses names ${#addrs[@]} addresses for $nodes nodes"
  local a
  for a in "${addrs[@]}"; do
    case "$a" in 127.*) ;; *) die "address '$a' is not a loopback address; test clusters use 127.0.0.0/8 only" ;; esac
  done
  [ "$(printf '%s\n' "${addrs[@]}" | sort -u | wc -l)" -eq "$nodes" ] || die "--addresses has duplicates: '$addresses'"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  cat > "$dir/cluster.env" <<ENV
CLUSTER_DIR=$dir
NODES=$nodes
ADDRESSES="${addrs[*]}"
PORT_BASE=$port_base
NATIVE_PORT=$port_base
STORAGE_PORT=$((port_base + 1))
CLUSTER_NAME=$name
HINTS=$hints
HEAP=$heap
ENV
  : > "$dir/node-options"
  [ ${#node_opts[@]} -eq 0 ] || printf '%s\n' "${node_opts[@]}" > "$dir/node-options"
  load "$dir"
  local i
  for i in $(seq 1 "$nodes"); do node_init "$dir" "$i"; done
}

running() { bash "$node_sh" status "$(node_dir "$1" "$2")" | grep -q '^running'; }

# Every running node lists every running node as UN (so gossip has converged on each).
all_up() {
  local dir=$1 i want=0 out
  for i in $(seq 1 "$NODES"); do running "$dir" "$i" && want=$((want + 1)); done
  for i in $(seq 1 "$NODES"); do
    running "$dir" "$i" || continue
    out=$(bash "$node_sh" nodetool "$(node_dir "$dir" "$i")" status 2>/dev/null) || return 1
    [ "$(grep -c '^UN ' <<<"$out")" -eq "$want" ] || return 1
  done
}

cmd_wait() {
  local dir=$1 deadline=$((SECONDS + ${CASSANDRA_CLUSTER_WAIT_TIMEOUT:-300}))
  until all_up "$dir"; do
    [ $SECONDS -lt $deadline ] || die "the nodes never all saw each other UN; see $dir/node*/logs/system.log"
    sleep 1
  done
}

cmd_start() {
  local dir=$1 only=${2:-} i
  if [ -n "$only" ]; then
    check_index "$dir" "$only"
    bash "$node_sh" start "$(node_dir "$dir" "$only")"
  else
    for i in $(seq 1 "$NODES"); do
      running "$dir" "$i" || bash "$node_sh" start "$(node_dir "$dir" "$i")"
    done
  fi
  cmd_wait "$dir"
}

# each_or_one DIR [I] COMMAND: the node command for node I, or for every node, highest first (the
# seed last, so the others can still gossip their shutdown to it).
each_or_one() {
  local dir=$1 only=$2 command=$3 i
  if [ -n "$only" ]; then
    check_index "$dir" "$only"
    bash "$node_sh" "$command" "$(node_dir "$dir" "$only")"
  else
    for i in $(seq "$NODES" -1 1); do bash "$node_sh" "$command" "$(node_dir "$dir" "$i")"; done
  fi
}

cmd_status() {
  local dir=$1 i
  for i in $(seq 1 "$NODES"); do
    echo "$i ${ADDRS[$((i - 1))]} $(bash "$node_sh" status "$(node_dir "$dir" "$i")")"
  done
}

command=${1:-}
[ -n "$command" ] && [ $# -ge 2 ] || die "usage: scripts/cassandra-cluster.sh init|start|stop|drain|kill|restart|reconfigure|nodetool|wait|status|env DIR ..."
shift
dir=$1; shift
case "$dir" in *" "*) die "cluster directory '$dir' contains a space; archive_command paths must not";; esac
if [ "$command" = init ]; then cmd_init "$dir" "$@"; exit 0; fi
load "$dir"
case "$command" in
  start) cmd_start "$dir" "${1:-}" ;;
  stop) each_or_one "$dir" "${1:-}" stop ;;
  kill) each_or_one "$dir" "${1:-}" kill ;;
  drain) [ $# -ge 1 ] || die "drain needs a node number"; check_index "$dir" "$1"; bash "$node_sh" nodetool "$(node_dir "$dir" "$1")" drain ;;
  restart) [ $# -ge 1 ] || die "restart needs a node number"; each_or_one "$dir" "$1" stop; cmd_start "$dir" "$1" ;;
  reconfigure)
    [ $# -ge 1 ] || die "reconfigure needs a node number or 'all'"
    target=$1; shift
    if [ "$target" = all ]; then
      for i in $(seq 1 "$NODES"); do node_init "$dir" "$i" "$@"; done
    else
      check_index "$dir" "$target"; node_init "$dir" "$target" "$@"
    fi ;;
  nodetool) [ $# -ge 1 ] || die "nodetool needs a node number"; check_index "$dir" "$1"; n=$1; shift; bash "$node_sh" nodetool "$(node_dir "$dir" "$n")" "$@" ;;
  wait) cmd_wait "$dir" ;;
  status) cmd_status "$dir" ;;
  env) cat "$dir/cluster.env" ;;
  *) die "unknown command '$command'" ;;
esac
