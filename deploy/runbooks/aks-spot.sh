#!/usr/bin/env bash
# Seed 000 — the 1,000-node run: worker-job as a KEDA ScaledJob on Azure Service Bus, one Job per
# message, one Job per Spot node (Standard_D4ds_v4, 0…998 nodes), results to Premium block blob
# storage. Prose, arithmetic and departures: deploy/kustomize/overlays/aks-spot/README.md.
#
#   deploy/runbooks/aks-spot.sh up|load|report|down [--dry-run] [--prefix P] [--location L] …
# names are assigned by lib.sh's `name VAR VALUE`, which shellcheck cannot follow:
# shellcheck disable=SC2153
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# the full seed run is `load --count 100000` (about two hours at 998 Jobs at a time)
DEFAULT_COUNT=5000
DEFAULT_RATE=500
DEFAULT_WORK_MS=60000
surge_init aks-spot 000 "$@"

aks_names
name SPOT_POOL spot
name QUEUE surge-work
name OVERLAY aks-spot
print_names

# The Spot pool: one worker-job per node (the Job requests 2 of the node's 3.86 allocatable vCPU,
# see the overlay README), so the pool's maximum is the ScaledJob's maxReplicaCount.
SPOT_VM=Standard_D4ds_v4
SPOT_MAX_NODES=998
SYSTEM_VM=Standard_D4ds_v5

phase_up() {
  az_resource_group
  az_registry

  # System pool: 2 × D4ds_v5 with ephemeral OS disks (producer, exporter, KEDA, Prometheus, CoreDNS).
  # Azure CNI Overlay hands each node a /24 from the pod CIDR: 172.16.0.0/12 holds 4,096 of them,
  # enough for 1,000 nodes (a /16 stops at 256). Service CIDR outside it.
  ensure "AKS cluster $AKS" az aks show -g "$RG" -n "$AKS" -- \
    az aks create -g "$RG" -n "$AKS" -l "$LOCATION" --tier standard \
    --nodepool-name system --node-count 2 --node-vm-size "$SYSTEM_VM" \
    --node-osdisk-type Ephemeral --node-osdisk-size 100 \
    --network-plugin azure --network-plugin-mode overlay \
    --pod-cidr 172.16.0.0/12 --service-cidr 10.0.0.0/16 --dns-service-ip 10.0.0.10 \
    --attach-acr "$ACR" --no-ssh-key \
    --cluster-autoscaler-profile scan-interval=10s scale-down-unneeded-time=3m max-empty-bulk-delete=200 max-node-provision-time=15m

  # Spot pool, autoscaled 0…998 (with the 2 system nodes: 1,000). Needs a regional
  # "Standard Low Priority vCPUs" quota of 998 × 4 = 3,992. AKS taints and labels Spot nodes
  # kubernetes.azure.com/scalesetpriority=spot itself. max-pods 30: one Job + the daemonsets, and
  # a smaller kube-reserved memory (20 MB × max-pods + 50 MB).
  ensure "Spot node pool $SPOT_POOL" az aks nodepool show -g "$RG" --cluster-name "$AKS" -n "$SPOT_POOL" -- \
    az aks nodepool add -g "$RG" --cluster-name "$AKS" -n "$SPOT_POOL" --mode User \
    --priority Spot --eviction-policy Delete --spot-max-price -1 \
    --node-vm-size "$SPOT_VM" --node-osdisk-type Ephemeral --node-osdisk-size 100 --max-pods 30 \
    --enable-cluster-autoscaler --min-count 0 --max-count "$SPOT_MAX_NODES" --node-count 0

  az_storage
  az_storage_connection
  # Basic: queues, peek-lock, dead-lettering and runtime properties are all the adapter and KEDA use.
  az_servicebus Basic "$QUEUE"
  az_servicebus_sas
  az_credentials

  helm_keda "$SURGE_RUNBOOKS_DIR/values/keda.yaml"
  helm_prometheus "$SURGE_RUNBOOKS_DIR/values/prometheus.yaml"

  az_images producer worker-job exporter

  deploy_servicebus_overlay "$NS" "$OVERLAY" producer exporter
}

phase_load() {
  run_load "$NS" load
  note "watch: KUBECONFIG=$KUBECONFIG_FILE kubectl -n $NS get scaledjob worker-job -w; kubectl get nodes -l kubernetes.azure.com/scalesetpriority=spot"
  note "run '$SCENARIO.sh report' once the Jobs are done and the Spot pool is back to 0"
}

phase_report() {
  local out
  out="$STATE_DIR/report-$(date -u +%Y%m%dT%H%M%SZ)"
  prometheus_report "$NS" "$QUEUE" "$out" -- --deployment none --scaled-job worker-job
  note "report: $out/report.html ($out/report.json)"
}

phase_down() {
  az_down
}

surge_main
