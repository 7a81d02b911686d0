#!/usr/bin/env bash
# Seed 004 — RabbitMQ ScaledObject bursting to the AKS virtual node: RabbitMQ, producer, exporter and
# KEDA on VM nodes; worker-deployment pods on Azure Container Instances through the virtual kubelet,
# pulling from ACR with a pull-only token's Secret. Prose and departures:
# deploy/kustomize/overlays/aks-virtual-node/README.md.
#
#   deploy/runbooks/aks-virtual-node.sh up|load|report|down [--dry-run] [--prefix P] [--location L] …
# names are assigned by lib.sh's `name VAR VALUE`, which shellcheck cannot follow:
# shellcheck disable=SC2153
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEFAULT_COUNT=5000
DEFAULT_WORK_MS=2000
surge_init aks-virtual-node 004 "$@"

aks_names
name VNET "$PREFIX-vnet"
name AKS_SUBNET aks
name ACI_SUBNET aci
name ACR_TOKEN surge-pull
name QUEUE surge-work
name OVERLAY aks-virtual-node
print_names

# Virtual nodes need Azure CNI with VNet IPs (not overlay): the node subnet holds the VM nodes and
# their pods (30 per node), the ACI subnet only virtual-node pods and is delegated to ACI.
VNET_CIDR=10.224.0.0/12
AKS_SUBNET_CIDR=10.224.0.0/16
ACI_SUBNET_CIDR=10.225.0.0/16

phase_up() {
  az_resource_group
  az_registry

  ensure "virtual network $VNET" az network vnet show -g "$RG" -n "$VNET" -- \
    az network vnet create -g "$RG" -n "$VNET" -l "$LOCATION" --address-prefixes "$VNET_CIDR"
  ensure "subnet $AKS_SUBNET" az network vnet subnet show -g "$RG" --vnet-name "$VNET" -n "$AKS_SUBNET" -- \
    az network vnet subnet create -g "$RG" --vnet-name "$VNET" -n "$AKS_SUBNET" --address-prefixes "$AKS_SUBNET_CIDR"
  ensure "subnet $ACI_SUBNET" az network vnet subnet show -g "$RG" --vnet-name "$VNET" -n "$ACI_SUBNET" -- \
    az network vnet subnet create -g "$RG" --vnet-name "$VNET" -n "$ACI_SUBNET" --address-prefixes "$ACI_SUBNET_CIDR"
  local vnet_id subnet_id
  vnet_id=$(query az network vnet show -g "$RG" -n "$VNET" --query id -o tsv)
  subnet_id=$(query az network vnet subnet show -g "$RG" --vnet-name "$VNET" -n "$AKS_SUBNET" --query id -o tsv)

  # System pool autoscaled 2…4 × D4ds_v5 (ephemeral OS): RabbitMQ, producer, exporter, KEDA,
  # Prometheus. The workers go to the virtual node. Service CIDR outside the VNet.
  ensure "AKS cluster $AKS" az aks show -g "$RG" -n "$AKS" -- \
    az aks create -g "$RG" -n "$AKS" -l "$LOCATION" --tier standard \
    --nodepool-name system --node-vm-size Standard_D4ds_v5 --node-osdisk-type Ephemeral --node-osdisk-size 100 \
    --node-count 2 --enable-cluster-autoscaler --min-count 2 --max-count 4 \
    --network-plugin azure --vnet-subnet-id "$subnet_id" \
    --service-cidr 10.0.0.0/16 --dns-service-ip 10.0.0.10 \
    --enable-addons virtual-node --aci-subnet-name "$ACI_SUBNET" \
    --attach-acr "$ACR" --no-ssh-key

  # The add-on's identity (aciConnectorLinux) creates container groups in the ACI subnet: it needs
  # Network Contributor on the VNet, which a cluster created with --vnet-subnet-id does not grant it.
  local aci_identity
  aci_identity=$(query az aks show -g "$RG" -n "$AKS" --query addonProfiles.aciConnectorLinux.identity.objectId -o tsv)
  az_role "$aci_identity" "Network Contributor" "$vnet_id"

  az_credentials
  helm_keda "$SURGE_RUNBOOKS_DIR/values/keda.yaml"
  helm_prometheus "$SURGE_RUNBOOKS_DIR/values/prometheus.yaml"
  az_images producer worker-deployment exporter

  ensure_namespace "$NS"
  local token rabbit_password
  token=$(generated_token producer-token)
  secret "$token"
  ensure_secret_from_files "$NS" surge-producer "token=$(secret_file producer-token "$token")"
  rabbit_password=$(generated_token rabbitmq-password)
  secret "$rabbit_password"
  ensure_secret_from_files "$NS" surge-rabbitmq \
    "username=$(value_file rabbitmq-username surge)" \
    "password=$(secret_file rabbitmq-password "$rabbit_password")"

  # Pull secret for ACI: a token limited to pulling (scope map _repositories_pull). A password is
  # generated only when the Secret does not exist yet — generating one replaces the token's password.
  ensure "registry token $ACR_TOKEN" az acr token show -r "$ACR" -n "$ACR_TOKEN" -- \
    az acr token create -r "$ACR" -n "$ACR_TOKEN" --scope-map _repositories_pull --no-passwords
  if exists kubectl -n "$NS" get secret surge-registry; then
    _print "= secret $NS/surge-registry exists, reusing"
  else
    local pull_password
    pull_password=$(query az acr token credential generate -r "$ACR" -n "$ACR_TOKEN" --password1 \
      --expiration-in-days 30 --query 'passwords[0].value' -o tsv)
    secret "$pull_password"
    # the docker config is written to a file (mode 600) so the password is on no command line
    local auth config
    auth=$(printf '%s:%s' "$ACR_TOKEN" "$pull_password" | base64 -w0)
    secret "$auth"
    config=$(secret_file registry-dockerconfig \
      "{\"auths\":{\"$REGISTRY\":{\"username\":\"$ACR_TOKEN\",\"password\":\"$pull_password\",\"auth\":\"$auth\"}}}")
    run kubectl -n "$NS" create secret generic surge-registry --type=kubernetes.io/dockerconfigjson \
      "--from-file=.dockerconfigjson=$config"
  fi

  local rendered
  rendered=$(render_overlay "$OVERLAY")
  apply_rendered "$rendered"
  run kubectl -n "$NS" rollout status statefulset/rabbitmq --timeout=10m
  rollout_wait "$NS" producer exporter
}

phase_load() {
  run_load "$NS" load
  note "watch: KUBECONFIG=$KUBECONFIG_FILE kubectl -n $NS get pods -l app.kubernetes.io/name=worker-deployment -o wide (NODE virtual-node-aci-linux)"
  note "run '$SCENARIO.sh report' once worker-deployment is back to 0"
}

phase_report() {
  local out
  out="$STATE_DIR/report-$(date -u +%Y%m%dT%H%M%SZ)"
  prometheus_report "$NS" "$QUEUE" "$out" -- --deployment worker-deployment --scaled-job none
  note "report: $out/report.html ($out/report.json)"
}

phase_down() {
  # the virtual node's container groups live in the node resource group, which goes with the cluster
  az_down
}

surge_main
