"""The fault suite (`make chaos`): real servers, real faults, then an audit of every job; prints one table row per
scenario.

    .venv/bin/python -m tests.chaos.run [--kills 50] [--embedded-kills 5] [--seed 1] [--json out.json]

Server mode (private PostgreSQL, Redis with AOF, moto S3; two solo-pool workers and the scheduler): SIGKILLs of a
worker at random points of random running jobs (a random step, sometimes while saving), Redis SIGKILLed and
restarted with jobs queued (once from its AOF, once empty, as a Redis without persistence comes back), PostgreSQL
restarted mid-job, S3 unreachable for 5 s while jobs save. Embedded mode (`runstudio`): its worker SIGKILLed.
Columns: jobs submitted, succeeded, failed (with reasons), stuck (not finished when the suite gave up waiting),
images duplicated or missing, orphan files in storage, and two recovery times from the moment a fault was over
(the kill; the server back): until every job it hit was handled (queued again or its message resent, or making
progress), and until every one made progress again (claimed again, a further step, or ended: this includes
waiting in the queue behind other jobs, and for a worker to start again).
Exit status 0 when nothing is stuck, duplicated, missing or orphaned and every failure is "attempts exhausted".
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.chaos.audit import FaultLog, JobAudit, ProgressWatch

EXHAUSTED = "attempts exhausted"


@dataclass
class Row:
    scenario: str
    faults: int
    submitted: int
    succeeded: int
    failed: dict[str, int]
    stuck: int
    duplicated: int
    missing: int
    orphans: int
    longest_recovery_s: float | None  # until every job a fault hit was handled (queued again, resent, progressing)
    longest_to_running_s: float | None  # until every job a fault hit made progress (running again, or ended)
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        only_exhausted = set(self.failed) <= {EXHAUSTED}
        return only_exhausted and not (self.stuck or self.duplicated or self.missing or self.orphans)


def _reason(error: str) -> str:
    return EXHAUSTED if error.startswith("gave up after") else error[:60]


def make_row(scenario: str, audits: list[JobAudit], faults: FaultLog, watch: ProgressWatch, orphans: int) -> Row:
    recovery = faults.longest_recovery(watch)
    to_running = faults.longest_recovery(watch, progress_only=True)
    notes = []
    if len(faults.events) > 1:
        handled = sorted(r for r in faults.recoveries(watch) if r is not None)
        running = sorted(r for r in faults.recoveries(watch, progress_only=True) if r is not None)
        notes.append(
            f"median over {len(faults.events)} faults: handled in {handled[len(handled) // 2]:.1f} s, "
            f"running again in {running[len(running) // 2]:.1f} s"
        )
    return Row(
        notes=notes,
        scenario=scenario,
        faults=len(faults.events),
        submitted=len(audits),
        succeeded=sum(audit.status == "succeeded" for audit in audits),
        failed=dict(Counter(_reason(audit.error) for audit in audits if audit.status == "failed")),
        stuck=sum(audit.stuck for audit in audits),
        duplicated=sum(audit.duplicated for audit in audits),
        missing=sum(audit.missing for audit in audits),
        orphans=orphans,
        longest_recovery_s=None if recovery is None else round(recovery, 1),
        longest_to_running_s=None if to_running is None else round(to_running, 1),
    )


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f}"


def print_table(rows: list[Row]) -> None:
    headers = ["scenario", "faults", "submitted", "succeeded", "failed (reasons)", "stuck", "duplicated", "missing"]
    headers += ["orphan files", "longest recovery (s)", "longest until running again (s)"]
    table = [headers]
    for row in rows:
        failed = sum(row.failed.values())
        reasons = ", ".join(f"{count} {reason}" for reason, count in row.failed.items())
        table.append(
            [row.scenario, row.faults, row.submitted, row.succeeded, f"{failed} ({reasons})" if failed else "0"]
            + [row.stuck, row.duplicated, row.missing, row.orphans]
            + [_seconds(row.longest_recovery_s), _seconds(row.longest_to_running_s)]
        )
    widths = [max(len(str(line[i])) for line in table) for i in range(len(headers))]
    for n, line in enumerate(table):
        print("| " + " | ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (width + 2) for width in widths) + "|")


def total_row(rows: list[Row]) -> Row:
    failed: Counter[str] = Counter()
    for row in rows:
        failed.update(row.failed)
    recoveries = [row.longest_recovery_s for row in rows]
    to_running = [row.longest_to_running_s for row in rows]
    return Row(
        scenario="all",
        faults=sum(row.faults for row in rows),
        submitted=sum(row.submitted for row in rows),
        succeeded=sum(row.succeeded for row in rows),
        failed=dict(failed),
        stuck=sum(row.stuck for row in rows),
        duplicated=sum(row.duplicated for row in rows),
        missing=sum(row.missing for row in rows),
        orphans=sum(row.orphans for row in rows),
        longest_recovery_s=None if None in recoveries else max(recoveries, default=0.0),
        longest_to_running_s=None if None in to_running else max(to_running, default=0.0),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50, help="worker SIGKILLs in the server mode")
    parser.add_argument("--embedded-kills", type=int, default=5, help="worker SIGKILLs in the embedded mode")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--skip-server", action="store_true")
    parser.add_argument("--skip-embedded", action="store_true")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="t2i-chaos-"))
    print(f"fault suite in {root} (logs under logs/)", flush=True)
    from ml_engine.pipelines.tiny import save_tiny_pipeline

    tiny = root / "tiny-model"
    save_tiny_pipeline(str(tiny))
    rows: list[Row] = []
    started = time.monotonic()
    if not args.skip_server:
        from tests.chaos.scenarios import server_scenarios

        rows += [make_row(*result) for result in server_scenarios(root / "server", tiny, args.kills, args.seed)]
    if not args.skip_embedded:
        from tests.chaos.embedded import embedded_worker_kills

        jobs = max(4, args.embedded_kills + 1)
        run = embedded_worker_kills(
            var_dir=root / "embedded" / "var", tiny_model_dir=tiny, jobs=jobs, kills=args.embedded_kills,
            seed=args.seed,
        )  # fmt: skip
        name = f"embedded: {args.embedded_kills} worker SIGKILLs"
        row = make_row(name, run.audits, run.faults, run.watch, len(run.orphans))
        row.notes.append(f"web answered {run.web_answered} probes, {len(run.web_failures)} failed")
        row.notes.append(f"Ctrl-C exit code {run.exit_code}")
        rows.append(row)
    rows.append(total_row(rows))
    print(f"\nfault suite, seed {args.seed}, {time.monotonic() - started:.0f} s:\n")
    print_table(rows)
    for row in rows:
        for note in row.notes:
            print(f"  {row.scenario}: {note}")
    if args.json:
        args.json.write_text(json.dumps([asdict(row) | {"clean": row.clean} for row in rows], indent=2))
    return 0 if all(row.clean for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
