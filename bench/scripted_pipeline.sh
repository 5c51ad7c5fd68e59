#!/usr/bin/env bash
# What a user would otherwise script with Debian tools instead of portgate: one process per step per message
# on the message the end-to-end benchmark uses (the CEB621 sample, route demo-shop-ceb311's enrichment):
#   xmllint --schema (ceb-import-draft) → xsltproc (enrich-ceb) → xmllint --schema on the output →
#   xmlsec1 --sign (enveloped template), N messages one after the other and then with xargs -P.
# Prints a table and one JSON object; asserts nothing about timings. Each of the two runs stops starting
# messages after --max-seconds (default 25, so a default run ends within a minute on a busy machine).
#   bench/scripted_pipeline.sh [--count N] [--alg ecdsa|rsa] [--jobs J] [--no-system-cas] [--max-seconds S]
#                              [--out FILE.json]
#
# Differences from the gateway, on purpose or forced:
#   - mappings/enrich-ceb.xsl calls portgate's XPath extensions pg:guid(), pg:now() and pg:param(), which
#     xsltproc does not have. The script writes the closest XSLT 1.0 equivalent into its temp dir at run
#     time: pg:param → xsl:param (--stringparam), pg:now('yyyyMMddHHmmss') → EXSLT date:date-time() (local
#     time, as the gateway), pg:guid() → fresh upper-case v4 guids the shell makes per message from
#     $SRANDOM (bash builtins: no extra process) and hands over as one --stringparam.
#   - xmlsec1 (1.2.37, Debian bookworm) has no SM2/SM3 transforms (`xmlsec1 --list-transforms`), so SM2-SM3
#     — the customs algorithm — cannot be scripted with it; ECDSA-P256-SHA256 (default) or RSA-SHA256.
#   - xmllint checks the schema only; portgate also runs the business rules and checks the signed
#     document against the as-sent schema. The signature template is put before the root's end tag with
#     bash builtins (no process), in the shape portgate writes (docs/signing.md).
#   - xmlsec1 loads the system CA bundle (/etc/ssl/certs/ca-certificates.crt, ~150 certificates) when it
#     starts, even to sign: about 30 ms of CPU per message, most of its cost. --no-system-cas points
#     SSL_CERT_FILE at an empty file for the timed runs, the tweak a user who noticed would make.
# Keys: a throw-away PKI from tests/sign/make_test_pki.sh in the temp dir. One signed output is checked
# with `xmlsec1 --verify` against the test CA and with the as-sent schema (not timed); a failure ends the run.
set -euo pipefail
export LC_ALL=C  # "." as the decimal point of $EPOCHREALTIME and awk

caller_dir=$PWD
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() {
    echo "usage: bench/scripted_pipeline.sh [--count N] [--alg ecdsa|rsa] [--jobs J] [--no-system-cas] [--max-seconds S] [--out FILE.json]" >&2
    exit "${1:-2}"
}
die() { printf 'scripted_pipeline: %s\n' "$*" >&2; exit 1; }
is_count() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }

count=200 alg=ecdsa jobs="" out="" system_cas=1 max_seconds=25
while (($#)); do
    case $1 in
        --count) is_count "${2:-}" || usage; count=$2; shift 2 ;;
        --alg) alg=${2:-}; shift 2 || usage ;;
        --jobs) is_count "${2:-}" || usage; jobs=$2; shift 2 ;;
        --out) [ -n "${2:-}" ] || usage; out=$2; shift 2 ;;
        --no-system-cas) system_cas=0; shift ;;
        --max-seconds) is_count "${2:-}" || usage; max_seconds=$2; shift 2 ;;
        -h | --help) usage 0 ;;
        *) usage ;;
    esac
done
cores=$(nproc)
jobs=${jobs:-$cores}
if [ -n "$out" ] && [[ $out != /* ]]; then out=$caller_dir/$out; fi

for tool in xmllint xsltproc xmlsec1 openssl xargs; do
    command -v "$tool" >/dev/null || die "$tool not found (Debian packages libxml2-utils, xsltproc, xmlsec1, openssl)"
done
[ -n "${SRANDOM:-}" ] || die "bash 5.1 or later needed (\$SRANDOM)"

case $alg in
    ecdsa) key_name=ec sig_method=http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256 ;;
    rsa) key_name=rsa sig_method=http://www.w3.org/2001/04/xmldsig-more#rsa-sha256 ;;
    sm2 | sm2-sm3)
        if ! xmlsec1 --list-transforms 2>/dev/null | grep -qi sm2; then
            die "xmlsec1 $(xmlsec1 --version | cut -d' ' -f2) has no SM2/SM3 transform (xmlsec1 --list-transforms): SM2 cannot be scripted with it; use --alg ecdsa or rsa"
        fi
        die "this xmlsec1 lists an SM2 transform; the script does not know its URIs yet"
        ;;
    *) usage ;;
esac

# ---- inputs: the sample, the route's parameters, the schemas (through the catalog) ----

input=samples/ceb/ceb621-inventory-valid.xml
config=samples/portgate.toml
route=demo-shop-ceb311
[ -f "$input" ] || die "$input not found"

# catalog_file NAME — the file of a named schema in xsd/catalog.toml (relative to the repo root).
catalog_file() {
    local line in=0
    while IFS= read -r line; do
        if [[ $line == \[* ]]; then
            if [ "$line" = "[schemas.$1]" ]; then in=1; else in=0; fi
        elif ((in)) && [[ $line =~ ^file[[:space:]]*=[[:space:]]*\"([^\"]+)\" ]]; then
            printf 'xsd/%s\n' "${BASH_REMATCH[1]}"
            return 0
        fi
    done <xsd/catalog.toml
    die "schema $1 not in xsd/catalog.toml"
}
draft_xsd=$(catalog_file ceb-import-draft)
sent_xsd=$(catalog_file ceb-import)

# route_param NAME — a value of [route.params] of $route in $config (the route's own section only).
route_param() {
    local line in=0
    while IFS= read -r line; do
        if [[ $line =~ ^\[\[route\]\] ]]; then in=0
        elif [[ $line =~ ^id[[:space:]]*=[[:space:]]*\"([^\"]*)\" ]]; then [ "${BASH_REMATCH[1]}" = "$route" ] && in=1
        elif ((in)) && [[ $line =~ ^$1[[:space:]]*=[[:space:]]*\"([^\"]*)\" ]]; then
            printf '%s\n' "${BASH_REMATCH[1]}"
            return 0
        fi
    done <"$config"
    die "no $1 in [route.params] of route $route in $config"
}
copCode=$(route_param copCode)
copName=$(route_param copName)
dxpId=$(route_param dxpId)

# ---- temp dir: PKI, stylesheet, template, outputs ----

tmp=$(mktemp -d -t pg-scripted.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
bash tests/sign/make_test_pki.sh "$tmp/pki" >"$tmp/pki.log" 2>&1 || { cat "$tmp/pki.log" >&2; die "make_test_pki.sh failed"; }
key=$tmp/pki/$key_name.key
cert=$tmp/pki/$key_name.pem
serial=$(openssl x509 -in "$cert" -noout -serial)
serial=${serial#serial=}

# The closest xsltproc can run of mappings/enrich-ceb.xsl (see the header): same templates, pg: calls replaced.
xsl=$tmp/enrich-ceb-xsltproc.xsl
cat >"$xsl" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by bench/scripted_pipeline.sh: mappings/enrich-ceb.xsl without portgate's pg: extensions. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:ceb="http://www.chinaport.gov.cn/ceb" xmlns:date="http://exslt.org/dates-and-times"
    extension-element-prefixes="date" exclude-result-prefixes="date">
  <xsl:output method="xml" encoding="UTF-8" indent="no"/>
  <xsl:param name="copCode"/>
  <xsl:param name="copName"/>
  <xsl:param name="dxpId"/>
  <!-- fresh guids, 36 characters each, concatenated: the root's first, then one per *Head in document order -->
  <xsl:param name="guids"/>
  <xsl:variable name="now" select="translate(substring(date:date-time(), 1, 19), '-T:', '')"/>

  <xsl:template name="guid">
    <xsl:param name="n"/>
    <xsl:variable name="g" select="substring($guids, 36 * $n + 1, 36)"/>
    <xsl:if test="string-length($g) != 36">
      <xsl:message terminate="yes">not enough guids in $guids (need <xsl:value-of select="$n + 1"/>)</xsl:message>
    </xsl:if>
    <xsl:value-of select="$g"/>
  </xsl:template>

  <xsl:template match="@*|node()">
    <xsl:copy><xsl:apply-templates select="@*|node()"/></xsl:copy>
  </xsl:template>

  <xsl:template match="/*/@guid">
    <xsl:attribute name="guid"><xsl:call-template name="guid"><xsl:with-param name="n" select="0"/></xsl:call-template></xsl:attribute>
  </xsl:template>

  <xsl:template match="ceb:*[substring(local-name(), string-length(local-name()) - 3) = 'Head']/ceb:guid">
    <xsl:copy><xsl:call-template name="guid">
      <xsl:with-param name="n" select="1 + count(../preceding::ceb:*[substring(local-name(), string-length(local-name()) - 3) = 'Head'])"/>
    </xsl:call-template></xsl:copy>
  </xsl:template>

  <xsl:template match="ceb:appTime">
    <xsl:copy><xsl:value-of select="$now"/></xsl:copy>
  </xsl:template>

  <xsl:template match="ceb:BaseTransfer/ceb:copCode">
    <xsl:copy><xsl:value-of select="$copCode"/></xsl:copy>
  </xsl:template>
  <xsl:template match="ceb:BaseTransfer/ceb:copName">
    <xsl:copy><xsl:value-of select="$copName"/></xsl:copy>
  </xsl:template>
  <xsl:template match="ceb:BaseTransfer/ceb:dxpId">
    <xsl:copy><xsl:value-of select="$dxpId"/></xsl:copy>
  </xsl:template>
</xsl:stylesheet>
EOF

# How many guids a message needs (root + one per *Head) and the root's end tag, from the input once.
IFS= read -r -d '' doc <"$input" || true
head_re='<ceb:[A-Za-z]*Head[[:space:]>](.*)' root_re='<([A-Za-z_][A-Za-z0-9_.:-]*)[[:space:]>]'
heads=0 rest=$doc
while [[ $rest =~ $head_re ]]; do
    heads=$((heads + 1))
    rest=${BASH_REMATCH[1]}
done
[[ $doc =~ $root_re ]] || die "no root element in $input"
root_end="</${BASH_REMATCH[1]}>"
guid_count=$((1 + heads))
unset doc rest

# Enveloped signature template, portgate's shape (explicit end tags; KeyName = certificate serial; xmlsec1
# fills DigestValue, SignatureValue and X509Data with the certificate).
sig_template='<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
sig_template+='<ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"></ds:CanonicalizationMethod>'
sig_template+="<ds:SignatureMethod Algorithm=\"$sig_method\"></ds:SignatureMethod>"
sig_template+='<ds:Reference URI=""><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"></ds:Transform></ds:Transforms>'
sig_template+='<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"></ds:DigestMethod><ds:DigestValue></ds:DigestValue></ds:Reference>'
sig_template+="</ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:KeyName>$serial</ds:KeyName>"
sig_template+='<ds:X509Data></ds:X509Data></ds:KeyInfo></ds:Signature>'

# ---- one message: what the user's script does per message ----

# step_time — microseconds since the epoch into $now_us (bash builtin, no process).
step_time() { now_us=${EPOCHREALTIME/./}; }

# message DIR I — message I through the four steps into DIR/I.*; on failure prints the step's output.
# With timing=1 adds each step's microseconds to t_validate_in, t_map, t_validate_out, t_template, t_sign.
message() {
    local i=$2 base=$1/$2 guids="" g n doc
    local t0 t1 now_us
    # 255: xargs stops at once instead of starting the other messages
    fail() { cat "$base.log" >&2; printf 'scripted_pipeline: message %s: %s failed\n' "$i" "$1" >&2; exit 255; }
    ((${EPOCHREALTIME/./} < deadline_us)) || return 0  # past --max-seconds: not started
    step_time; t0=$now_us
    xmllint --noout --schema "$draft_xsd" "$input" 2>"$base.log" || fail "xmllint --schema (input)"
    step_time; t1=$now_us; ((timing)) && t_validate_in=$((t_validate_in + t1 - t0)); t0=$t1

    for ((n = 0; n < guid_count; n++)); do
        printf -v g '%08X-%04X-4%03X-%X%03X-%04X%08X' "$SRANDOM" $((SRANDOM & 0xFFFF)) $((SRANDOM & 0xFFF)) \
            $((8 + (SRANDOM & 3))) $((SRANDOM & 0xFFF)) $((SRANDOM & 0xFFFF)) "$SRANDOM"
        guids+=$g
    done
    xsltproc --stringparam copCode "$copCode" --stringparam copName "$copName" --stringparam dxpId "$dxpId" \
        --stringparam guids "$guids" -o "$base.mapped.xml" "$xsl" "$input" 2>"$base.log" || fail "xsltproc"
    step_time; t1=$now_us; ((timing)) && t_map=$((t_map + t1 - t0)); t0=$t1

    xmllint --noout --schema "$draft_xsd" "$base.mapped.xml" 2>"$base.log" || fail "xmllint --schema (output)"
    step_time; t1=$now_us; ((timing)) && t_validate_out=$((t_validate_out + t1 - t0)); t0=$t1

    IFS= read -r -d '' doc <"$base.mapped.xml" || true
    [[ $doc == *"$root_end"* ]] || { echo "no $root_end in the mapped output" >"$base.log"; fail "signature template"; }
    printf '%s%s%s\n' "${doc%"$root_end"*}" "$sig_template" "$root_end" >"$base.tmpl.xml"
    step_time; t1=$now_us; ((timing)) && t_template=$((t_template + t1 - t0)); t0=$t1

    xmlsec1 --sign --privkey-pem "$key,$cert" --output "$base.signed.xml" "$base.tmpl.xml" 2>"$base.log" || fail "xmlsec1 --sign"
    step_time; t1=$now_us; ((timing)) && t_sign=$((t_sign + t1 - t0))
    return 0
}

# cpu_ms VAR — CPU milliseconds (user+sys) of this shell and all its waited-for children so far, into VAR
# (the `times` builtin; not in a command substitution: a subshell starts from zero).
cpu_ms() {
    times >"$tmp/times"
    local line total=0 re='^([0-9]+)m([0-9]+)\.([0-9]{3})s ([0-9]+)m([0-9]+)\.([0-9]{3})s$'
    while IFS= read -r line; do
        [[ $line =~ $re ]] || die "unexpected output of times: $line"
        local r=("${BASH_REMATCH[@]}")
        total=$((total + (10#${r[1]} * 60 + 10#${r[2]}) * 1000 + 10#${r[3]} + (10#${r[4]} * 60 + 10#${r[5]}) * 1000 + 10#${r[6]}))
    done <"$tmp/times"
    printf -v "$1" '%d' "$total"
}

# check FILE — the sanity check of one signed output (not timed).
check() {
    xmlsec1 --verify --trusted-pem "$tmp/pki/ca.pem" --node-xpath "/*/*[local-name()='Signature']" "$1" >"$tmp/verify.log" 2>&1 ||
        { cat "$tmp/verify.log" >&2; die "xmlsec1 --verify refused $1 — the scripted pipeline is broken"; }
    xmllint --noout --schema "$sent_xsd" "$1" >"$tmp/verify.log" 2>&1 ||
        { cat "$tmp/verify.log" >&2; die "$1 does not pass $sent_xsd (as sent)"; }
    local doc
    IFS= read -r -d '' doc <"$1" || true
    [[ $doc == *"<ceb:copCode>$copCode</ceb:copCode>"* && $doc == *"<ceb:dxpId>$dxpId</ceb:dxpId>"* ]] ||
        die "$1: BaseTransfer does not carry the route's copCode/dxpId"
    [[ $doc != *'guid="9FD28E74-B47F-4F15-82D3-3F5F068C6D1F"'* ]] || die "$1: the root guid was not replaced"
}

export input draft_xsd xsl key cert copCode copName dxpId guid_count root_end sig_template
export -f message step_time

if ((!system_cas)); then
    : >"$tmp/no-cas.pem"
    export SSL_CERT_FILE=$tmp/no-cas.pem
fi

# Warm-up message, checked before anything is timed (fails loudly if the chain is broken).
mkdir -p "$tmp/warm" "$tmp/seq" "$tmp/par"
timing=0 deadline_us=$((${EPOCHREALTIME/./} + 600000000))
message "$tmp/warm" 0
check "$tmp/warm/0.signed.xml"

printf 'scripted pipeline: %d messages of %s, %s, 4 processes each (xmllint, xsltproc, xmllint, xmlsec1)%s\n' \
    "$count" "$input" "$alg" "$( ((system_cas)) || echo ', xmlsec1 without the system CA bundle')" >&2

c0=0 c1=0 c2=0 c3=0
# Sequential: a plain loop in this shell (what `for f in …; do …; done` does), with the time of each step.
# Each run stops starting messages after --max-seconds (the figures are then over the messages done).
timing=1 t_validate_in=0 t_map=0 t_validate_out=0 t_template=0 t_sign=0
cpu_ms c0
s0=$EPOCHREALTIME
deadline_us=$((${s0/./} + max_seconds * 1000000))
seq_done=0
for ((i = 1; i <= count; i++)); do
    ((${EPOCHREALTIME/./} < deadline_us)) || break
    message "$tmp/seq" "$i"
    seq_done=$i
done
s1=$EPOCHREALTIME
cpu_ms c1

# Parallel: xargs -P J, one bash per message running the same function (exported); past the deadline the
# remaining invocations return at once and the run ends at the last signed output written.
timing=0
cpu_ms c2
p0=$EPOCHREALTIME
deadline_us=$((${p0/./} + max_seconds * 1000000))
export timing deadline_us
# shellcheck disable=SC2016  # $0 and $1 are the child bash's
for ((i = 1; i <= count; i++)); do printf '%d\n' "$i"; done |
    xargs -P "$jobs" -n 1 bash -c 'set -euo pipefail; message "$0" "$1"' "$tmp/par" ||
    die "the parallel run failed (output above)"
p1=$EPOCHREALTIME
cpu_ms c3
shopt -s nullglob
par_files=("$tmp"/par/*.signed.xml)
par_done=${#par_files[@]}
if ((par_done < count)); then
    p1=$(find "$tmp/par" -name '*.signed.xml' -printf '%T@\n' | awk '$1 > m { m = $1 } END { printf "%.6f", m }')
fi
((seq_done > 0 && par_done > 0)) || die "no message finished within --max-seconds $max_seconds"
((seq_done == count && par_done == count)) ||
    printf 'scripted_pipeline: --max-seconds %s reached: %d sequential and %d parallel messages of %d done\n' \
        "$max_seconds" "$seq_done" "$par_done" "$count" >&2

for ((i = 1; i <= seq_done; i++)); do
    [ -s "$tmp/seq/$i.signed.xml" ] || die "message $i has no signed output"
done
check "${par_files[-1]}"

load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "")
json=$(awk -v n="$count" -v sn="$seq_done" -v pn="$par_done" -v alg="$alg" -v cores="$cores" -v jobs="$jobs" \
    -v s0="$s0" -v s1="$s1" -v p0="$p0" -v p1="$p1" -v cas="$system_cas" -v max="$max_seconds" \
    -v scpu="$((c1 - c0))" -v pcpu="$((c3 - c2))" -v load="$load" \
    -v vi="$t_validate_in" -v mp="$t_map" -v vo="$t_validate_out" -v tp="$t_template" -v sg="$t_sign" '
    BEGIN {
        printf "{\"messages\":%d,\"alg\":\"%s\",\"sequential_per_s\":%.1f,\"parallel_per_s\":%.1f,\"cores\":%d,", n, alg, sn / (s1 - s0), pn / (p1 - p0), cores
        printf "\"jobs\":%d,\"sequential_messages\":%d,\"sequential_s\":%.3f,\"parallel_messages\":%d,\"parallel_s\":%.3f,", jobs, sn, s1 - s0, pn, p1 - p0
        printf "\"max_seconds\":%d,\"processes_per_message\":4,\"xmlsec1_system_cas\":%s,", max, cas ? "true" : "false"
        printf "\"sequential_cpu_ms_per_message\":%.2f,\"parallel_cpu_ms_per_message\":%.2f,", scpu / sn, pcpu / pn
        printf "\"cpu_bound_per_s\":%.1f,\"loadavg\":\"%s\",", cores * 1000 / (pcpu / pn), load
        printf "\"sequential_ms_per_message\":{\"xmllint_input\":%.2f,\"xsltproc\":%.2f,\"xmllint_output\":%.2f,\"template\":%.2f,\"xmlsec1_sign\":%.2f}}\n",
            vi / sn / 1000, mp / sn / 1000, vo / sn / 1000, tp / sn / 1000, sg / sn / 1000
    }')

awk -v sn="$seq_done" -v pn="$par_done" -v jobs="$jobs" -v s0="$s0" -v s1="$s1" -v p0="$p0" -v p1="$p1" \
    -v scpu="$((c1 - c0))" -v pcpu="$((c3 - c2))" -v cores="$cores" -v load="$load" \
    -v vi="$t_validate_in" -v mp="$t_map" -v vo="$t_validate_out" -v tp="$t_template" -v sg="$t_sign" '
    BEGIN {
        printf "\n%-34s %10s %10s %12s %12s\n", "", "messages", "msg/s", "ms/msg", "CPU ms/msg"
        printf "%-34s %10d %10.1f %12.2f %12.2f\n", "sequential (for loop)", sn, sn / (s1 - s0), (s1 - s0) * 1000 / sn, scpu / sn
        printf "%-34s %10d %10.1f %12.2f %12.2f\n", "parallel (xargs -P " jobs ")", pn, pn / (p1 - p0), (p1 - p0) * 1000 / pn, pcpu / pn
        printf "CPU-bound on %d idle cores: %.1f msg/s (load average %s)\n", cores, cores * 1000 / (pcpu / pn), load
        printf "\nsequential, per step (ms/msg):\n"
        printf "  %-32s %8.2f\n", "xmllint --schema input", vi / sn / 1000
        printf "  %-32s %8.2f\n", "xsltproc enrich", mp / sn / 1000
        printf "  %-32s %8.2f\n", "xmllint --schema output", vo / sn / 1000
        printf "  %-32s %8.2f\n", "template (bash builtins)", tp / sn / 1000
        printf "  %-32s %8.2f\n", "xmlsec1 --sign", sg / sn / 1000
    }' >&2

printf '%s\n' "$json"
if [ -n "$out" ]; then
    mkdir -p "$(dirname "$out")"
    printf '%s\n' "$json" >"$out"
fi
