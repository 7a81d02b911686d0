#!/usr/bin/env bash
# Seed 001 — ScaledObject vs ScaledJob on Azure Service Bus: worker-deployment (ScaledObject 0…5) on
# queue surge-deployment and worker-job (ScaledJob) on queue surge-job, 1,000 messages to each
# (0 → N → 0), and keda-local's compare view of the two runs.
# Prose and departures: deploy/kustomize/overlays/aks-servicebus-compare/README.md.
#
#   deploy/runbooks/aks-servicebus-compare.sh up|load|report|down [--dry-run] [--prefix P] …
# names are assigned by lib.sh's `name VAR VALUE`, which shellcheck cannot follow:
# shellcheck disable=SC2153
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEFAULT_COUNT=1000
DEFAULT_WORK_MS=5000
surge_init aks-servicebus-compare 001 "$@"

aks_names
name QUEUE_JOB surge-job
name QUEUE_DEPLOYMENT surge-deployment
name OVERLAY aks-servicebus-compare
print_names

phase_up() {
  az_resource_group
  az_registry

  # One pool, autoscaled 2…10 × D4ds_v5 (ephemeral OS): up to 100 worker-job pods (the base's
  # maxReplicaCount) + 5 worker-deployment replicas + KEDA, Prometheus and the apps.
  ensure "AKS cluster $AKS" az aks show -g "$RG" -n "$AKS" -- \
    az aks create -g "$RG" -n "$AKS" -l "$LOCATION" --tier standard \
    --nodepool-name system --node-vm-size Standard_D4ds_v5 --node-osdisk-type Ephemeral --node-osdisk-size 100 \
    --node-count 2 --enable-cluster-autoscaler --min-count 2 --max-count 10 \
    --network-plugin azure --network-plugin-mode overlay --pod-cidr 172.16.0.0/12 \
    --attach-acr "$ACR" --no-ssh-key

  az_storage
  az_storage_connection
  az_servicebus Basic "$QUEUE_JOB" "$QUEUE_DEPLOYMENT"
  az_servicebus_sas
  az_credentials

  helm_keda "$SURGE_RUNBOOKS_DIR/values/keda.yaml"
  helm_prometheus "$SURGE_RUNBOOKS_DIR/values/prometheus.yaml"
  az_images producer worker-job worker-deployment exporter

  # both producers (producer, producer-deployment) read the same two Secrets
  deploy_servicebus_overlay "$NS" "$OVERLAY" producer producer-deployment exporter
}

phase_load() {
  # one load per workload, each through the producer of its queue, one after the other: a load
  # returns once its messages are sent (seconds for 1,000), so both workloads start together
  run_load "$NS" job producer
  run_load "$NS" deployment producer-deployment
  note "watch: KUBECONFIG=$KUBECONFIG_FILE kubectl -n $NS get jobs,deployment worker-deployment"
  note "run '$SCENARIO.sh report' once worker-deployment is back to 0 and every Job has finished"
}

phase_report() {
  local out job deployment
  out="$STATE_DIR/report-$(date -u +%Y%m%dT%H%M%SZ)"
  job="$out/scaledjob"
  deployment="$out/scaledobject"
  prometheus_report "$NS" "$QUEUE_JOB" "$job" job -- --deployment none --scaled-job worker-job
  prometheus_report "$NS" "$QUEUE_DEPLOYMENT" "$deployment" deployment -- --deployment worker-deployment --scaled-job none
  (cd "$SURGE_REPO_ROOT" && run npm run --silent report -w apps/keda-local -- \
    --compare "$job/report.json" "$deployment/report.json" --out "$out/compare")
  note "report: $out/compare/report.html (each run: $job/report.html, $deployment/report.html)"
}

phase_down() {
  az_down
}

surge_main
