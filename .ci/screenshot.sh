#!/usr/bin/env bash
# Open the lab in a real window under Xvfb and save one screenshot per tab.
# Usage: .ci/screenshot.sh OUT_DIR [TAB_NAME...]   (needs the Xvfb packages of RECIPES.md)
# Tabs are clicked by their position in the tab bar, found with xdotool; the window
# is 1280x800. Not run by CI (it needs a window system); for a person's-eye check.
set -euo pipefail
out=${1:?usage: screenshot.sh OUT_DIR [TAB_X_POSITION...]}
shift || true
mkdir -p "$out"
bin=${KEXUE_LAB_BIN:-target/release/kexue-lab}
export DISPLAY=${SCREENSHOT_DISPLAY:-:99}
Xvfb "$DISPLAY" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 & xvfb=$!
trap 'kill $app $xvfb 2>/dev/null || true' EXIT
for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done
"$bin" & app=$!
wid=$(timeout 60 xdotool search --sync --onlyvisible --name 'Kexue Lab' | head -1)
sleep 3
import -window "$wid" "$out/start.png"
i=0
for x in "$@"; do
  i=$((i + 1))
  # A tab label at x pixels from the left of the tab bar (y = 20).
  xdotool mousemove --window "$wid" "$x" 20; sleep 0.3
  xdotool mousedown 1; sleep 0.2; xdotool mouseup 1; sleep 2.5
  import -window "$wid" "$out/tab$i.png"
done
echo "screenshots in $out"
