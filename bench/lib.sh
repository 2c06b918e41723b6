# Shared by the bench scripts (sourced).
# issue_agent_token BIN STATE OUT [ARGS...]: `cavra tokens issue --role agent` into OUT.
issue_agent_token() {
  issue_token "$1" "$2" "$3" agent bench "${@:4}"
}

# issue_token BIN STATE OUT ROLE NAME [ARGS...]: `cavra tokens issue --role ROLE` into OUT.
# Issuing a token is a control action confirmed at a terminal: the script answers the
# confirmation through a pseudo-terminal (`script`), as the person running it would.
issue_token() {
  local bin=$1 state=$2 out=$3 role=$4 name=$5; shift 5
  local cmd
  printf -v cmd '%q ' "$bin" --cavra-dir "$state" --json tokens issue --name "$name" --role "$role" "$@"
  [ -f "${CAVRA_APPROVER_DIR:?}/approver.pub" ] || (sleep 0.3; echo yes) |
    script -qec "$(printf '%q ' "$bin" --cavra-dir "$state" keys approver init)" /dev/null >/dev/null
  (sleep 0.3; echo yes) | script -qec "$cmd" /dev/null | grep -o 'cavra-api\.v1\.[A-Za-z0-9._-]*' | head -1 > "$out"
  [ -s "$out" ] || { echo "could not issue a $role token" >&2; return 1; }
}

# serve_start BIN STATE DIR [ARGS...]: `cavra --cavra-dir STATE serve ARGS` in the
# background, working directory DIR/project, output in DIR/serve.out and DIR/serve.err;
# sets SRV_PID and URL once it listens (environment assignments before the call apply).
serve_start() {
  local bin=$1 state=$2 dir=$3; shift 3
  mkdir -p "$dir/project"
  # a previous server's address must not be read as this one's
  rm -f "$dir/serve.out"
  (cd "$dir/project" && exec "$bin" --cavra-dir "$state" serve "$@" > "$dir/serve.out" 2>> "$dir/serve.err") &
  SRV_PID=$!
  for _ in $(seq 1 200); do
    grep -q 'listening on' "$dir/serve.out" 2>/dev/null && break
    sleep 0.05
  done
  URL=$(sed -n 's/^cavra serve: listening on //p' "$dir/serve.out")
  [ -n "$URL" ] || { cat "$dir/serve.err" >&2; return 1; }
}

# server_bench_setup NAME: the release binary (built unless SKIP_BUILD; BIN overrides), a
# scratch directory TMP with an approver directory and a project, the PostgreSQL database
# name PGDB (cavra_NAME_PID on PG) and a cleanup on exit (the server SRV_PID stopped, the
# database dropped, TMP removed).
server_bench_setup() {
  [ -n "${SKIP_BUILD:-}" ] || cargo build --release -p cavra-cli >/dev/null
  BIN=${BIN:-$PWD/target/release/cavra}
  TMP=$(mktemp -d)
  SRV_PID=
  PGDB=cavra_$1_$$
  PG=postgres://postgres@127.0.0.1:5432
  trap server_bench_cleanup EXIT
  export CAVRA_APPROVER_DIR="$TMP/approver"
  mkdir -p "$TMP/project"
}
server_bench_cleanup() {
  [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null
  psql "$PG/test" -qc "DROP DATABASE IF EXISTS $PGDB" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}

# decide_lua FILE: a wrk script that posts three requests in turn to POST /v1/decisions with
# the token of $TMP/agent.token: an everyday read (allow), a secret read (block), a command.
decide_lua() {
  cat > "$1" <<EOL
local bodies = {
  '{"action_type":"read_file","target":"README.md","cwd":"$TMP/project","agent_id":"bench","session_id":"load"}',
  '{"action_type":"read_file","target":".env","cwd":"$TMP/project","agent_id":"bench","session_id":"load"}',
  '{"action_type":"execute_command","target":"cargo test && git status","cwd":"$TMP/project","agent_id":"bench","session_id":"load"}',
}
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. io.open("$TMP/agent.token"):read("*l")
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[(n % 3) + 1])
end
response = function(status)
  if status ~= 200 then io.stderr:write("status " .. status .. "\n") end
end
EOL
}

# wrk_rate URL [SCRIPT]: requests/s of wrk -t$THREADS -c$CONN -d${SECS}s (non-2xx answers
# make the run fail)
wrk_rate() {
  local out
  out=$(wrk -t"$THREADS" -c"$CONN" -d"${SECS}s" ${2:+-s "$2"} "$1" 2> "$TMP/wrk.err")
  if grep -q "Non-2xx" <<<"$out" || [ -s "$TMP/wrk.err" ]; then
    echo "wrk saw errors:" >&2; echo "$out" >&2; head -5 "$TMP/wrk.err" >&2; tail -5 "$TMP/serve.err" >&2; exit 1
  fi
  awk '/Requests\/sec/{print $2}' <<<"$out"
}
