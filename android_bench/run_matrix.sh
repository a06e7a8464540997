#!/bin/sh
# Device side of `tflite-edge bench --target android`: runs LiteRT's benchmark_model once per
# (threads, delegate) pair and frames each run's output so the host can split it.
#
#   sh run_matrix.sh --binary ./benchmark_model --graph model.tflite \
#       --threads 1,4 --delegates xnnpack,gpu --runs 50 --warmup 5 [--warmup-min-secs 0.5] \
#       [--cpu-mask f0] [--profile]
#
# POSIX sh only: Android's /system/bin/sh is mksh and boards may have busybox ash.
# Every configuration runs even when an earlier one fails; the host reads each "end" line's rc.

BINARY=""
GRAPH=""
THREADS="1"
DELEGATES="xnnpack"
RUNS="50"
WARMUP="5"
WARMUP_MIN_SECS="0"
CPU_MASK=""
PROFILE="false"
MARK="@@TFLITE_EDGE"

usage() {
    echo "usage: run_matrix.sh --binary PATH --graph PATH [--threads 1,4] [--delegates xnnpack,gpu,nnapi,cpu]" >&2
    echo "       [--runs N] [--warmup N] [--warmup-min-secs S] [--cpu-mask HEX] [--profile]" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
        --binary) BINARY="$2"; shift 2 ;;
        --graph) GRAPH="$2"; shift 2 ;;
        --threads) THREADS="$2"; shift 2 ;;
        --delegates) DELEGATES="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --warmup-min-secs) WARMUP_MIN_SECS="$2"; shift 2 ;;
        --cpu-mask) CPU_MASK="$2"; shift 2 ;;
        --profile) PROFILE="true"; shift ;;
        *) echo "unknown argument: $1" >&2; usage ;;
    esac
done

[ -n "$BINARY" ] && [ -n "$GRAPH" ] || usage

# Stop before the matrix: every configuration would fail the same way.
if [ ! -f "$BINARY" ]; then
    echo "$MARK error binary-missing $BINARY"
    exit 3
fi
if [ ! -x "$BINARY" ]; then
    chmod 755 "$BINARY" 2>/dev/null || { echo "$MARK error binary-not-executable $BINARY"; exit 3; }
fi
if [ ! -f "$GRAPH" ]; then
    echo "$MARK error model-missing $GRAPH"
    exit 4
fi

# Pinning to a core set only means something when taskset exists (toybox has it since
# Android 6; some boards lack it); say so instead of silently running unpinned.
PIN=""
if [ -n "$CPU_MASK" ]; then
    if command -v taskset >/dev/null 2>&1; then
        PIN="taskset $CPU_MASK"
        echo "$MARK note taskset=$CPU_MASK"
    else
        echo "$MARK note taskset=unavailable"
    fi
fi

delegate_flags() {
    case "$1" in
        xnnpack) echo "--use_xnnpack=true" ;;
        gpu) echo "--use_gpu=true" ;;
        nnapi) echo "--use_nnapi=true" ;;
        # Plain CPU kernels: the tool skips the default XNNPACK delegate only when told false.
        cpu) echo "--use_xnnpack=false" ;;
        *) return 1 ;;
    esac
}

OLD_IFS="$IFS"
IFS=","
set -f
for threads in $THREADS; do
    for delegate in $DELEGATES; do
        IFS="$OLD_IFS"
        echo "$MARK begin threads=$threads delegate=$delegate"
        if flags=$(delegate_flags "$delegate"); then
            # min_secs=0 makes --num_runs exact, so run counts match the host harness; warm-up is
            # at least --warmup runs and at least --warmup-min-secs, as on the host.
            $PIN "$BINARY" --graph="$GRAPH" --num_threads="$threads" \
                --num_runs="$RUNS" --warmup_runs="$WARMUP" --min_secs=0 --warmup_min_secs="$WARMUP_MIN_SECS" \
                --report_peak_memory_footprint=true --enable_op_profiling="$PROFILE" \
                $flags 2>&1
            rc=$?
        else
            echo "$MARK error unknown-delegate $delegate"
            rc=2
        fi
        echo "$MARK end threads=$threads delegate=$delegate rc=$rc"
        IFS=","
    done
done
IFS="$OLD_IFS"
exit 0
