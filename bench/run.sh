#!/usr/bin/env bash
# Compare loaddensity with oha and wrk against the same loopback target (see bench/README.md).
#
# Environment (all optional):
#   MODE=compare|soak      compare (default) or loaddensity-alone memory-flatness check
#   CONCURRENCY="10 50 200 1000"  concurrencies to run (compare mode)
#   REPS=3                 interleaved repetitions per tool and concurrency
#   DURATION=10            seconds per run
#   TOOLS="loaddensity oha wrk"  which generators to run (e.g. TOOLS=oha to check the oha side)
#   TARGET=auto|nginx|demo auto = nginx if installed, else `loaddensity demo-server`
#   BUDGET=1               add "failure_budget": {"threshold": 0.5} to LD_start_test
#   LD_EXTRA_ARGS='"k": v' extra JSON members appended to the LD_start_test args
#   MIN_SUCCESS=0.99       a repetition with a lower share of successful requests fails
#   WRK_THREADS=N          wrk -t (default: the number of CPUs, at most the concurrency)
#   NOFILE=65536           soft `ulimit -n` to raise to (capped by the hard limit)
#   SOAK_CONCURRENCY=50    users of the soak runs;  SOAK_TIMES="10 60"
#   PIN_TARGET=0 PIN_GEN=1 pin target / generator to CPU lists with taskset
#   LD_BIN, OHA, WRK, NGINX  binaries (defaults: target/release/loaddensity, oha on PATH
#                          or ~/.cargo/bin/oha, wrk on PATH, nginx on PATH or /usr/sbin/nginx)
#   RESULTS_DIR=bench/results  where the raw results TSV is kept
set -euo pipefail

MODE=${MODE:-compare}
CONCURRENCY=${CONCURRENCY:-10 50 200 1000}
REPS=${REPS:-3}
DURATION=${DURATION:-10}
TOOLS=${TOOLS:-loaddensity oha wrk}
TARGET=${TARGET:-auto}
BUDGET=${BUDGET:-0}
LD_EXTRA_ARGS=${LD_EXTRA_ARGS:-}
MIN_SUCCESS=${MIN_SUCCESS:-0.99}
WRK_THREADS=${WRK_THREADS:-}
NOFILE=${NOFILE:-65536}
SOAK_CONCURRENCY=${SOAK_CONCURRENCY:-50}
SOAK_TIMES=${SOAK_TIMES:-10 60}
PIN_TARGET=${PIN_TARGET:-}
PIN_GEN=${PIN_GEN:-}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}
LD_BIN=${LD_BIN:-$ROOT/target/release/loaddensity}

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

posint() { [[ $1 =~ ^[0-9]+$ && $1 -gt 0 ]]; }

case $MODE in compare | soak) ;; *) die "MODE must be compare or soak, not '$MODE'" ;; esac
posint "$DURATION" || die "DURATION must be a positive integer"
posint "$REPS" || die "REPS must be a positive integer"
posint "$SOAK_CONCURRENCY" || die "SOAK_CONCURRENCY must be a positive integer"
posint "$NOFILE" || die "NOFILE must be a positive integer"
for c in $CONCURRENCY; do posint "$c" || die "CONCURRENCY must list positive integers, not '$c'"; done
for d in $SOAK_TIMES; do posint "$d" || die "SOAK_TIMES must list positive integers, not '$d'"; done
[[ -z $WRK_THREADS ]] || posint "$WRK_THREADS" || die "WRK_THREADS must be a positive integer"
command -v python3 >/dev/null || die "python3 is required"
python3 -c 'import sys; v = float(sys.argv[1]); sys.exit(not 0 <= v <= 1)' "$MIN_SUCCESS" 2>/dev/null ||
    die "MIN_SUCCESS must be a fraction from 0 to 1, not '$MIN_SUCCESS'"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is required (apt-get install time)"
command -v timeout >/dev/null || die "timeout (coreutils) is required"

[[ $MODE == soak ]] && TOOLS=loaddensity
read -r -a TOOL_LIST <<<"$TOOLS"
[[ ${#TOOL_LIST[@]} -gt 0 ]] || die "TOOLS is empty"
for t in "${TOOL_LIST[@]}"; do
    case $t in loaddensity | oha | wrk) ;; *) die "TOOLS may list loaddensity, oha and wrk, not '$t'" ;; esac
done
want() { [[ " ${TOOL_LIST[*]} " == *" $1 "* ]]; }

EXTRA=$LD_EXTRA_ARGS
if [[ $BUDGET == 1 ]]; then
    EXTRA='"failure_budget": {"threshold": 0.5}'${EXTRA:+, $EXTRA}
fi
if [[ -n $EXTRA ]]; then
    python3 -c 'import json, sys; json.loads("{" + sys.argv[1] + "}")' "$EXTRA" 2>/dev/null ||
        die "LD_EXTRA_ARGS must be JSON object members, like '\"k\": 1, \"j\": {}': $EXTRA"
fi

# ---------------------------------------------------------------- open files
# Every connection is a file descriptor, in the generator and in the target:
# 1000 keep-alive connections need a soft limit well above the usual 1024.
MAX_C=$SOAK_CONCURRENCY
if [[ $MODE == compare ]]; then
    MAX_C=0
    for c in $CONCURRENCY; do
        if ((c > MAX_C)); then MAX_C=$c; fi
    done
fi
hard_nofile=$(ulimit -Hn)
want_nofile=$NOFILE
[[ $hard_nofile != unlimited && $hard_nofile -lt $want_nofile ]] && want_nofile=$hard_nofile
soft_nofile=$(ulimit -Sn)
if [[ $soft_nofile != unlimited && $soft_nofile -lt $want_nofile ]]; then
    ulimit -Sn "$want_nofile" 2>/dev/null || log "warning: could not raise ulimit -n to $want_nofile"
fi
NOFILE_NOW=$(ulimit -Sn)
[[ $NOFILE_NOW == unlimited ]] && NOFILE_NOW=1048576
((NOFILE_NOW >= MAX_C + 256)) ||
    log "warning: ulimit -n is $NOFILE_NOW, tight for $MAX_C connections (raise the hard limit)"

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
if want wrk; then
    WRK=${WRK:-$(command -v wrk || true)}
    [[ -n $WRK ]] || die "wrk not found: install it with 'apt-get install wrk'"
fi

NGINX=${NGINX:-$(command -v nginx || true)}
[[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
if [[ $TARGET == auto ]]; then
    TARGET=demo
    [[ -n $NGINX ]] && TARGET=nginx
fi
case $TARGET in nginx | demo) ;; *) die "TARGET must be auto, nginx or demo, not '$TARGET'" ;; esac
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
    # One worker; room for every keep-alive connection of the largest
    # concurrency (plus the listening socket and files), within ulimit -n.
    worker_connections=$((NOFILE_NOW - 64))
    ((worker_connections > 65536)) && worker_connections=65536
    ((worker_connections >= MAX_C + 64)) ||
        log "warning: nginx worker_connections $worker_connections is tight for $MAX_C connections"
    cat >"$WORK/nginx.conf" <<EOF
$user_line
worker_processes 1;
worker_rlimit_nofile $NOFILE_NOW;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections $worker_connections; }
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
        listen 127.0.0.1:$PORT backlog=4096;
        root $WORK/www;
    }
}
EOF
    nginx_args=(-c "$WORK/nginx.conf" -p "$WORK")
    "$NGINX" -h 2>&1 | grep -qE '^ *-e ' && nginx_args+=(-e "$WORK/nginx-error.log")
    target_cmd=("$NGINX" "${nginx_args[@]}")
    out=$WORK/nginx.out
    URL=http://127.0.0.1:$PORT/100b.txt
    TARGET_DESC="nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///'), 1 worker, 100-byte file, worker_connections $worker_connections"
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
log "ulimit -n $NOFILE_NOW; tools: ${TOOL_LIST[*]}; a repetition passes with >= $MIN_SUCCESS successful requests"

# ---------------------------------------------------------------- plans
ld_plan() { # ld_plan C DURATION REPORT_NAME: the generated loaddensity plan
    local args
    args="\"user_count\": $1, \"spawn_rate\": 100000, \"test_time\": $2, \"tasks\": [{\"method\": \"get\", \"request_url\": \"$URL\"}]"
    [[ -n $EXTRA ]] && args="$args, $EXTRA"
    printf '{"load_density": [["LD_start_test", {%s}], ["LD_generate_summary_report", {"report_name": "%s"}]]}\n' "$args" "$3"
}

if want loaddensity; then
    # A plan loaddensity rejects (a bad LD_EXTRA_ARGS field) would make every
    # loaddensity run fail: check it once, before anything runs.
    ld_plan 1 1 check >"$WORK/check.plan.json"
    if ! "$LD_BIN" validate "$WORK/check.plan.json" 2>"$WORK/check.err"; then
        cat "$WORK/check.err" >&2
        die "loaddensity rejects the generated plan (check LD_EXTRA_ARGS): $(cat "$WORK/check.plan.json")"
    fi
fi

# ---------------------------------------------------------------- runs
RESULTS=$WORK/results.tsv
printf 'mode\tconcurrency\ttool\trep\torder\tduration\tok\terrors\tcut_off\tsuccess\trps\ttool_rps\tcpu_s\trss_kb\tstatus\n' >"$RESULTS"

# Parses /usr/bin/time -f '%e %U %S %M' output: prints "cpu_seconds rss_kb".
time_fields() {
    tail -n 1 "$1" 2>/dev/null | awk 'NF == 4 { printf "%.2f %d\n", $2 + $3, $4; ok = 1 } END { if (!ok) print "nan 0" }'
}

# Every run_<tool> prints one line: "OK ERRORS CUT_OFF SECONDS TOOL_RPS", or
# "nan nan nan nan nan" when the tool produced nothing readable. OK counts
# successful requests (2xx/3xx, or loaddensity's successes), ERRORS failed ones
# (other statuses and socket errors), CUT_OFF requests the end of the run cut
# off (neither), SECONDS the measured duration.

run_oha() { # run_oha C DURATION STEM
    local c=$1 d=$2 stem=$3 rc=0
    pin "$PIN_GEN" /usr/bin/time -f '%e %U %S %M' -o "$stem.time" \
        timeout -k 5 $((d + 60)) "$OHA" -c "$c" -z "${d}s" --no-tui "${OHA_JSON[@]}" "$URL" \
        >"$stem.json" 2>"$stem.err" || rc=$?
    if [[ $rc -ne 0 ]]; then
        log "oha exited with $rc:"
        cat "$stem.err" >&2
    fi
    python3 - "$stem.json" "$d" <<'EOF'
import json, sys
try:
    doc = json.load(open(sys.argv[1]))
except Exception:
    print("nan nan nan nan nan"); sys.exit()
s = doc.get("summary", {})
ok = err = cut = 0
for code, n in (doc.get("statusCodeDistribution") or {}).items():
    if 200 <= int(code) < 400:
        ok += int(n)
    else:
        err += int(n)
for msg, n in (doc.get("errorDistribution") or {}).items():
    # Requests still in flight when -z ran out: the run's end, not an error.
    if "deadline" in msg.lower():
        cut += int(n)
    else:
        err += int(n)
secs = float(s.get("total") or sys.argv[2])
print(ok, err, cut, secs, float(s.get("requestsPerSec") or 0.0))
EOF
}

run_wrk() { # run_wrk C DURATION STEM
    local c=$1 d=$2 stem=$3 rc=0 threads
    threads=${WRK_THREADS:-$(nproc)}
    ((threads > c)) && threads=$c
    pin "$PIN_GEN" /usr/bin/time -f '%e %U %S %M' -o "$stem.time" \
        timeout -k 5 $((d + 60)) "$WRK" -t "$threads" -c "$c" -d "${d}s" --timeout 10s "$URL" \
        >"$stem.out" 2>"$stem.err" || rc=$?
    if [[ $rc -ne 0 ]]; then
        log "wrk exited with $rc:"
        cat "$stem.err" >&2
    fi
    python3 - "$stem.out" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h),", text)
rps = re.search(r"Requests/sec:\s*([\d.]+)", text)
if not m or not rps:
    print("nan nan nan nan nan"); sys.exit()
requests = int(m.group(1))
secs = float(m.group(2)) * {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[m.group(3)]
# "Non-2xx or 3xx responses" (status >= 400) are among the requests; socket
# errors (connect, read, write, timeout) are requests that never completed.
bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
bad = int(bad.group(1)) if bad else 0
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
sock = sum(int(x) for x in sock.groups()) if sock else 0
print(requests - bad, bad + sock, 0, secs, float(rps.group(1)))
EOF
}

run_ld() { # run_ld C DURATION STEM
    local c=$1 d=$2 stem=$3 rc=0 name
    name=$(basename "$stem")
    ld_plan "$c" "$d" "$name" >"$stem.plan.json"
    (cd "$WORK" && pin "$PIN_GEN" /usr/bin/time -f '%e %U %S %M' -o "$stem.time" \
        timeout -k 5 $((d + 60)) "$LD_BIN" run --quiet "$stem.plan.json" \
        >"$stem.out" 2>"$stem.err") || rc=$?
    # A non-zero exit may only mean a tripped budget; the report decides.
    if [[ $rc -ne 0 ]]; then
        log "loaddensity exited with $rc"
        [[ -s $WORK/$name.json ]] || cat "$stem.err" >&2
    fi
    python3 - "$WORK/$name.json" "$d" <<'EOF'
import json, sys
try:
    doc = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"bench: no summary report {sys.argv[1]}: {e}", file=sys.stderr)
    print("nan nan nan nan nan"); sys.exit()
t = doc.get("total", {})
requests, failures = int(t.get("requests", 0)), int(t.get("failures", 0))
secs = sum(float(x.get("duration_s") or 0) for x in doc.get("tests", [])) or float(sys.argv[2])
print(requests - failures, failures, int(t.get("cancelled", 0)), secs, float(t.get("rps") or 0.0))
EOF
}

run_one() { # run_one MODE TOOL C DURATION REP ORDER
    local mode=$1 tool=$2 c=$3 d=$4 rep=$5 order=$6 stem ok err cut secs tool_rps cpu rss verdict
    stem=$WORK/${tool}-${mode}-c${c}-d${d}-r${rep}
    log "$tool c=$c ${d}s (rep $rep, position $order)"
    case $tool in
        oha) read -r ok err cut secs tool_rps < <(run_oha "$c" "$d" "$stem") ;;
        wrk) read -r ok err cut secs tool_rps < <(run_wrk "$c" "$d" "$stem") ;;
        *) read -r ok err cut secs tool_rps < <(run_ld "$c" "$d" "$stem") ;;
    esac
    read -r cpu rss < <(time_fields "$stem.time")
    # success = ok / (ok + errors); rps counts successful requests only, so
    # fast errors never pass for throughput.
    read -r success rps verdict < <(python3 - "$ok" "$err" "$secs" "$MIN_SUCCESS" <<'EOF'
import math, sys
ok, err, secs, need = (float(x) for x in sys.argv[1:])
if any(math.isnan(x) for x in (ok, err, secs)):
    print("nan nan FAILED: no readable result")
elif ok + err == 0:
    print("nan 0 FAILED: no requests")
else:
    share = ok / (ok + err)
    rps = ok / secs if secs > 0 else 0.0
    verdict = "ok" if share >= need else f"FAILED: {share * 100:.2f}% successful (needs {need * 100:g}%)"
    print(f"{share:.6f} {rps:.1f} {verdict}")
EOF
)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$mode" "$c" "$tool" "$rep" "$order" "$d" "$ok" "$err" "$cut" "$success" "$rps" "$tool_rps" "$cpu" "$rss" "$verdict" >>"$RESULTS"
    log "  -> ${rps} ok req/s, ${ok} ok, ${err} errors, ${cut} cut off, ${cpu} CPU-s, peak RSS ${rss} KB: ${verdict}"
    sleep 1
}

if [[ $MODE == compare ]]; then
    n=${#TOOL_LIST[@]}
    for c in $CONCURRENCY; do
        for rep in $(seq "$REPS"); do
            # Rotate the order every repetition, so no tool always runs first
            # (A B C, B C A, C A B, ...; with two tools A B, B A).
            for i in $(seq 0 $((n - 1))); do
                tool=${TOOL_LIST[$(((i + rep - 1) % n))]}
                run_one compare "$tool" "$c" "$DURATION" "$rep" $((i + 1))
            done
        done
    done
else
    for d in $SOAK_TIMES; do
        run_one soak loaddensity "$SOAK_CONCURRENCY" "$d" 1 1
    done
fi

# ---------------------------------------------------------------- report
echo
echo "target: $TARGET_DESC"
echo "url: $URL ($TARGET)"
echo "generator and target share $(nproc) CPUs; ulimit -n $NOFILE_NOW"
[[ -n $EXTRA ]] && echo "loaddensity extra LD_start_test args: $EXTRA"
set +e
python3 - "$RESULTS" "$MODE" "$MIN_SUCCESS" <<'EOF'
import csv, math, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
mode, need = sys.argv[2], float(sys.argv[3])

def num(x):
    try:
        v = float(x)
        return v if math.isfinite(v) else None
    except (TypeError, ValueError):
        return None

def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None

def fmt(v, spec):
    return format(v, spec) if v is not None else "n/a"

def eff(r):  # successful requests per CPU-second of the generator
    ok, cpu = num(r["ok"]), num(r["cpu_s"])
    return ok / cpu if ok is not None and cpu else None

def mb(r):
    kb = num(r["rss_kb"])
    return kb / 1024 if kb else None

def pct(r):
    s = num(r["success"])
    return f"{s * 100:.2f}%" if s is not None else "n/a"

def status(r):
    return r["status"]

print(f"a repetition passes when >= {need * 100:g}% of its requests succeed; req/s counts successful requests only")
failed = [r for r in rows if r["status"] != "ok"]

if mode == "soak":
    print(f"\nsoak: loaddensity alone, {rows[0]['concurrency'] if rows else '?'} users")
    print(f"{'duration':>9} {'req/s':>10} {'success':>9} {'peak RSS MB':>12}  status")
    for r in rows:
        print(f"{r['duration'] + 's':>9} {fmt(num(r['rps']), '.0f'):>10} {pct(r):>9} {fmt(mb(r), '.1f'):>12}  {status(r)}")
    good = [r for r in rows if r["status"] == "ok"]
    if len(good) >= 2 and mb(good[0]) and mb(good[-1]):
        print(f"peak RSS growth {good[0]['duration']}s -> {good[-1]['duration']}s: x{mb(good[-1]) / mb(good[0]):.2f}")
else:
    tools = list(dict.fromkeys(r["tool"] for r in rows))
    for c in dict.fromkeys(r["concurrency"] for r in rows):
        rs_c = [r for r in rows if r["concurrency"] == c]
        print(f"\nconcurrency {c}: every repetition")
        print(f"{'rep':>3} {'#':>2} {'tool':<12} {'req/s':>10} {'success':>9} {'req/CPU-s':>10} {'peak RSS MB':>12}  status")
        for r in sorted(rs_c, key=lambda r: (int(r["rep"]), int(r["order"]))):
            print(f"{r['rep']:>3} {r['order']:>2} {r['tool']:<12} {fmt(num(r['rps']), '.0f'):>10} {pct(r):>9} "
                  f"{fmt(eff(r), '.0f'):>10} {fmt(mb(r), '.1f'):>12}  {status(r)}")
        print(f"concurrency {c}: medians over the passing repetitions")
        print(f"{'tool':<12} {'req/s':>10} {'req/CPU-s':>10} {'peak RSS MB':>12}  passed")
        stats = {}
        for t in tools:
            rs = [r for r in rs_c if r["tool"] == t]
            good = [r for r in rs if r["status"] == "ok"]
            s = (med(num(r["rps"]) for r in good), med(eff(r) for r in good), med(mb(r) for r in good))
            stats[t] = s
            note = f"{len(good)}/{len(rs)}" + (f" ({len(rs) - len(good)} FAILED)" if len(good) < len(rs) else "")
            print(f"{t:<12} {fmt(s[0], '.0f'):>10} {fmt(s[1], '.0f'):>10} {fmt(s[2], '.1f'):>12}  {note}")
        for other in ("oha", "wrk"):
            if "loaddensity" in stats and other in stats:
                ratio = [a / b if a is not None and b else None
                         for a, b in zip(stats["loaddensity"], stats[other])]
                label = f"ld/{other}"
                print(f"{label:<12} {fmt(ratio[0], '.2f'):>10} {fmt(ratio[1], '.2f'):>10} {fmt(ratio[2], '.2f'):>12}")

if failed:
    print(f"\n{len(failed)} of {len(rows)} repetitions FAILED (left out of the medians):")
    for r in failed:
        print(f"  {r['tool']} c={r['concurrency']} {r['duration']}s rep {r['rep']}: {status(r)} "
              f"({r['ok']} ok, {r['errors']} errors)")
else:
    print(f"\nall {len(rows)} repetitions passed")
EOF
set -e

mkdir -p "$RESULTS_DIR"
keep=$RESULTS_DIR/$(date +%Y%m%d-%H%M%S)-$MODE.tsv
cp "$RESULTS" "$keep"
echo
echo "raw results: $keep"
