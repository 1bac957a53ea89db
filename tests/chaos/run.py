"""The long chaos run: `make chaos SEED=... RUNS=...` (or python tests/chaos/run.py --seed S --runs N).

For the seed, draws RUNS fault plans (one fault in every phase of rollback_complete per run, a
controller kill ending about half of the runs; see tests/chaos/chaos.py), and on one localhost
sandbox (tests/harness/stack.py, state dir on a small tmpfs) runs each: reset to the bad deploy,
run with the faults, check the invariants, re-run clean, check convergence. Prints one line per
run and the faults x phases table; exits 1 on any violation. The same seed draws the same plans.

    python tests/chaos/run.py --seed 7 --runs 5 [--faults module_kill,pg_refuse] [--base DIR]
    python tests/chaos/run.py --calibrate     # the task counts per phase of a clean run

--tier fleet does the same on the fleet topology of molecule/complete (tests/chaos/fleet.py: four
podman hosts rb-chaos-*, created and converged once, reset between runs), with a fault at each
host of a phase and the fleet-only faults host_stop and net_cut; --keep leaves the hosts up and
--base DIR --keep reuses them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.chaos.chaos import FAULTS, PHASES, ChaosBox, phase_of, plan_from_seed, table  # noqa: E402
from tests.chaos.fleet import FLEET_FAULTS, FLEET_PHASES, FleetBox, fleet_plan_from_seed  # noqa: E402


def calibrate(box, fleet):
    box.reset()
    log = box.base / "calibrate.jsonl"
    log.unlink(missing_ok=True)
    with contextlib.redirect_stdout(io.StringIO()):
        run = box.run(log=log)
    counts = {}
    for record in map(json.loads, log.read_text().splitlines()):
        if record["event"] == "task":
            counts.setdefault(phase_of(record["play"]), {})[record["host"]] = record["n"]
    print("rc=%s" % run.rc)
    if fleet:
        for name, known in FLEET_PHASES:
            print("%-16s %s (FLEET_PHASES says %s)" % (name, counts.get(name, {}), known))
        return
    for name, _prefix, known in PHASES:
        print("%-16s %3s (PHASES says %d)" % (name, counts.get(name, {}).get("localhost", 0), known))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--faults", help="comma-separated subset of %s (default: all of the tier's)" % ", ".join(FLEET_FAULTS)
    )
    parser.add_argument("--base", help="where the sandbox lives (default: a temp dir)")
    parser.add_argument("--until", help="start no run after this UTC time (HH:MM): a time-boxed long run")
    parser.add_argument(
        "--tier",
        choices=("sandbox", "fleet"),
        default="sandbox",
        help="sandbox: the localhost sandbox; fleet: lb, app1, app2, db podman hosts (rb-chaos-*)",
    )
    parser.add_argument("--keep", action="store_true", help="fleet: keep the hosts; --base DIR reuses them")
    parser.add_argument("--calibrate", action="store_true")
    args = parser.parse_args(argv)
    fleet = args.tier == "fleet"
    base = Path(args.base or tempfile.mkdtemp(prefix="chaos-"))
    started = time.monotonic()
    box = FleetBox(base / "fleet", reuse=args.keep) if fleet else ChaosBox(base / "box")
    try:
        if args.calibrate:
            calibrate(box, fleet)
            return 0
        default = FLEET_FAULTS if fleet else FAULTS
        asked = args.faults.split(",") if args.faults else default
        wanted = [f for f in asked if f in box.faults_possible()]
        plans = (fleet_plan_from_seed if fleet else plan_from_seed)(args.seed, args.runs, faults=wanted)
        print(
            "chaos: seed %d, tier %s, %d runs planned, faults %s, in %s (set up in %.0fs)"
            % (args.seed, args.tier, args.runs, ",".join(wanted), base, time.monotonic() - started),
            flush=True,
        )
        outcomes, errors = [], 0
        for number, plan in enumerate(plans, start=1):
            if args.until and time.strftime("%H:%M", time.gmtime()) >= args.until:
                print("run %d/%d and later not started: past %s UTC" % (number, len(plans), args.until), flush=True)
                break
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    out = box.trial(plan)
            except Exception as err:  # the harness failed, not the rollback: on to the next run
                errors += 1
                print("run %d/%d HARNESS ERROR (not counted): %s" % (number, len(plans), err), flush=True)
                continue
            outcomes.append(out)
            print(
                "run %d/%d %s rc=%s re-run rc=%s applied %d/%d %.0fs states %s -> %s%s%s"
                % (
                    number,
                    len(plans),
                    "ok" if out.ok else "VIOLATION",
                    out.rc,
                    out.rerun_rc,
                    len(out.applied),
                    len(plan),
                    out.seconds,
                    ",".join("%s=%s" % (k, v[:6]) for k, v in out.states["fault"].items()),
                    "all target" if not out.after_rerun else "NOT converged",
                    "".join("\n    after fault: %s" % v for v in out.after_fault)
                    + "".join("\n    in flight: %s" % v for v in out.in_flight)
                    + "".join("\n    after re-run: %s" % v for v in out.after_rerun),
                    "\n    faults: "
                    + " ".join(("+" if i in out.applied else "-") + f.label() for i, f in enumerate(plan)),
                ),
                flush=True,
            )
        print()
        print(table(outcomes, order=default))
        applied = sum(len(o.applied) for o in outcomes)
        planned = sum(len(o.faults) for o in outcomes)
        bad = [o for o in outcomes if not o.ok]
        print(
            "\nseed %d: %d runs done, %d faults planned, %d applied, %d runs with a violation, %d harness errors"
            % (args.seed, len(outcomes), planned, applied, len(bad), errors)
        )
        return 1 if bad or errors else 0
    finally:
        if not (fleet and args.keep):
            box.stop()


if __name__ == "__main__":
    sys.exit(main())
