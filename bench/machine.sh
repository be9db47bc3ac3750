# Sourced by every bench script: prints which machine the figures come from (cores,
# CPU, load average at start), as BENCH.md asks of every figure.
machine() {
  local model
  model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
  echo "machine: $(nproc) cores (${model:-unknown CPU}), load average at start $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
}
