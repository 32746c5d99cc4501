#!/usr/bin/env bash
# A guided tour of Reflex on the webshop example (run from anywhere; `npm run demo` runs it).
set -u
cd "$(dirname "$0")/.."
reflex() { node ../../dist/cli/main.js "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

rm -rf .reflex
step "1. Check the configuration and rules" "reflex check"
reflex check || exit 1

step "2. Break an instance, then preview: nothing runs in --dry-run" "node demo/service.mjs break web-2 && reflex run --dry-run"
node demo/service.mjs break web-2
reflex run --dry-run

step "3. Why was web-2 chosen? Every condition, its values and their sources" "reflex why web-2"
reflex why web-2

step "4. Run for real: the enforced rule restarts web-2 (intent journaled first)" "reflex run"
reflex run

step "5. web-2 breaks again at once: the cooldown holds the second restart back" "node demo/service.mjs break web-2 && reflex run"
node demo/service.mjs break web-2
reflex run

step "6. The record: decisions and executions with their journal entries" "reflex history --target web-2"
reflex history --target web-2

step "7. Switches, disables, cooldowns in force and shadow-mode results" "reflex status"
reflex status
node demo/service.mjs reset >/dev/null
printf '\nDone. Try: reflex why web-3 --rule clean-full-disk, reflex disable --rule restart-unhealthy-instance --reason test --until 1h\n'
