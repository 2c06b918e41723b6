# Shared by the bench scripts (sourced).
# issue_agent_token BIN STATE OUT [ARGS...]: `cavra tokens issue --role agent` into OUT.
# Issuing a token is a control action confirmed at a terminal: the script answers the
# confirmation through a pseudo-terminal (`script`), as the person running it would.
issue_agent_token() {
  local bin=$1 state=$2 out=$3; shift 3
  local cmd
  printf -v cmd '%q ' "$bin" --cavra-dir "$state" --json tokens issue --name bench --role agent "$@"
  [ -f "${CAVRA_APPROVER_DIR:?}/approver.pub" ] || (sleep 0.3; echo yes) |
    script -qec "$(printf '%q ' "$bin" --cavra-dir "$state" keys approver init)" /dev/null >/dev/null
  (sleep 0.3; echo yes) | script -qec "$cmd" /dev/null | grep -o 'cavra-api\.v1\.[A-Za-z0-9._-]*' | head -1 > "$out"
  [ -s "$out" ] || { echo "could not issue an agent token" >&2; return 1; }
}
