#!/usr/bin/env bash
# Seed 002 — the AKS KEDA add-on with workload identity end to end: worker-deployment scaled 0…50 by
# a ScaledObject on Azure Service Bus, no connection string anywhere, one user-assigned identity per
# role. Its own cluster: the add-on must never run beside a Helm-installed KEDA.
# Prose and departures: deploy/kustomize/overlays/aks-keda-addon/README.md.
#
#   deploy/runbooks/aks-keda-addon.sh up|load|report|down [--dry-run] [--prefix P] [--location L] …
# names are assigned by lib.sh's `name VAR VALUE`, and the *_CLIENT_ID values are read by
# render_overlay through sentinels.env: shellcheck follows neither.
# shellcheck disable=SC2153,SC2034
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEFAULT_COUNT=2000
DEFAULT_WORK_MS=2000
surge_init aks-keda-addon 002 "$@"

aks_names
name QUEUE surge-work
name ID_PRODUCER "$PREFIX-id-producer"
name ID_WORKER "$PREFIX-id-worker"
name ID_EXPORTER "$PREFIX-id-exporter"
name ID_KEDA "$PREFIX-id-keda"
name OVERLAY aks-keda-addon
print_names

# identity_for ID SUBJECT… — a user-assigned identity federated with each ServiceAccount SUBJECT
# (namespace:name); sets IDENTITY_CLIENT and IDENTITY_PRINCIPAL.
identity_for() {
  local identity=$1 subject
  shift
  ensure "identity $identity" az identity show -g "$RG" -n "$identity" -- \
    az identity create -g "$RG" -n "$identity" -l "$LOCATION"
  IDENTITY_CLIENT=$(query az identity show -g "$RG" -n "$identity" --query clientId -o tsv)
  IDENTITY_PRINCIPAL=$(query az identity show -g "$RG" -n "$identity" --query principalId -o tsv)
  for subject in "$@"; do
    local credential="${subject//:/-}"
    ensure "federated credential $identity/$credential" \
      az identity federated-credential show -g "$RG" --identity-name "$identity" -n "$credential" -- \
      az identity federated-credential create -g "$RG" --identity-name "$identity" -n "$credential" \
      --issuer "$ISSUER" --subject "system:serviceaccount:$subject" --audiences api://AzureADTokenExchange
  done
}

phase_up() {
  az_resource_group
  az_registry

  # The add-on, the OIDC issuer and the workload identity webhook at creation. System pool
  # autoscaled 2…6 × D4ds_v5 (ephemeral OS): 50 workers × 250m CPU fit in about 4 nodes.
  ensure "AKS cluster $AKS" az aks show -g "$RG" -n "$AKS" -- \
    az aks create -g "$RG" -n "$AKS" -l "$LOCATION" --tier standard \
    --nodepool-name system --node-vm-size Standard_D4ds_v5 --node-osdisk-type Ephemeral --node-osdisk-size 100 \
    --node-count 2 --enable-cluster-autoscaler --min-count 2 --max-count 6 \
    --network-plugin azure --network-plugin-mode overlay --pod-cidr 172.16.0.0/12 \
    --enable-keda --enable-oidc-issuer --enable-workload-identity \
    --attach-acr "$ACR" --no-ssh-key
  ISSUER=$(query az aks show -g "$RG" -n "$AKS" --query oidcIssuerProfile.issuerUrl -o tsv)

  az_storage
  az_servicebus Basic "$QUEUE"
  SB_ID=$(query az servicebus namespace show -g "$RG" -n "$SB" --query id -o tsv)
  local queue_scope="$SB_ID/queues/$QUEUE"
  local container_scope="$ST_ID/blobServices/default/containers/surge-results"

  # Least privilege, each role scoped to the one queue (or container) it uses. Reading a queue's
  # runtime properties (depth) needs the Manage claim, which only Data Owner carries: KEDA's scaler
  # and the exporter get it, nobody else.
  identity_for "$ID_PRODUCER" "$NS:producer"
  PRODUCER_CLIENT_ID=$IDENTITY_CLIENT
  az_role "$IDENTITY_PRINCIPAL" "Azure Service Bus Data Sender" "$queue_scope"

  identity_for "$ID_WORKER" "$NS:worker-deployment"
  WORKER_CLIENT_ID=$IDENTITY_CLIENT
  az_role "$IDENTITY_PRINCIPAL" "Azure Service Bus Data Receiver" "$queue_scope"
  az_role "$IDENTITY_PRINCIPAL" "Storage Blob Data Contributor" "$container_scope"

  identity_for "$ID_EXPORTER" "$NS:exporter"
  EXPORTER_CLIENT_ID=$IDENTITY_CLIENT
  az_role "$IDENTITY_PRINCIPAL" "Azure Service Bus Data Owner" "$queue_scope"

  # KEDA signs in as itself (keda#4219): the add-on's operator ServiceAccount is kube-system:keda-operator.
  identity_for "$ID_KEDA" kube-system:keda-operator
  KEDA_CLIENT_ID=$IDENTITY_CLIENT
  az_role "$IDENTITY_PRINCIPAL" "Azure Service Bus Data Owner" "$queue_scope"

  az_credentials
  # the operator reads its projected token at start: restart it after the federation exists
  run kubectl -n kube-system rollout restart deployment/keda-operator
  run kubectl -n kube-system rollout status deployment/keda-operator --timeout=5m

  helm_prometheus "$SURGE_RUNBOOKS_DIR/values/prometheus.yaml"
  az_images producer worker-deployment exporter

  ensure_namespace "$NS"
  local token
  token=$(generated_token producer-token)
  secret "$token"
  ensure_secret_from_files "$NS" surge-producer "token=$(secret_file producer-token "$token")"

  local rendered
  rendered=$(render_overlay "$OVERLAY")
  apply_rendered "$rendered"
  rollout_wait "$NS" producer exporter
}

phase_load() {
  run_load "$NS" load
  note "watch: KUBECONFIG=$KUBECONFIG_FILE kubectl -n $NS get scaledobject,hpa,deployment worker-deployment"
  note "run '$SCENARIO.sh report' once worker-deployment is back to 0"
}

phase_report() {
  local out
  out="$STATE_DIR/report-$(date -u +%Y%m%dT%H%M%SZ)"
  prometheus_report "$NS" "$QUEUE" "$out" -- --deployment worker-deployment --scaled-job none
  note "report: $out/report.html ($out/report.json)"
}

phase_down() {
  az_down
}

surge_main
