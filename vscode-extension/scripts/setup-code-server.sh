#!/usr/bin/env bash
# Installs a real VS Code (code-server, from npm) plus Debian's Chromium and playwright-core, so
# an end-to-end test can drive VS Code in headless Chromium without any download outside the npm
# registry and Debian's apt repositories; and Debian's Neovim, the editor suite's second editor.
#
#   vscode-extension/scripts/setup-code-server.sh
#
# Target folder: $LOUPE_CODE_SERVER_DIR (default: <repo>/.cache/code-server, git-ignored).
# Idempotent: the marker file <dir>/.setup-done is written last; a rerun that finds it (with the
# same versions and Node ABI) exits at once. Delete the folder to start over.
# The last line printed is the path of code-server's entry point (run it with `node`).
#
# code-server's own install scripts fetch VS Code pieces and ripgrep from GitHub, which is not
# reachable here, so the recipe below installs with --ignore-scripts and builds the native
# modules itself (see the "Dependencies" notes in the shared ENVIRONMENT.md).
set -euo pipefail

CODE_SERVER_VERSION=4.100.3          # VS Code 1.100.3; the last line that accepts Node 20
PLAYWRIGHT_CORE_VERSION=1.64.1       # built for Chromium 156 = bookworm-security's chromium

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(cd -- "$script_dir/../.." && pwd)
dir=${LOUPE_CODE_SERVER_DIR:-$repo_dir/.cache/code-server}
marker=$dir/.setup-done
cs_dir=$dir/node_modules/code-server
entry=$cs_dir/out/node/entry.js

# Node's module ABI goes into the stamp: native modules built for another Node must be rebuilt.
node_abi=$(node -p process.versions.modules)
stamp="code-server@$CODE_SERVER_VERSION playwright-core@$PLAYWRIGHT_CORE_VERSION node-abi@$node_abi"

if [[ -f $marker && "$(<"$marker")" == "$stamp" && -f $entry && -x /usr/bin/chromium && -x /usr/bin/nvim ]]; then
  echo "code-server $CODE_SERVER_VERSION already set up in $dir (marker $marker)"
  echo "$entry"
  exit 0
fi

log() { printf '==> %s\n' "$*"; }
t_start=$SECONDS
t_phase=$SECONDS
phase_times=()
end_phase() {
  local secs=$((SECONDS - t_phase))
  phase_times+=("$(printf '%-34s %4ds' "$1" "$secs")")
  log "$1: ${secs}s"
  t_phase=$SECONDS
}

major=$(node -p 'process.versions.node.split(".")[0]')
if [[ $major != 20 ]]; then
  echo "warning: code-server $CODE_SERVER_VERSION declares engines.node 20; this is Node $(node -v)" >&2
fi

mkdir -p "$dir"
# One setup at a time per folder.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$dir/.setup.lock"
  flock 9
  # Another run may have finished while this one waited.
  if [[ -f $marker && "$(<"$marker")" == "$stamp" && -f $entry ]]; then
    echo "code-server set up by a concurrent run in $dir"
    echo "$entry"
    exit 0
  fi
fi
rm -f "$marker"

# --- 1. Debian packages ----------------------------------------------------------------------
# chromium: the browser; fonts-liberation: metric-compatible fonts (a chromium recommend);
# libkrb5-dev + pkg-config: build the `kerberos` module; ripgrep: VS Code's search backend
# (the npm @vscode/ripgrep downloads from GitHub); build-essential + python3: node-gyp builds.
# neovim: the second real editor of the editor suite (test/e2e/neovim.test.ts).
apt_packages=(chromium fonts-liberation libkrb5-dev pkg-config ripgrep build-essential python3 neovim)
missing=()
for p in "${apt_packages[@]}"; do
  if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != installed ]]; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  if [[ $(id -u) == 0 ]]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "error: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends "${missing[@]}"
else
  log "apt packages already installed: ${apt_packages[*]}"
fi
end_phase "apt packages"

# --- 2. code-server + playwright-core from npm -----------------------------------------------
# A package.json of its own keeps npm from walking up to the repository's workspace root.
if [[ ! -f $dir/package.json ]]; then
  printf '{\n  "name": "loupe-code-server",\n  "private": true\n}\n' >"$dir/package.json"
fi
cd "$dir"
log "npm install code-server@$CODE_SERVER_VERSION playwright-core@$PLAYWRIGHT_CORE_VERSION --ignore-scripts"
npm install --no-audit --no-fund --save-exact --ignore-scripts \
  "code-server@$CODE_SERVER_VERSION" "playwright-core@$PLAYWRIGHT_CORE_VERSION"
log "npm rebuild argon2"
npm rebuild argon2
end_phase "npm install code-server"

# --- 3. VS Code's own dependencies (lib/vscode) ----------------------------------------------
cd "$cs_dir/lib/vscode"
log "lib/vscode: npm install --omit=dev --ignore-scripts"
npm install --no-audit --no-fund --omit=dev --ignore-scripts
log "lib/vscode: use Debian's rg for @vscode/ripgrep"
mkdir -p node_modules/@vscode/ripgrep/bin
cp -f "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
end_phase "npm install lib/vscode"

log "lib/vscode: npm rebuild kerberos node-pty @vscode/spdlog native-watchdog @vscode/deviceid"
npm_config_yes=true npm rebuild kerberos node-pty @vscode/spdlog native-watchdog @vscode/deviceid
ln -sfn node_modules node_modules.asar
ln -sfn code-linux.sh bin/remote-cli/code-server
ln -sfn browser-linux.sh bin/helpers/browser.sh
end_phase "native modules + links"

# --- 4. built-in extensions' dependencies ----------------------------------------------------
cd "$cs_dir/lib/vscode/extensions"
log "lib/vscode/extensions: npm install --omit=dev"
npm install --no-audit --no-fund --omit=dev
end_phase "npm install built-in extensions"

# --- 5. smoke test + marker ------------------------------------------------------------------
log "smoke test: node $entry --version"
# code-server writes a default config and logs under XDG dirs even for --version: keep them here.
XDG_CONFIG_HOME=$dir/.xdg/config XDG_DATA_HOME=$dir/.xdg/data node "$entry" --version
/usr/bin/chromium --version
node -e 'require(process.argv[1]); console.log("playwright-core", require(process.argv[1] + "/package.json").version)' \
  "$dir/node_modules/playwright-core"
end_phase "smoke test"

printf '%s\n' "$stamp" >"$marker"

echo
echo "Phase times:"
printf '  %s\n' "${phase_times[@]}"
echo "Total: $((SECONDS - t_start))s"
echo "code-server $CODE_SERVER_VERSION is set up in $dir; entry point (run with node):"
echo "$entry"
