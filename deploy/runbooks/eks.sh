#!/usr/bin/env bash
# Seed 003 on EKS: an eksctl cluster with the EBS CSI driver and a default gp3 StorageClass, RabbitMQ
# in the cluster, worker-deployment scaled 0…50 by KEDA's rabbitmq trigger, nginx ("web") scaled by a
# prometheus trigger on the seed's query sum(nginx_connections_active{job="nginx-svc"}), Prometheus
# and KEDA from their pinned Helm charts, images in ECR.
#
#   deploy/runbooks/eks.sh up|load|report|down [--dry-run] [--prefix P] [--region R] [--tag T] …
#
# Prose, prerequisites and departures from the seed: deploy/kustomize/overlays/eks/README.md.
set -euo pipefail

# shellcheck source=deploy/runbooks/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEFAULT_REGION=eu-west-1
surge_init eks 003 "$@"

NAMESPACE=surge
QUEUE=surge-work
OVERLAY=eks
APPS=(producer worker-deployment exporter)
EKS_FILES="$SURGE_RUNBOOKS_DIR/eks"
VALUES="$SURGE_RUNBOOKS_DIR/values"

[[ $REGION =~ ^[a-z]{2}(-[a-z]+)+-[0-9]$ ]] || die "--region: expected an AWS region like eu-west-1, got '$REGION'"

name CLUSTER "$PREFIX-eks"
# ECR repositories: $ECR_PREFIX/surge/<app>, so images read <registry>/<prefix>/surge/<app>:<tag>
name ECR_PREFIX "$PREFIX"
name REGION "$REGION"
name TAG "$TAG"
name CLUSTER_CONFIG "$STATE_DIR/cluster.yaml"
print_names
for app in "${APPS[@]}"; do
  note "  ECR repository $ECR_PREFIX/surge/$app"
done

# ---- helpers -----------------------------------------------------------------------------------

# if_exists SHOW-CMD… -- CMD… — runs CMD only when the show succeeds (deletes in `down`, which is
# re-runnable too). Under --dry-run both are printed and CMD is assumed to be needed.
if_exists() {
  local show=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    show+=("$1")
    shift
  done
  [ "${1:-}" = -- ] || die "if_exists: missing -- between the show and the command"
  shift
  _print "+ $(_quote "${show[@]}")"
  if is_dry_run || "${show[@]}" >/dev/null 2>&1; then
    run "$@"
  else
    _print "= already gone: $(_quote "${show[@]}") found nothing"
  fi
}

cluster_exists() {
  _print "+ eksctl get cluster --name $CLUSTER --region $REGION"
  is_dry_run || eksctl get cluster --name "$CLUSTER" --region "$REGION" >/dev/null 2>&1
}

# REGISTRY: the sentinel surge-sentinel-registry of the overlay (account from the caller's identity)
registry_vars() {
  ACCOUNT=$(query aws sts get-caller-identity --query Account --output text)
  [ -n "$ACCOUNT" ] || die "aws sts get-caller-identity returned no account (are AWS credentials configured?)"
  REGISTRY_HOST="$ACCOUNT.dkr.ecr.$REGION.amazonaws.com"
  REGISTRY="$REGISTRY_HOST/$ECR_PREFIX"
  note "REGISTRY=$REGISTRY"
}

# The eksctl ClusterConfig from the template, names filled in; no sentinel may remain.
write_cluster_config() {
  local template="$EKS_FILES/cluster.yaml" content
  content=$(<"$template")
  content=${content//surge-sentinel-cluster/$CLUSTER}
  content=${content//surge-sentinel-region/$REGION}
  content=${content//surge-sentinel-prefix/$PREFIX}
  [[ $content != *surge-sentinel-* ]] || die "$template: a surge-sentinel-* token is left after filling in the names"
  note "write $CLUSTER_CONFIG (from deploy/runbooks/eks/cluster.yaml):"
  local line
  while IFS= read -r line; do
    [[ $line =~ ^[[:space:]]*(#|$) ]] || note "  $line"
  done <<<"$content"
  is_dry_run || printf '%s\n' "$content" >"$CLUSTER_CONFIG"
}

use_cluster() {
  run aws eks update-kubeconfig --name "$CLUSTER" --region "$REGION" --kubeconfig "$KUBECONFIG_FILE"
}

# ---- phases ------------------------------------------------------------------------------------

phase_up() {
  registry_vars
  write_cluster_config
  ensure "EKS cluster $CLUSTER" eksctl get cluster --name "$CLUSTER" --region "$REGION" -- \
    eksctl create cluster -f "$CLUSTER_CONFIG"
  # a cluster created elsewhere without the driver gets it here (its IAM role too, from the config)
  ensure "EBS CSI driver add-on" eksctl get addon --name aws-ebs-csi-driver --cluster "$CLUSTER" --region "$REGION" -- \
    eksctl create addon -f "$CLUSTER_CONFIG"
  use_cluster

  # gp3 becomes the only default StorageClass, so RabbitMQ's and Prometheus' PVCs bind
  run kubectl apply --server-side -f "$EKS_FILES/storageclass-gp3.yaml"
  local classes
  classes=$(query kubectl get storageclass -o name)
  if is_dry_run || grep -qx 'storageclass.storage.k8s.io/gp2' <<<"$classes"; then
    run kubectl annotate storageclass gp2 storageclass.kubernetes.io/is-default-class=false --overwrite
  fi

  local app repo
  for app in "${APPS[@]}"; do
    repo="$ECR_PREFIX/surge/$app"
    ensure "ECR repository $repo" aws ecr describe-repositories --repository-names "$repo" --region "$REGION" -- \
      aws ecr create-repository --repository-name "$repo" --region "$REGION" \
      --image-scanning-configuration scanOnPush=true --image-tag-mutability MUTABLE
  done
  # the password goes to docker on stdin, never onto a command line; masked in the plan
  local ecr_password
  ecr_password=$(query aws ecr get-login-password --region "$REGION")
  secret "$ecr_password"
  run docker login --username AWS --password-stdin "$REGISTRY_HOST" <<<"$ecr_password"
  for app in "${APPS[@]}"; do
    (cd "$SURGE_REPO_ROOT" && run npx nx build "$app")
    (cd "$SURGE_REPO_ROOT" && run npx nx image "$app" -- --tag "$REGISTRY/surge/$app:$TAG")
    run docker push "$REGISTRY/surge/$app:$TAG"
  done

  # KEDA's CRDs before the ScaledObjects; Prometheus before the prometheus trigger reads it
  helm_keda "$VALUES/eks-keda.yaml"
  helm_prometheus "$VALUES/eks-prometheus.yaml"

  ensure_namespace "$NAMESPACE"
  # generated once per state dir, kept in $STATE_DIR/secrets (mode 600); the Secrets read those files
  local password token password_file token_file
  password=$(generated_token rabbitmq-password)
  token=$(generated_token producer-token)
  secret "$password" "$token"
  password_file=$(secret_file rabbitmq-password "$password")
  token_file=$(secret_file producer-token "$token")
  ensure "secret $NAMESPACE/surge-rabbitmq" kubectl -n "$NAMESPACE" get secret surge-rabbitmq -- \
    kubectl -n "$NAMESPACE" create secret generic surge-rabbitmq --from-literal=username=surge "--from-file=password=$password_file"
  ensure_secret_from_files "$NAMESPACE" surge-producer "token=$token_file"

  local rendered
  rendered=$(render_overlay "$OVERLAY")
  apply_rendered "$rendered"
  run kubectl -n "$NAMESPACE" rollout status statefulset/rabbitmq --timeout=10m
  rollout_wait "$NAMESPACE" producer exporter web
  note "scaling: kubectl --kubeconfig $KUBECONFIG_FILE -n $NAMESPACE get scaledobject,hpa,pods -w"
}

phase_load() {
  cluster_exists || die "cluster $CLUSTER not found in $REGION: run 'eks.sh up' first"
  use_cluster
  run_load "$NAMESPACE" work
}

phase_report() {
  cluster_exists || die "cluster $CLUSTER not found in $REGION: run 'eks.sh up' first"
  use_cluster
  # eks has no ScaledJob: replicas are worker-deployment's (kube-state-metrics)
  prometheus_report "$NAMESPACE" "$QUEUE" "$STATE_DIR/report" -- --scaled-job none
  # the seed's query, as the prometheus trigger sends it (the report's port-forward is still up)
  run curl -sS --fail --get --data-urlencode 'query=sum(nginx_connections_active{job="nginx-svc"})' \
    "http://127.0.0.1:$(prometheus_port)/api/v1/query"
  note "report: $STATE_DIR/report/report.html"
}

phase_down() {
  if cluster_exists; then
    use_cluster
    # PVCs first, while the EBS CSI driver still runs: it deletes their volumes (reclaimPolicy Delete);
    # deleting the cluster alone would leave the EBS volumes behind
    run kubectl delete namespace "$NAMESPACE" --ignore-not-found --wait=true --timeout=10m
    if_exists helm status prometheus --namespace "$PROMETHEUS_NAMESPACE" -- \
      helm uninstall prometheus --namespace "$PROMETHEUS_NAMESPACE" --wait --timeout 10m
    run kubectl delete namespace "$PROMETHEUS_NAMESPACE" --ignore-not-found --wait=true --timeout=10m
    if_exists helm status keda --namespace keda -- helm uninstall keda --namespace keda --wait --timeout 10m
    run kubectl delete namespace keda --ignore-not-found --wait=true --timeout=10m
    wait_volumes_released
  else
    note "cluster $CLUSTER not found in $REGION: nothing to clean up inside it"
  fi
  local app repo
  for app in "${APPS[@]}"; do
    repo="$ECR_PREFIX/surge/$app"
    if_exists aws ecr describe-repositories --repository-names "$repo" --region "$REGION" -- \
      aws ecr delete-repository --repository-name "$repo" --region "$REGION" --force
  done
  # the cluster's CloudFormation stacks: node group, add-on IAM roles, VPC
  if_exists eksctl get cluster --name "$CLUSTER" --region "$REGION" -- \
    eksctl delete cluster --name "$CLUSTER" --region "$REGION" --wait
  # what lives outside AWS: the kubeconfig, the generated secrets and the rendered manifest (the report stays)
  run rm -rf "$KUBECONFIG_FILE" "$STATE_DIR/secrets" "$STATE_DIR/rendered.yaml" "$CLUSTER_CONFIG"
}

# Waits until the EBS CSI driver has deleted every PersistentVolume (at most 10 minutes).
wait_volumes_released() {
  local volumes _
  for _ in $(seq 1 60); do
    volumes=$(query kubectl get persistentvolumes -o name)
    if is_dry_run || [ -z "$volumes" ]; then
      return 0
    fi
    sleep 10
  done
  die "PersistentVolumes still present after 10 minutes: $volumes (check the EBS CSI driver, then delete the EBS volumes by hand)"
}

surge_main
