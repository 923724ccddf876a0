#!/usr/bin/env bash
# Compare loaddensity with oha against the same loopback target (see bench/README.md).
#
# Environment (all optional):
#   MODE=compare|soak      compare (default) or loaddensity-alone memory-flatness check
#   CONCURRENCY="10 50"    concurrencies to run (compare mode)
#   REPS=3                 interleaved repetitions per tool and concurrency
#   DURATION=10            seconds per run
#   TOOLS="loaddensity oha"  which generators to run (e.g. TOOLS=oha to check the oha side)
#   TARGET=auto|nginx|demo auto = nginx if installed, else `loaddensity demo-server`
#   BUDGET=1               add "failure_budget": {"threshold": 0.5} to LD_start_test
#   LD_EXTRA_ARGS='"k": v' extra JSON members appended to the LD_start_test args
#   SOAK_CONCURRENCY=50    users of the soak runs;  SOAK_TIMES="10 60"
#   PIN_TARGET=0 PIN_GEN=1 pin target / generator to CPU lists with taskset
#   LD_BIN, OHA, NGINX     binaries (defaults: target/release/loaddensity, oha on PATH
#                          or ~/.cargo/bin/oha, nginx on PATH or /usr/sbin/nginx)
#   RESULTS_DIR=bench/results  where the raw results TSV is kept
set -euo pipefail

MODE=${MODE:-compare}
CONCURRENCY=${CONCURRENCY:-10 50}
REPS=${REPS:-3}
DURATION=${DURATION:-10}
TOOLS=${TOOLS:-loaddensity oha}
TARGET=${TARGET:-auto}
BUDGET=${BUDGET:-0}
LD_EXTRA_ARGS=${LD_EXTRA_ARGS:-}
SOAK_CONCURRENCY=${SOAK_CONCURRENCY:-50}
SOAK_TIMES=${SOAK_TIMES:-10 60}
PIN_TARGET=${PIN_TARGET:-}
PIN_GEN=${PIN_GEN:-}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}
LD_BIN=${LD_BIN:-$ROOT/target/release/loaddensity}

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

case $MODE in compare | soak) ;; *) die "MODE must be compare or soak, not '$MODE'" ;; esac
[[ $DURATION =~ ^[0-9]+$ && $DURATION -gt 0 ]] || die "DURATION must be a positive integer"
[[ $REPS =~ ^[0-9]+$ && $REPS -gt 0 ]] || die "REPS must be a positive integer"
command -v python3 >/dev/null || die "python3 is required"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is required (apt-get install time)"
command -v timeout >/dev/null || die "timeout (coreutils) is required"

want() { [[ " $TOOLS " == *" $1 "* ]]; }
[[ $MODE == soak ]] && TOOLS=loaddensity

EXTRA=$LD_EXTRA_ARGS
if [[ $BUDGET == 1 ]]; then
    EXTRA='"failure_budget": {"threshold": 0.5}'${EXTRA:+, $EXTRA}
fi
if [[ -n $EXTRA ]]; then
    python3 -c 'import json, sys; json.loads("{" + sys.argv[1] + "}")' "$EXTRA" 2>/dev/null ||
        die "LD_EXTRA_ARGS must be JSON object members, like '\"k\": 1, \"j\": {}': $EXTRA"
fi

# ---------------------------------------------------------------- binaries
if want oha; then
    OHA=${OHA:-$(command -v oha || true)}
    [[ -z $OHA && -x $HOME/.cargo/bin/oha ]] && OHA=$HOME/.cargo/bin/oha
    [[ -n $OHA ]] || die "oha not found: install it with 'cargo install oha --locked'"
    OHA_HELP=$("$OHA" --help 2>&1 || true)
    if grep -q -- '--output-format' <<<"$OHA_HELP"; then
        OHA_JSON=(--output-format json)
    elif grep -qE -- '(^|[ ,])-j([ ,]|$)|--json' <<<"$OHA_HELP"; then
        OHA_JSON=(-j)
    else
        die "this oha has no JSON output option; install a newer one (cargo install oha --locked)"
    fi
fi

NGINX=${NGINX:-$(command -v nginx || true)}
[[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
if [[ $TARGET == auto ]]; then
    TARGET=demo
    [[ -n $NGINX ]] && TARGET=nginx
fi
[[ $TARGET == nginx && -z $NGINX ]] && die "TARGET=nginx but nginx is not installed"

if want loaddensity || [[ $TARGET == demo ]]; then
    if [[ ! -x $LD_BIN ]]; then
        log "building loaddensity (cargo build --release)"
        (cd "$ROOT" && cargo build --release)
    fi
    [[ -x $LD_BIN ]] || die "no loaddensity binary at $LD_BIN"
fi

# ---------------------------------------------------------------- cleanup
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ld-bench.XXXXXX")
chmod 755 "$WORK"
TARGET_PID=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $TARGET_PID ]] && kill -0 "$TARGET_PID" 2>/dev/null; then
        kill "$TARGET_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$TARGET_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$TARGET_PID" 2>/dev/null || true
        wait "$TARGET_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pin() { # pin CPULIST cmd...: run cmd under taskset when CPULIST is set
    local cpus=$1
    shift
    if [[ -n $cpus ]]; then taskset -c "$cpus" "$@"; else "$@"; fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() { # wait up to 10 s for 127.0.0.1:$1 to accept connections
    local i
    for i in $(seq 100); do
        if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()' "$1" 2>/dev/null; then
            return 0
        fi
        kill -0 "$TARGET_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# ---------------------------------------------------------------- target
PORT=$(free_port)
if [[ $TARGET == nginx ]]; then
    mkdir -p "$WORK/www" "$WORK/tmp"
    head -c 100 /dev/zero | tr '\0' 'x' >"$WORK/www/100b.txt"
    user_line=
    [[ $EUID -eq 0 ]] && user_line="user $(id -un) $(id -gn);"
    cat >"$WORK/nginx.conf" <<EOF
$user_line
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    default_type text/plain;
    keepalive_timeout 300s;
    keepalive_requests 100000000;
    client_body_temp_path $WORK/tmp/body;
    proxy_temp_path $WORK/tmp/proxy;
    fastcgi_temp_path $WORK/tmp/fastcgi;
    uwsgi_temp_path $WORK/tmp/uwsgi;
    scgi_temp_path $WORK/tmp/scgi;
    server {
        listen 127.0.0.1:$PORT;
        root $WORK/www;
    }
}
EOF
    nginx_args=(-c "$WORK/nginx.conf" -p "$WORK")
    "$NGINX" -h 2>&1 | grep -qE '^ *-e ' && nginx_args+=(-e "$WORK/nginx-error.log")
    target_cmd=("$NGINX" "${nginx_args[@]}")
    out=$WORK/nginx.out
    URL=http://127.0.0.1:$PORT/100b.txt
    TARGET_DESC="nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///'), 1 worker, 100-byte file"
else
    target_cmd=("$LD_BIN" demo-server --port "$PORT")
    out=$WORK/demo.out
    URL=http://127.0.0.1:$PORT/ok
    TARGET_DESC="loaddensity demo-server, /ok"
fi
# taskset execs the target, so $! is the target's own pid (not a subshell).
[[ -n $PIN_TARGET ]] && target_cmd=(taskset -c "$PIN_TARGET" "${target_cmd[@]}")
"${target_cmd[@]}" >"$out" 2>&1 &
TARGET_PID=$!
if ! wait_port "$PORT"; then
    cat "$WORK"/*.out "$WORK"/nginx-error.log 2>/dev/null >&2 || true
    die "target did not come up on 127.0.0.1:$PORT"
fi
log "target: $TARGET_DESC at $URL"

# ---------------------------------------------------------------- runs
RESULTS=$WORK/results.tsv
printf 'mode\tconcurrency\ttool\trep\tduration\trps\trequests\tcpu_s\trss_kb\n' >"$RESULTS"

# Parses /usr/bin/time -f '%e %U %S %M' output: prints "cpu_seconds rss_kb".
time_fields() {
    tail -n 1 "$1" | awk 'NF == 4 { printf "%.2f %d\n", $2 + $3, $4; ok = 1 } END { if (!ok) print "nan 0" }'
}

run_oha() { # run_oha C DURATION STEM
    local c=$1 d=$2 stem=$3 rc=0
    pin "$PIN_GEN" /usr/bin/time -f '%e %U %S %M' -o "$stem.time" \
        timeout -k 5 $((d + 30)) "$OHA" -c "$c" -z "${d}s" --no-tui "${OHA_JSON[@]}" "$URL" \
        >"$stem.json" 2>"$stem.err" || rc=$?
    if [[ $rc -ne 0 ]]; then
        log "oha exited with $rc:"
        cat "$stem.err" >&2
    fi
    python3 - "$stem.json" <<'EOF'
import json, sys
try:
    doc = json.load(open(sys.argv[1]))
except Exception:
    print("nan nan"); sys.exit()
s = doc.get("summary", {})
rps = s.get("requestsPerSec") or 0.0
n = sum(int(v) for v in (doc.get("statusCodeDistribution") or {}).values())
n += sum(int(v) for v in (doc.get("errorDistribution") or {}).values())
if not n:
    n = rps * (s.get("total") or 0)
print(f"{rps:.1f} {n}")
EOF
}

run_ld() { # run_ld C DURATION STEM
    local c=$1 d=$2 stem=$3 rc=0 name args plan
    name=$(basename "$stem")
    args="\"user_count\": $c, \"spawn_rate\": 100000, \"test_time\": $d, \"tasks\": [{\"method\": \"get\", \"request_url\": \"$URL\"}]"
    [[ -n $EXTRA ]] && args="$args, $EXTRA"
    plan="{\"load_density\": [[\"LD_start_test\", {$args}], [\"LD_generate_summary_report\", {\"report_name\": \"$name\"}]]}"
    printf '%s\n' "$plan" >"$stem.plan.json"
    (cd "$WORK" && pin "$PIN_GEN" /usr/bin/time -f '%e %U %S %M' -o "$stem.time" \
        timeout -k 5 $((d + 60)) "$LD_BIN" run --quiet "$stem.plan.json" \
        >"$stem.out" 2>"$stem.err") || rc=$?
    # A non-zero exit may only mean failed thresholds; the report decides.
    [[ $rc -eq 0 ]] || log "loaddensity exited with $rc"
    python3 - "$WORK/$name.json" "$d" <<'EOF'
import json, sys
try:
    doc = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"bench: no summary report {sys.argv[1]}: {e}", file=sys.stderr)
    print("nan nan"); sys.exit()
t = doc.get("total", {})
rps = float(t.get("rps") or 0.0)
n = next((t[k] for k in ("requests", "total_requests", "count") if isinstance(t.get(k), (int, float))), None)
if n is None:
    n = rps * float(sys.argv[2])
print(f"{rps:.1f} {n}")
EOF
    [[ $rc -eq 0 || -s $WORK/$name.json ]] || cat "$stem.err" >&2
}

run_one() { # run_one MODE TOOL C DURATION REP
    local mode=$1 tool=$2 c=$3 d=$4 rep=$5 stem rps n cpu rss
    stem=$WORK/${tool}-${mode}-c${c}-d${d}-r${rep}
    log "$tool c=$c ${d}s (rep $rep)"
    if [[ $tool == oha ]]; then read -r rps n < <(run_oha "$c" "$d" "$stem")
    else read -r rps n < <(run_ld "$c" "$d" "$stem"); fi
    read -r cpu rss < <(time_fields "$stem.time")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$c" "$tool" "$rep" "$d" "$rps" "$n" "$cpu" "$rss" >>"$RESULTS"
    log "  -> ${rps} req/s, ${cpu} CPU-s, peak RSS ${rss} KB"
    sleep 1
}

if [[ $MODE == compare ]]; then
    for c in $CONCURRENCY; do
        for rep in $(seq "$REPS"); do
            for tool in $TOOLS; do
                run_one compare "$tool" "$c" "$DURATION" "$rep"
            done
        done
    done
else
    for d in $SOAK_TIMES; do
        run_one soak loaddensity "$SOAK_CONCURRENCY" "$d" 1
    done
fi

# ---------------------------------------------------------------- report
echo
echo "target: $TARGET_DESC; generator and target share $(nproc) CPUs"
[[ -n $EXTRA ]] && echo "loaddensity extra LD_start_test args: $EXTRA"
python3 - "$RESULTS" "$MODE" <<'EOF'
import csv, math, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
mode = sys.argv[2]

def num(x):
    try:
        v = float(x)
        return v if math.isfinite(v) else None
    except ValueError:
        return None

def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None

def fmt(v, spec):
    return format(v, spec) if v is not None else "n/a"

if mode == "soak":
    print(f"soak: loaddensity alone, {rows[0]['concurrency'] if rows else '?'} users")
    print(f"{'duration':>9} {'req/s':>10} {'peak RSS MB':>12}")
    rss = []
    for r in rows:
        mb = num(r["rss_kb"]) / 1024 if num(r["rss_kb"]) else None
        rss.append(mb)
        print(f"{r['duration'] + 's':>9} {fmt(num(r['rps']), '.0f'):>10} {fmt(mb, '.1f'):>12}")
    if len(rss) >= 2 and rss[0] and rss[-1]:
        print(f"peak RSS growth {rows[0]['duration']}s -> {rows[-1]['duration']}s: x{rss[-1] / rss[0]:.2f}")
    sys.exit()

tools = list(dict.fromkeys(r["tool"] for r in rows))
for c in dict.fromkeys(r["concurrency"] for r in rows):
    print(f"\nconcurrency {c}  (medians of {max(int(r['rep']) for r in rows)} runs)")
    print(f"{'tool':<12} {'req/s':>10} {'req/CPU-s':>10} {'peak RSS MB':>12}")
    stats = {}
    for t in tools:
        rs = [r for r in rows if r["tool"] == t and r["concurrency"] == c]
        rps = med(num(r["rps"]) for r in rs)
        eff = med((num(r["requests"]) / num(r["cpu_s"]))
                  if num(r["requests"]) is not None and num(r["cpu_s"]) else None for r in rs)
        rss = med(num(r["rss_kb"]) / 1024 if num(r["rss_kb"]) else None for r in rs)
        stats[t] = (rps, eff, rss)
        print(f"{t:<12} {fmt(rps, '.0f'):>10} {fmt(eff, '.0f'):>10} {fmt(rss, '.1f'):>12}")
    if "loaddensity" in stats and "oha" in stats:
        ratio = [a / b if a is not None and b else None
                 for a, b in zip(stats["loaddensity"], stats["oha"])]
        print(f"{'ld/oha':<12} {fmt(ratio[0], '.2f'):>10} {fmt(ratio[1], '.2f'):>10} {fmt(ratio[2], '.2f'):>12}")
EOF

mkdir -p "$RESULTS_DIR"
keep=$RESULTS_DIR/$(date +%Y%m%d-%H%M%S)-$MODE.tsv
cp "$RESULTS" "$keep"
echo
echo "raw results: $keep"
