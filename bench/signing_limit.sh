#!/usr/bin/env bash
# The physical limit of the signing stage on this machine: `openssl speed` signatures a second for the three
# algorithms portgate signs with (SM2 on curve SM2, ECDSA P-256, RSA-2048), on all cores at once (-multi N),
# next to the rate of one process per CPU second. Prints a table and one JSON object; asserts nothing.
#   bench/signing_limit.sh [--seconds S] [--cores N] [--out FILE.json] [--no-one-core]
#
# How OpenSSL 3.0 (Debian bookworm) reports, checked on 3.0.19:
#   - the algorithm names are `sm2` (curve "CurveSM2", one line), `ecdsap256` (nistp256), `rsa2048`;
#   - each runs a sign phase and a verify phase of S seconds each;
#   - with -mr the figures come as `+F2:k:bits:sign/s:verify/s` (RSA), `+F4:k:bits:sign/s:verify/s` (ECDSA),
#     `+F7:k:bits:CurveSM2:sign/s:verify/s` (SM2); under -multi the children's lines are echoed with a
#     "Got: " prefix and the parent prints the sums as plain +F lines at the end;
#   - without -multi the divisor is the process's user CPU time (a figure per CPU second, blind to other
#     load); with -multi the children divide by wall time, so the sum is what the cores delivered while
#     everything else on the machine kept running. Both are reported; cpu_share says how much of the
#     N cores the -multi run actually got.
set -euo pipefail
export LC_ALL=C  # "." as the decimal point of $EPOCHREALTIME and awk

caller_dir=$PWD
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() {
    echo "usage: bench/signing_limit.sh [--seconds S] [--cores N] [--out FILE.json] [--no-one-core]" >&2
    exit "${1:-2}"
}
die() { printf 'signing_limit: %s\n' "$*" >&2; exit 1; }
is_count() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }

seconds=3 cores="" out="" one_core=1
while (($#)); do
    case $1 in
        --seconds) is_count "${2:-}" || usage; seconds=$2; shift 2 ;;
        --cores) is_count "${2:-}" || usage; cores=$2; shift 2 ;;
        --out) [ -n "${2:-}" ] || usage; out=$2; shift 2 ;;
        --no-one-core) one_core=0; shift ;;
        -h | --help) usage 0 ;;
        *) usage ;;
    esac
done
cores=${cores:-$(nproc)}
if [ -n "$out" ] && [[ $out != /* ]]; then out=$caller_dir/$out; fi
command -v openssl >/dev/null || die "openssl not found (Debian package openssl)"

tmp=$(mktemp -d -t pg-signing-limit.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

algorithms=(sm2 ecdsap256 rsa2048)

# speed LABEL [ARGS…] — one `openssl speed` run over the three algorithms; output in $tmp/LABEL.out.
speed() {
    local label=$1
    shift
    if ! openssl speed -mr -seconds "$seconds" "$@" "${algorithms[@]}" >"$tmp/$label.out" 2>"$tmp/$label.err"; then
        cat "$tmp/$label.err" >&2
        die "openssl speed $* failed"
    fi
}

# parse LABEL — the sign/s figures of a run into sm2 ecdsa rsa (the parent's lines, not the "Got: " echoes).
parse() {
    local line f
    sm2="" ecdsa="" rsa=""
    while IFS= read -r line; do
        [[ $line == +F* ]] || continue
        IFS=: read -r -a f <<<"$line"
        case ${f[0]} in
            +F2) [ "${f[2]}" = 2048 ] && rsa=${f[3]} ;;
            +F4) [ "${f[2]}" = 256 ] && ecdsa=${f[3]} ;;
            *) [ "${#f[@]}" -ge 6 ] && [[ ${f[3]} == *SM2* ]] && sm2=${f[4]} ;;
        esac
    done <"$tmp/$1.out"
    local v
    for v in "$sm2" "$ecdsa" "$rsa"; do
        if ! [[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
            cat "$tmp/$1.out" "$tmp/$1.err" >&2
            die "could not read the sign/s figures of run '$1' (sm2='$sm2' ecdsa='$ecdsa' rsa='$rsa'): output above"
        fi
    done
}

# children_cpu VAR — user+sys milliseconds of all waited-for children so far into VAR (the `times`
# builtin, second line "XmY.YYYs XmY.YYYs"; not in a command substitution: a subshell starts from zero).
children_cpu() {
    times >"$tmp/times"
    local line
    { read -r line; read -r line; } <"$tmp/times"
    [[ $line =~ ^([0-9]+)m([0-9]+)\.([0-9]{3})s\ ([0-9]+)m([0-9]+)\.([0-9]{3})s$ ]] || die "unexpected output of times: $line"
    local r=("${BASH_REMATCH[@]}")
    printf -v "$1" '%d' $(((10#${r[1]} * 60 + 10#${r[2]}) * 1000 + 10#${r[3]} + (10#${r[4]} * 60 + 10#${r[5]}) * 1000 + 10#${r[6]}))
}

version=$(openssl version)
printf 'openssl speed -multi %s -seconds %s: %s (%s)\n' "$cores" "$seconds" "${algorithms[*]}" "$version" >&2
cpu0=0 cpu1=0
children_cpu cpu0
t0=$EPOCHREALTIME
speed multi -multi "$cores"
t1=$EPOCHREALTIME
children_cpu cpu1
parse multi
m_sm2=$sm2 m_ecdsa=$ecdsa m_rsa=$rsa

o_sm2="" o_ecdsa="" o_rsa=""
if ((one_core)); then
    printf 'openssl speed -seconds %s (one process, per CPU second)\n' "$seconds" >&2
    speed one
    parse one
    o_sm2=$sm2 o_ecdsa=$ecdsa o_rsa=$rsa
fi

load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "")

json=$(awk -v cores="$cores" -v seconds="$seconds" -v version="$version" -v load="$load" \
    -v m_sm2="$m_sm2" -v m_ecdsa="$m_ecdsa" -v m_rsa="$m_rsa" \
    -v o_sm2="$o_sm2" -v o_ecdsa="$o_ecdsa" -v o_rsa="$o_rsa" \
    -v wall0="$t0" -v wall1="$t1" -v cpu_ms="$((cpu1 - cpu0))" '
    function esc(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return s }
    BEGIN {
        wall = wall1 - wall0
        share = wall > 0 ? cpu_ms / 1000 / (wall * cores) : 0
        printf "{\"sm2_sign_per_s\":%.1f,\"ecdsa_p256_sign_per_s\":%.1f,\"rsa2048_sign_per_s\":%.1f,", m_sm2, m_ecdsa, m_rsa
        printf "\"cores\":%d,\"openssl\":\"%s\",\"seconds\":%d,", cores, esc(version), seconds
        printf "\"measured\":\"openssl speed -multi %d, wall time\",\"cpu_share\":%.2f,", cores, share
        if (o_sm2 != "")
            printf "\"one_core_per_cpu_s\":{\"sm2_sign_per_s\":%.1f,\"ecdsa_p256_sign_per_s\":%.1f,\"rsa2048_sign_per_s\":%.1f},", o_sm2, o_ecdsa, o_rsa
        printf "\"loadavg\":\"%s\"}\n", load
    }')

{
    printf '\n%-22s %14s' "sign/s" "-multi $cores"
    ((one_core)) && printf ' %16s %18s' "one core (CPU s)" "x $cores cores"
    printf '\n'
    row() {
        printf '%-22s %14.1f' "$1" "$2"
        ((one_core)) && awk -v v="$3" -v n="$cores" 'BEGIN { printf " %16.1f %18.1f", v, v * n }'
        printf '\n'
    }
    row "SM2 (CurveSM2)" "$m_sm2" "$o_sm2"
    row "ECDSA P-256" "$m_ecdsa" "$o_ecdsa"
    row "RSA-2048" "$m_rsa" "$o_rsa"
    awk -v cpu_ms="$((cpu1 - cpu0))" -v w0="$t0" -v w1="$t1" -v n="$cores" -v load="$load" \
        'BEGIN { printf "the -multi run got %.0f%% of %d cores (load average %s)\n", cpu_ms / 10 / ((w1 - w0) * n), n, load }'
} >&2

printf '%s\n' "$json"
if [ -n "$out" ]; then
    mkdir -p "$(dirname "$out")"
    printf '%s\n' "$json" >"$out"
fi
