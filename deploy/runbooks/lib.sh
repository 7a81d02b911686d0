# shellcheck shell=bash
# Globals set here are read by the scenario scripts that source this file:
# shellcheck disable=SC2034
# Shared helpers of the runbook scripts (deploy/runbooks/<scenario>.sh), sourced, never run.
#
# A scenario script sets its defaults, calls `surge_init <scenario> <seed> "$@"`, derives every
# resource name from $PREFIX with `name VAR VALUE`, calls `print_names`, and dispatches the phase
# with `surge_main` (which calls phase_up / phase_load / phase_report / phase_down). Every external
# command goes through `run`, `run_to_file`, `run_bg`, `query` or `ensure`, which print it first as
# a line starting with "+ " (registered secrets shown as ***). Under --dry-run nothing external is
# executed: reads yield a "<…>" placeholder, creates are only printed.
#
# The interface is shared with the eks script: add functions and options, do not rename them.

SURGE_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SURGE_RUNBOOKS_DIR="$SURGE_REPO_ROOT/deploy/runbooks"

# Pinned Helm charts (the same for every scenario that installs them).
KEDA_CHART_REPO=https://kedacore.github.io/charts
KEDA_CHART_VERSION=2.20.2
PROMETHEUS_CHART_REPO=https://prometheus-community.github.io/helm-charts
PROMETHEUS_CHART_VERSION=27.19.0
# Where the prometheus chart puts its server: service prometheus-server, port 80, namespace monitoring.
PROMETHEUS_NAMESPACE=monitoring
PROMETHEUS_SERVICE=prometheus-server

# Names of the prefix and of every derived resource, in the order declared (for print_names).
SURGE_NAMES=()
# Values never printed: every printed line has each of them replaced by ***.
SURGE_SECRETS=()
# Background processes this script started (port-forwards), ended by id at exit.
SURGE_BG_PIDS=()

# The plan goes to the script's stdout even from inside $(query …), whose stdout is captured.
exec 3>&1

die() {
  printf '%s: %s\n' "${SCENARIO:-runbook}" "$*" >&2
  exit 2
}

# A line of the plan that is not a command: "# …".
note() {
  _print "# $*"
}

# Registers a value that must never be printed (connection strings, tokens, keys).
secret() {
  local value
  for value in "$@"; do
    [ -n "$value" ] && SURGE_SECRETS+=("$value")
  done
  return 0
}

mask() {
  local text=$1 value
  for value in "${SURGE_SECRETS[@]+"${SURGE_SECRETS[@]}"}"; do
    text=${text//"$value"/***}
  done
  printf '%s' "$text"
}

_print() {
  printf '%s\n' "$(mask "$1")" >&3
}

# A command as a shell line: plain words as they are, anything else single-quoted.
_quote() {
  local out='' arg
  for arg in "$@"; do
    if [[ $arg =~ ^[A-Za-z0-9_./:=,@%+^-]+$ ]]; then
      out+=" $arg"
    else
      out+=" '${arg//\'/\'\\\'\'}'"
    fi
  done
  printf '%s' "${out# }"
}

is_dry_run() {
  [ "${DRY_RUN:-0}" = 1 ]
}

# run CMD… — a command with an effect; printed, not executed under --dry-run.
run() {
  _print "+ $(_quote "$@")"
  is_dry_run && return 0
  "$@"
}

# run_to_file FILE CMD… — as run, stdout into FILE.
run_to_file() {
  local file=$1
  shift
  _print "+ $(_quote "$@") > $(_quote "$file")"
  is_dry_run && return 0
  "$@" >"$file"
}

# query CMD… — a read whose stdout the script uses. Under --dry-run: the placeholder "<CMD…>".
query() {
  _print "+ $(_quote "$@")"
  if is_dry_run; then
    printf '<%s>\n' "$(mask "$*")"
    return 0
  fi
  "$@"
}

# ensure "<what>" SHOW-CMD… -- CREATE-CMD… — re-runnable create: when the show/get succeeds the
# resource exists and is reused; otherwise it is created. Under --dry-run only the create is printed.
ensure() {
  local what=$1
  shift
  local show=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    show+=("$1")
    shift
  done
  [ "${1:-}" = -- ] || die "ensure \"$what\": missing -- between the show and the create command"
  shift
  if [ ${#show[@]} -eq 0 ] || [ $# -eq 0 ]; then
    die "ensure \"$what\": needs a show and a create command"
  fi
  is_dry_run && note "ensure $what (reused if: $(_quote "${show[@]}"))"
  if exists "${show[@]}"; then
    _print "= $what exists, reusing"
    return 0
  fi
  run "$@"
}

# exists SHOW-CMD… — runs a show/get quietly: 0 when it succeeds. Under --dry-run: not executed, 1.
exists() {
  is_dry_run && return 1
  _print "+ $(_quote "$@")"
  "$@" >/dev/null 2>&1
}

# run_bg CMD… — starts CMD in the background (port-forwards); ended by id when the script exits.
SURGE_LAST_BG_PID=
run_bg() {
  _print "+ $(_quote "$@") &"
  SURGE_LAST_BG_PID=
  is_dry_run && return 0
  "$@" >>"$STATE_DIR/port-forward.log" 2>&1 &
  SURGE_LAST_BG_PID=$!
  SURGE_BG_PIDS+=("$SURGE_LAST_BG_PID")
}

_surge_exit() {
  local pid
  for pid in "${SURGE_BG_PIDS[@]+"${SURGE_BG_PIDS[@]}"}"; do
    kill "$pid" 2>/dev/null || true
  done
}
trap _surge_exit EXIT

# name VAR VALUE — declares a derived resource name (printed by print_names).
name() {
  printf -v "$1" '%s' "$2"
  SURGE_NAMES+=("$1")
}

print_names() {
  _print "# scenario $SCENARIO (seed $SEED), phase $PHASE$(is_dry_run && printf ' (dry run: nothing is executed)')"
  _print "# prefix $PREFIX"
  local var
  for var in "${SURGE_NAMES[@]}"; do
    _print "#   $var=${!var}"
  done
  _print "#   STATE_DIR=$STATE_DIR"
}

surge_usage() {
  cat <<EOF
usage: deploy/runbooks/$SCENARIO.sh up|load|report|down [--dry-run] [options]
  --dry-run          print every command with its values, execute none
  --prefix P         prefix of every resource name (default: SURGE_PREFIX or $(default_prefix));
                     lowercase letters and digits, 4-12 characters, starting with a letter
  --location L       Azure region (default ${DEFAULT_LOCATION:-westeurope})
  --region R         AWS region (default ${DEFAULT_REGION:-eu-west-1})
  --tag T            image tag (default: SURGE_TAG, else the git commit, else dev)
  --count N          load: messages (default ${DEFAULT_COUNT:-1000})
  --rate R           load: messages per second (default ${DEFAULT_RATE:-as fast as the broker confirms})
  --work-ms N        load: simulated work per message in ms (default ${DEFAULT_WORK_MS:-1000})
  --start T --end T  report: time range (default: 1 minute before the first load .. now)
${SCENARIO_USAGE:-}State: \${SURGE_STATE_DIR:-<repo>/.surge/runbooks/$SCENARIO-<prefix>}
EOF
}

# The default prefix: "sg" + the seed + 5 hex of sha256(user@host) — the same for a user on a
# machine, different between users, short enough for storage account and registry names.
default_prefix() {
  local who hash
  who="${USER:-$(id -un)}@$(hostname)"
  hash=$(printf '%s' "$who" | sha256sum)
  printf 'sg%s%s' "$SEED" "${hash:0:5}"
}

_positive_int() {
  [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1: expected a positive integer, got '$2'"
}

# surge_init SCENARIO SEED ARGS… — parses the phase and the options into globals:
# PHASE DRY_RUN PREFIX LOCATION REGION TAG COUNT RATE WORK_MS REPORT_START REPORT_END STATE_DIR.
# Unknown options go to the scenario's `scenario_option NAME VALUE` when defined (return 0 when it
# took NAME and VALUE, 1 when it took only NAME, 2 when NAME is unknown).
surge_init() {
  SCENARIO=$1
  SEED=$2
  shift 2
  PHASE=
  DRY_RUN=0
  PREFIX=${SURGE_PREFIX:-}
  LOCATION=${DEFAULT_LOCATION:-westeurope}
  REGION=${DEFAULT_REGION:-eu-west-1}
  TAG=${SURGE_TAG:-}
  COUNT=${DEFAULT_COUNT:-1000}
  RATE=${DEFAULT_RATE:-}
  WORK_MS=${DEFAULT_WORK_MS:-1000}
  REPORT_START=
  REPORT_END=
  while [ $# -gt 0 ]; do
    case $1 in
      up | load | report | down)
        [ -z "$PHASE" ] || die "one phase at a time, got $PHASE and $1"
        PHASE=$1
        ;;
      --dry-run) DRY_RUN=1 ;;
      --prefix | --location | --region | --tag | --count | --rate | --work-ms | --start | --end)
        [ $# -ge 2 ] || die "$1: missing value"
        case $1 in
          --prefix) PREFIX=$2 ;;
          --location) LOCATION=$2 ;;
          --region) REGION=$2 ;;
          --tag) TAG=$2 ;;
          --count) COUNT=$2 ;;
          --rate) RATE=$2 ;;
          --work-ms) WORK_MS=$2 ;;
          --start) REPORT_START=$2 ;;
          --end) REPORT_END=$2 ;;
        esac
        shift
        ;;
      -h | --help)
        surge_usage
        exit 0
        ;;
      *)
        local taken=2
        if declare -F scenario_option >/dev/null; then
          scenario_option "$1" "${2-}" && taken=0 || taken=$?
        fi
        case $taken in
          0) shift ;;
          1) ;;
          *) die "unknown argument '$1' (see --help)" ;;
        esac
        ;;
    esac
    shift
  done
  [ -n "$PHASE" ] || die "expected a phase: up, load, report or down (see --help)"
  [ -n "$PREFIX" ] || PREFIX=$(default_prefix)
  [[ $PREFIX =~ ^[a-z][a-z0-9]{3,11}$ ]] || die "--prefix: expected 4-12 lowercase letters and digits starting with a letter (fits storage account and registry names), got '$PREFIX'"
  [[ $LOCATION =~ ^[a-z0-9]+$ ]] || die "--location: expected an Azure region name like westeurope, got '$LOCATION'"
  _positive_int --count "$COUNT"
  _positive_int --work-ms "$WORK_MS"
  [ -z "$RATE" ] || [[ $RATE =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--rate: expected messages per second (a number), got '$RATE'"
  if [ -z "$TAG" ]; then
    TAG=$(git -C "$SURGE_REPO_ROOT" rev-parse --short=12 HEAD 2>/dev/null || printf dev)
  fi
  [[ $TAG =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "--tag: expected an image tag ([A-Za-z0-9_.-], at most 128), got '$TAG'"
  STATE_DIR=${SURGE_STATE_DIR:-$SURGE_REPO_ROOT/.surge/runbooks/$SCENARIO-$PREFIX}
  # kubectl and helm use the cluster's own kubeconfig in the state dir: ~/.kube/config is never touched.
  KUBECONFIG_FILE="$STATE_DIR/kubeconfig"
  export KUBECONFIG="$KUBECONFIG_FILE"
  if ! is_dry_run; then
    mkdir -p "$STATE_DIR"
    chmod 700 "$STATE_DIR"
  fi
}

surge_main() {
  case $PHASE in
    up) phase_up ;;
    load) phase_load ;;
    report) phase_report ;;
    down) phase_down ;;
  esac
  note "$SCENARIO $PHASE: done$(is_dry_run && printf ' (dry run)')"
}

# ---- state -------------------------------------------------------------------------------------

# state_set KEY VALUE — remembers VALUE in the state dir (printed as a note, not written, under --dry-run).
state_set() {
  note "state $1=$(mask "$2")"
  is_dry_run && return 0
  printf '%s\n' "$2" >"$STATE_DIR/$1"
}

# state_add KEY VALUE — appends a line.
state_add() {
  note "state $1 += $(mask "$2")"
  is_dry_run && return 0
  printf '%s\n' "$2" >>"$STATE_DIR/$1"
}

# state_get KEY [DEFAULT] — the remembered value, else DEFAULT, else "<state KEY>" under --dry-run.
state_get() {
  if [ -f "$STATE_DIR/$1" ]; then
    head -n 1 "$STATE_DIR/$1"
  elif [ $# -ge 2 ]; then
    printf '%s\n' "$2"
  elif is_dry_run; then
    printf '<state %s>\n' "$1"
  else
    die "no $1 in $STATE_DIR: run the phase that records it first (up, then load)"
  fi
}

state_lines() {
  [ -f "$STATE_DIR/$1" ] && cat "$STATE_DIR/$1"
  return 0
}

# secret_file NAME VALUE — writes a secret value to $STATE_DIR/secrets/NAME (mode 600) and prints
# the path, so a Secret is created from files: the value never appears on a command line.
secret_file() {
  local file="$STATE_DIR/secrets/$1"
  secret "$2"
  note "write $file (secret)"
  if ! is_dry_run; then
    mkdir -p "$STATE_DIR/secrets"
    chmod 700 "$STATE_DIR/secrets"
    (umask 077 && printf '%s' "$2" >"$file")
  fi
  printf '%s\n' "$file"
}

# value_file NAME VALUE — as secret_file for a value that is not secret (a user name): not masked.
value_file() {
  local file="$STATE_DIR/secrets/$1"
  note "write $file"
  if ! is_dry_run; then
    mkdir -p "$STATE_DIR/secrets"
    chmod 700 "$STATE_DIR/secrets"
    (umask 077 && printf '%s' "$2" >"$file")
  fi
  printf '%s\n' "$file"
}

# generated_token NAME — a random token (the producer's bearer token): the one kept in
# $STATE_DIR/secrets/NAME by an earlier run, else a new one (write it with secret_file).
# Values read with $(…) come from a subshell: the caller registers them with `secret` itself.
generated_token() {
  local file="$STATE_DIR/secrets/$1"
  if [ -s "$file" ]; then
    cat "$file"
  else
    query openssl rand -hex 24
  fi
}

now_utc() {
  date -u +%Y-%m-%dT%H:%M:%SZ
}

# ---- cluster ---------------------------------------------------------------------------------------

# ensure_namespace NS
ensure_namespace() {
  ensure "namespace $1" kubectl get namespace "$1" -- kubectl create namespace "$1"
}

# ensure_secret_from_files NS NAME KEY=FILE… — a generic Secret from files (values never on argv).
ensure_secret_from_files() {
  local ns=$1 secret_name=$2 pair
  shift 2
  local args=()
  for pair in "$@"; do
    args+=("--from-file=$pair")
  done
  ensure "secret $ns/$secret_name" kubectl -n "$ns" get secret "$secret_name" -- \
    kubectl -n "$ns" create secret generic "$secret_name" "${args[@]}"
}

# sentinel_tokens OVERLAY — the "<token> <VARIABLE>" pairs of the overlay's sentinels.env.
sentinel_tokens() {
  local file="$SURGE_REPO_ROOT/deploy/kustomize/overlays/$1/sentinels.env" line token var
  [ -f "$file" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%%#*}
    line=${line//[[:space:]]/}
    [ -n "$line" ] || continue
    token=${line%%=*}
    var=${line#*=}
    [[ $token =~ ^surge-sentinel-[a-z0-9-]+$ ]] || die "$file: '$token' is not a sentinel (surge-sentinel-[a-z0-9-]+)"
    [[ $var =~ ^[A-Z_][A-Z0-9_]*$ ]] || die "$file: '$var' is not a variable name"
    printf '%s %s\n' "$token" "$var"
  done <"$file"
}

# render_overlay OVERLAY [OUT] — renders the overlay, replaces each sentinel declared in its
# sentinels.env by the value of its variable (an empty variable stops the script), checks the
# result with `npm run check-manifests` (a problem stops the script) and prints the file's path.
# Apply exactly that file with apply_rendered.
render_overlay() {
  local overlay=$1 out=${2:-$STATE_DIR/rendered.yaml} token var value content
  local dir="$SURGE_REPO_ROOT/deploy/kustomize/overlays/$overlay"
  [ -f "$dir/kustomization.yaml" ] || die "no overlay $dir"
  run_to_file "$out" kubectl kustomize "$dir"
  local pairs=() listed
  listed=$(sentinel_tokens "$overlay")
  [ -z "$listed" ] || mapfile -t pairs <<<"$listed"
  is_dry_run || content=$(<"$out")
  local pair
  for pair in "${pairs[@]+"${pairs[@]}"}"; do
    token=${pair% *}
    var=${pair#* }
    value=${!var-}
    [ -n "$value" ] || die "$overlay/sentinels.env: $token needs \$$var, which is empty"
    note "replace $token with \$$var = $value in $(basename "$out")"
    is_dry_run || content=${content//"$token"/"$value"}
  done
  is_dry_run || printf '%s\n' "$content" >"$out"
  # its findings go to stderr: stdout is the path, for rendered=$(render_overlay …)
  (cd "$SURGE_REPO_ROOT" && run npm run --silent check-manifests -- "$out" >&2)
  printf '%s\n' "$out"
}

# apply_rendered [FILE] — applies the file render_overlay wrote and checked.
apply_rendered() {
  run kubectl apply --server-side --force-conflicts -f "${1:-$STATE_DIR/rendered.yaml}"
}

# rollout_wait NS DEPLOYMENT…
rollout_wait() {
  local ns=$1 deployment
  shift
  for deployment in "$@"; do
    run kubectl -n "$ns" rollout status "deployment/$deployment" --timeout=10m
  done
}

# helm_keda VALUES_FILE — KEDA from its pinned chart, tuned through the chart's values only.
helm_keda() {
  run helm upgrade --install keda keda --repo "$KEDA_CHART_REPO" --version "$KEDA_CHART_VERSION" \
    --namespace keda --create-namespace --values "$1" --wait --timeout 10m
}

# helm_prometheus VALUES_FILE — Prometheus + kube-state-metrics from the pinned chart (for report).
helm_prometheus() {
  run helm upgrade --install prometheus prometheus --repo "$PROMETHEUS_CHART_REPO" --version "$PROMETHEUS_CHART_VERSION" \
    --namespace "$PROMETHEUS_NAMESPACE" --create-namespace --values "$1" --wait --timeout 10m
}

# port_forward NS TARGET REMOTE_PORT LOCAL_PORT [READY_PATH] — kubectl port-forward in the
# background (ended at exit), then waits until http://127.0.0.1:LOCAL_PORT/READY_PATH answers.
port_forward() {
  local ns=$1 target=$2 remote=$3 local_port=$4 ready=${5:-/}
  run_bg kubectl -n "$ns" port-forward "$target" "$local_port:$remote" --address 127.0.0.1
  local url="http://127.0.0.1:$local_port$ready"
  _print "+ curl -sS -o /dev/null $url  (until it answers, at most 60 s)"
  is_dry_run && return 0
  local _
  for _ in $(seq 1 60); do
    curl -sS -o /dev/null --max-time 2 "$url" 2>/dev/null && return 0
    sleep 1
  done
  die "port-forward to $ns/$target did not answer at $url within 60 s (see $STATE_DIR/port-forward.log)"
}

# ---- load and report ------------------------------------------------------------------------------

# PRODUCER_LOCAL_PORT / PROMETHEUS_LOCAL_PORT: per seed, so two scenarios can run side by side.
producer_port() {
  printf '%s' "$((18080 + 10#$SEED))"
}

prometheus_port() {
  printf '%s' "$((19090 + 10#$SEED))"
}

# producer_token NS — the producer's bearer token: from the state dir, else from the cluster's Secret.
producer_token() {
  local ns=$1 file="$STATE_DIR/secrets/producer-token" value
  if [ -s "$file" ]; then
    value=$(cat "$file")
  else
    value=$(query kubectl -n "$ns" get secret surge-producer -o 'jsonpath={.data.token}')
    is_dry_run || value=$(printf '%s' "$value" | base64 -d 2>/dev/null) || die "secret $ns/surge-producer: key token is not base64"
  fi
  secret "$value"
  printf '%s\n' "$value"
}

SURGE_LOADS_STARTED=
# run_load NS LABEL [PRODUCER_SERVICE] — port-forwards the producer and sends one load with
# COUNT/RATE/WORK_MS through `npm run load`; records start, end and load id in the state dir
# (load-start: the start of this phase's first load; load-ids gets "LABEL ID START" per load).
run_load() {
  local ns=$1 label=$2 service=${3:-producer} port token load_id started
  port=$(producer_port)
  token=$(producer_token "$ns")
  secret "$token"
  port_forward "$ns" "svc/$service" 8080 "$port" /readyz
  load_id="$PREFIX-$label-$(date -u +%Y%m%d%H%M%S)"
  started=$(now_utc)
  # load-start: the first load of this `load` phase (a later phase run starts a new range)
  if [ -z "$SURGE_LOADS_STARTED" ]; then
    state_set load-start "$started"
    SURGE_LOADS_STARTED=1
  fi
  state_set "load-start-$label" "$started"
  local args=(--url "http://127.0.0.1:$port" --count "$COUNT" --duration-ms "$WORK_MS" --mode wait --load-id "$load_id" --plain)
  [ -z "$RATE" ] || args+=(--rate "$RATE")
  state_add load-ids "$label $load_id $started"
  (cd "$SURGE_REPO_ROOT" && run env "PRODUCER_TOKEN=$token" npm run --silent load -- "${args[@]}")
  state_set load-end "$(now_utc)"
  state_set "load-end-$label" "$(now_utc)"
  # the port-forward of this load ends now; the next load starts its own
  local pid
  for pid in "${SURGE_BG_PIDS[@]+"${SURGE_BG_PIDS[@]}"}"; do
    kill "$pid" 2>/dev/null || true
  done
  SURGE_BG_PIDS=()
}

# report_range — sets REPORT_FROM and REPORT_TO: --start/--end, else one minute before the first
# load (state load-start, or load-start-LABEL when a label is given) .. now.
report_range() {
  local key=load-start${1:+-$1} first
  REPORT_TO=${REPORT_END:-now}
  REPORT_FROM=$REPORT_START
  [ -z "$REPORT_FROM" ] || return 0
  first=$(state_get "$key")
  if is_dry_run && [[ $first == '<'* ]]; then
    REPORT_FROM=$first
  else
    REPORT_FROM=$(date -u -d "$first - 1 minute" +%Y-%m-%dT%H:%M:%SZ) || die "state $key: '$first' is not a time"
  fi
}

# prometheus_forward — port-forwards the cluster's Prometheus (once per script run); sets PROMETHEUS_URL.
PROMETHEUS_URL=
prometheus_forward() {
  [ -z "$PROMETHEUS_URL" ] || return 0
  local port
  port=$(prometheus_port)
  port_forward "$PROMETHEUS_NAMESPACE" "svc/$PROMETHEUS_SERVICE" 80 "$port" /-/ready
  PROMETHEUS_URL="http://127.0.0.1:$port"
}

# prometheus_report NS QUEUE OUT_DIR [LOAD_LABEL] [-- EXTRA report flags…] — keda-local's report
# from the cluster's Prometheus into OUT_DIR (report.html, report.json), over report_range.
prometheus_report() {
  local ns=$1 queue=$2 out=$3 label=
  shift 3
  if [ $# -gt 0 ] && [ "$1" != -- ]; then
    label=$1
    shift
  fi
  [ "${1:-}" != -- ] || shift
  report_range "$label"
  prometheus_forward
  is_dry_run || mkdir -p "$out"
  (cd "$SURGE_REPO_ROOT" && run npm run --silent report -w apps/keda-local -- \
    --prometheus "$PROMETHEUS_URL" --start "$REPORT_FROM" --end "$REPORT_TO" \
    --namespace "$ns" --queue "$queue" "$@" --out "$out")
}

# ---- Azure (the AKS scenarios) --------------------------------------------------------------------

# The names every AKS scenario derives from the prefix. Azure limits: storage account 3-24 lowercase
# alphanumerics, registry 5-50 alphanumerics, Service Bus namespace 6-50 and not ending in -sb.
aks_names() {
  name RG "$PREFIX-rg"
  name AKS "$PREFIX-aks"
  name ACR "${PREFIX}acr"
  name SB "$PREFIX-bus"
  name ST "${PREFIX}res"
  name NS surge
}

az_resource_group() {
  ensure "resource group $RG" az group show -n "$RG" -- \
    az group create -n "$RG" -l "$LOCATION" --tags "surge-scenario=$SCENARIO" "surge-prefix=$PREFIX"
}

# az_registry — a Premium registry (a thousand nodes pulling at once: ACR throttles lower SKUs,
# Azure/AKS#1400); sets REGISTRY to its login server.
az_registry() {
  ensure "container registry $ACR" az acr show -g "$RG" -n "$ACR" -- \
    az acr create -g "$RG" -n "$ACR" -l "$LOCATION" --sku Premium --admin-enabled false
  REGISTRY=$(query az acr show -g "$RG" -n "$ACR" --query loginServer -o tsv)
}

# az_images APP… — each app's bundle (`npx nx build`), then the image built in ACR from the repo root
# (one Dockerfile, --build-arg APP); an image already pushed under TAG is reused.
az_images() {
  local app
  for app in "$@"; do
    if exists az acr repository show -n "$ACR" --image "surge/$app:$TAG"; then
      _print "= image surge/$app:$TAG exists in $ACR, reusing"
      continue
    fi
    (cd "$SURGE_REPO_ROOT" && run npx nx build "$app" && \
      run az acr build -r "$ACR" -t "surge/$app:$TAG" --build-arg "APP=$app" -f Dockerfile .)
  done
}

# az_servicebus SKU QUEUE… — namespace and queues; max delivery count = QUEUE_MAX_DELIVERIES of the
# overlay (10: a Spot eviction redelivers), lock 5 min (the maximum; the worker renews it).
az_servicebus() {
  local sku=$1 queue
  shift
  ensure "Service Bus namespace $SB" az servicebus namespace show -g "$RG" -n "$SB" -- \
    az servicebus namespace create -g "$RG" -n "$SB" -l "$LOCATION" --sku "$sku"
  for queue in "$@"; do
    ensure "queue $queue" az servicebus queue show -g "$RG" --namespace-name "$SB" -n "$queue" -- \
      az servicebus queue create -g "$RG" --namespace-name "$SB" -n "$queue" --max-delivery-count 10 --lock-duration PT5M
  done
}

# az_servicebus_sas — two SAS policies (apps: Send+Listen; exporter and KEDA: Manage, which reads
# runtime properties) and their connection strings in SB_APP_CONN / SB_MANAGE_CONN (secrets).
az_servicebus_sas() {
  ensure "SAS policy surge-app" az servicebus namespace authorization-rule show -g "$RG" --namespace-name "$SB" -n surge-app -- \
    az servicebus namespace authorization-rule create -g "$RG" --namespace-name "$SB" -n surge-app --rights Send Listen
  ensure "SAS policy surge-manage" az servicebus namespace authorization-rule show -g "$RG" --namespace-name "$SB" -n surge-manage -- \
    az servicebus namespace authorization-rule create -g "$RG" --namespace-name "$SB" -n surge-manage --rights Manage Send Listen
  SB_APP_CONN=$(query az servicebus namespace authorization-rule keys list -g "$RG" --namespace-name "$SB" -n surge-app --query primaryConnectionString -o tsv)
  secret "$SB_APP_CONN"
  SB_MANAGE_CONN=$(query az servicebus namespace authorization-rule keys list -g "$RG" --namespace-name "$SB" -n surge-manage --query primaryConnectionString -o tsv)
  secret "$SB_MANAGE_CONN"
}

# az_storage — Premium block blob account for the results and its container surge-results.
az_storage() {
  ensure "storage account $ST" az storage account show -g "$RG" -n "$ST" -- \
    az storage account create -g "$RG" -n "$ST" -l "$LOCATION" --kind BlockBlobStorage --sku Premium_LRS \
    --min-tls-version TLS1_2 --allow-blob-public-access false
  ST_ID=$(query az storage account show -g "$RG" -n "$ST" --query id -o tsv)
  # through the management plane: no data-plane role needed for the person running the script
  ensure "blob container surge-results" az storage container-rm show -g "$RG" --storage-account "$ST" -n surge-results -- \
    az storage container-rm create -g "$RG" --storage-account "$ST" -n surge-results
}

# deploy_servicebus_overlay NS OVERLAY DEPLOYMENT… — the connection-string scenarios' common tail: the
# producer token and the Service Bus and storage Secrets (from az_servicebus_sas / az_storage_connection),
# then render → check → apply the overlay and wait for the named Deployments.
deploy_servicebus_overlay() {
  local ns=$1 overlay=$2
  shift 2
  ensure_namespace "$ns"
  local token
  token=$(generated_token producer-token)
  secret "$token"
  ensure_secret_from_files "$ns" surge-producer "token=$(secret_file producer-token "$token")"
  ensure_secret_from_files "$ns" surge-servicebus \
    "connection-string=$(secret_file servicebus-app "$SB_APP_CONN")" \
    "manage-connection-string=$(secret_file servicebus-manage "$SB_MANAGE_CONN")"
  ensure_secret_from_files "$ns" surge-storage "connection-string=$(secret_file storage "$ST_CONN")"

  local rendered
  rendered=$(render_overlay "$overlay")
  apply_rendered "$rendered"
  rollout_wait "$ns" "$@"
}

# az_storage_connection — ST_CONN (secret), for the connection-string overlays.
az_storage_connection() {
  ST_CONN=$(query az storage account show-connection-string -g "$RG" -n "$ST" --query connectionString -o tsv)
  secret "$ST_CONN"
}

# az_credentials — the cluster's kubeconfig into the state dir (KUBECONFIG points there).
az_credentials() {
  run az aks get-credentials -g "$RG" -n "$AKS" --file "$KUBECONFIG_FILE" --overwrite-existing
}

# az_role ASSIGNEE_OBJECT_ID ROLE SCOPE — a role assignment, created unless one exists.
az_role() {
  local principal=$1 role=$2 scope=$3 existing=''
  if ! is_dry_run; then
    existing=$(query az role assignment list --assignee "$principal" --role "$role" --scope "$scope" --query '[].id' -o tsv 2>/dev/null) || existing=''
  fi
  if [ -n "$existing" ]; then
    _print "= role $role for $principal on $scope exists, reusing"
    return 0
  fi
  run az role assignment create --assignee-object-id "$principal" --assignee-principal-type ServicePrincipal \
    --role "$role" --scope "$scope"
}

# az_down — deletes the resource group (cluster, node resource group, registry, Service Bus,
# storage, identities, VNet and the role assignments scoped inside it), then what lives outside
# Azure: the kubeconfig and the secrets in the state dir. Re-runnable: a missing group is skipped.
az_down() {
  if is_dry_run || exists az group show -n "$RG"; then
    run az group delete -n "$RG" --yes
  else
    _print "= resource group $RG does not exist, nothing to delete"
  fi
  run rm -rf "$KUBECONFIG_FILE" "$STATE_DIR/secrets" "$STATE_DIR/rendered.yaml"
}
