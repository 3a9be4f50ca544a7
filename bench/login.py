"""What one login costs: argon2id parameters against the 50-150 ms a sign-in should take here.

One run measures, on this machine:

- a grid of argon2id parameters (time cost 1-4 × memory 19, 46, 64 and 128 MiB, parallelism 1):
  the median time to hash a password and to verify one (a login is one verification), marking
  the candidates whose verification takes 50-150 ms; the cells take turns, round after round, so
  that other work on the machine slows them alike;
- the whole sign-in path, :func:`lawful.users.service.sign_in` in a unit of work on SQLite (the
  account look-up, the throttle queries, the verification, the login record, a new session and
  the commit with its processing log), with the parameters of the configured settings (and with
  the recommended ones when those differ), against the bare verification with the same
  parameters, which is its limit.

The recommendation is the candidate with the most memory (what makes guessing on GPUs costly;
RFC 9106 prefers one pass over much memory to many passes over little) whose whole sign-in, its
verification plus the measured rest of the path, stays within the band, nearest to 100 ms.

    .venv/bin/python bench/login.py               # the grid, 7 runs a cell
    .venv/bin/python bench/login.py --runs 3      # quicker, noisier
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from argon2 import PasswordHasher
from rich.console import Console
from rich.status import Status
from rich.table import Table

from common import markdown
from lawful.customers import service as customers
from lawful.customers.models import CustomerKind
from lawful.data.db import Database
from lawful.data.migrate import upgrade
from lawful.data.purpose import Actor
from lawful.policy.loader import load_policy
from lawful.settings import Settings
from lawful.users import service
from lawful.users.models import AccountStatus, PrincipalKind, User, UserRole

LOW, HIGH = 0.050, 0.150
TIME_COSTS = (1, 2, 3, 4)
MEMORY_KIB = (19 * 1024, 46 * 1024, 64 * 1024, 128 * 1024)
PASSWORD = "correct horse battery staple"
ACTOR = Actor.system("bench")
AUTH = Actor.system("authentication")

out = Console()


@dataclass(frozen=True)
class Cell:
    time_cost: int
    memory_kib: int
    hash_s: float
    verify_s: float

    @property
    def candidate(self) -> bool:
        return LOW <= self.verify_s <= HIGH


def measure_grid(runs: int, rng: random.Random, status: Status) -> list[Cell]:
    """Hash and verify times of every cell, medians of ``runs``; the cells take turns (a round
    visits each once, in a shuffled order), so that a noisy neighbour hurts them alike."""
    params = [(t, m) for t in TIME_COSTS for m in MEMORY_KIB]
    hashers = {p: PasswordHasher(time_cost=p[0], memory_cost=p[1], parallelism=1) for p in params}
    stored = {p: ph.hash(PASSWORD) for p, ph in hashers.items()}  # also a warm-up
    hash_s: dict[tuple[int, int], list[float]] = {p: [] for p in params}
    verify_s: dict[tuple[int, int], list[float]] = {p: [] for p in params}
    for round_ in range(runs):
        status.update(f"measuring the grid: round {round_ + 1} of {runs}")
        order = params[:]
        rng.shuffle(order)
        for p in order:
            ph = hashers[p]
            start = time.perf_counter()
            ph.hash(PASSWORD)
            hash_s[p].append(time.perf_counter() - start)
            start = time.perf_counter()
            ph.verify(stored[p], PASSWORD)
            verify_s[p].append(time.perf_counter() - start)
    return [
        Cell(t, m, statistics.median(hash_s[(t, m)]), statistics.median(verify_s[(t, m)])) for t, m in params
    ]


def recommend(cells: list[Cell], path_s: float) -> Cell | None:
    """The candidate with the most memory whose whole sign-in (its verification plus ``path_s``,
    the rest of the sign-in path) also stays within the band, nearest to 100 ms."""
    fitting = [c for c in cells if c.candidate and c.verify_s + path_s <= HIGH]
    if not fitting:
        return None
    return max(fitting, key=lambda c: (c.memory_kib, -abs(c.verify_s + path_s - 0.100)))


@dataclass(frozen=True)
class SignInResult:
    time_cost: int
    memory_kib: int
    verify_s: float
    sign_in_s: float


def measure_sign_in(settings: Settings, runs: int, workdir: Path) -> SignInResult:
    """The full sign-in of a user on a fresh SQLite file, against the bare verify, both medians."""
    path = workdir / f"login-{settings.argon2_time_cost}-{settings.argon2_memory_kib}.db"
    upgrade(f"sqlite:///{path}")
    db = Database(f"sqlite:///{path}", load_policy())
    cfg = service.AuthConfig.from_settings(settings)
    stored = cfg.hasher.hash(PASSWORD)
    email = "anna.bakker@tulpenveld.example"
    with db.unit_of_work("contract", ACTOR) as session:
        customer = customers.create_customer(
            session,
            kind=CustomerKind.company,
            legal_name="Tulpenveld Software B.V.",
            billing_email="billing@tulpenveld.example",
        )
        session.flush()
        session.add(
            User(
                customer_id=customer.id,
                email=email,
                name="Anna Bakker",
                role=UserRole.admin,
                status=AccountStatus.active,
                password_hash=stored,
            )
        )

    def sign_in() -> None:
        with db.unit_of_work("contract", AUTH) as session:
            service.sign_in(
                session, kind=PrincipalKind.user, email=email, password=PASSWORD, ip="127.0.0.1", cfg=cfg
            )

    # alternate the two so that a noisy neighbour hurts both alike
    verify_samples: list[float] = []
    sign_in_samples: list[float] = []
    sign_in()
    for _ in range(runs):
        start = time.perf_counter()
        cfg.hasher.verify(stored, PASSWORD)
        verify_samples.append(time.perf_counter() - start)
        start = time.perf_counter()
        sign_in()
        sign_in_samples.append(time.perf_counter() - start)
    db.dispose()
    return SignInResult(
        settings.argon2_time_cost,
        settings.argon2_memory_kib,
        statistics.median(verify_samples),
        statistics.median(sign_in_samples),
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def mib(kib: int) -> str:
    return f"{kib // 1024} MiB"


def grid_rows(cells: list[Cell], best: Cell | None, defaults: tuple[int, int]) -> list[list[str]]:
    rows = []
    for c in cells:
        notes = []
        if c.candidate:
            notes.append("candidate")
        if c is best:
            notes.append("recommended")
        if (c.time_cost, c.memory_kib) == defaults:
            notes.append("current default")
        rows.append([str(c.time_cost), mib(c.memory_kib), ms(c.hash_s), ms(c.verify_s), ", ".join(notes)])
    return rows


def sign_in_rows(results: list[SignInResult]) -> list[list[str]]:
    return [
        [
            f"t={r.time_cost}, m={mib(r.memory_kib)}, p=1",
            ms(r.verify_s),
            ms(r.sign_in_s),
            ms(r.sign_in_s - r.verify_s),
            f"{r.verify_s / r.sign_in_s:.0%}",
            "yes" if LOW <= r.sign_in_s <= HIGH else "no",
        ]
        for r in results
    ]


GRID_HEADER = ["time cost", "memory", "hash ms (median)", "verify ms (median)", ""]
SIGN_IN_HEADER = [
    "parameters",
    "bare verify ms",
    "sign_in ms",
    "rest of the path ms",
    "verify share",
    "within 50-150 ms",
]


def rich_table(title: str, header: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title, title_justify="left")
    for i, name in enumerate(header):
        table.add_column(name, justify="right" if 0 < i < len(header) - 1 or name.endswith("ms") else "left")
    for row in rows:
        style = "bold green" if "recommended" in row[-1] else ("green" if "candidate" in row[-1] else None)
        table.add_row(*row, style=style)
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7, help="measurements per cell (median)")
    parser.add_argument("--sign-in-runs", type=int, default=15, help="sign-ins per parameter set (median)")
    args = parser.parse_args(argv)

    settings = Settings()
    defaults = (settings.argon2_time_cost, settings.argon2_memory_kib)
    out.print(
        f"[bold]argon2id login cost[/] — Python {platform.python_version()}, argon2-cffi "
        f"{version('argon2-cffi')}, {platform.machine()}, "
        f"median of {args.runs} runs a cell; configured: t={defaults[0]}, m={mib(defaults[1])}, "
        f"p={settings.argon2_parallelism}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    with out.status("measuring the grid") as status:
        cells = measure_grid(args.runs, random.Random(2026), status)
    configured = settings.model_copy(update={"argon2_parallelism": 1})
    with tempfile.TemporaryDirectory() as tmp, out.status("measuring the sign-in path"):
        results = [measure_sign_in(configured, args.sign_in_runs, Path(tmp))]
        path_s = results[0].sign_in_s - results[0].verify_s
        best = recommend(cells, path_s)
        if best is not None and (best.time_cost, best.memory_kib) != defaults:
            update = {"argon2_time_cost": best.time_cost, "argon2_memory_kib": best.memory_kib}
            results.append(
                measure_sign_in(configured.model_copy(update=update), args.sign_in_runs, Path(tmp))
            )
    grid = grid_rows(cells, best, defaults)

    out.print(rich_table("argon2id, parallelism 1: hash and verify", GRID_HEADER, grid))
    out.print(
        rich_table("The full sign-in against the bare verify (SQLite)", SIGN_IN_HEADER, sign_in_rows(results))
    )
    current = results[0]
    if LOW <= current.sign_in_s <= HIGH:
        verdict = (
            f"The configured parameters (t={defaults[0]}, m={mib(defaults[1])}) cost {ms(current.sign_in_s)} ms "
            "a sign-in: within 50-150 ms."
        )
    elif best is not None:
        verdict = (
            f"The configured parameters (t={defaults[0]}, m={mib(defaults[1])}) cost {ms(current.sign_in_s)} ms "
            f"a sign-in: outside 50-150 ms. Use argon2_time_cost={best.time_cost}, "
            f"argon2_memory_kib={best.memory_kib}, argon2_parallelism=1 "
            f"({ms(best.verify_s)} ms a verification, {ms(results[-1].sign_in_s)} ms a sign-in)."
        )
    else:
        verdict = "No cell of the grid verifies in 50-150 ms on this machine."
    out.print(verdict)
    out.print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print("\nMarkdown:\n")
    print(markdown(GRID_HEADER, grid))
    print()
    print(markdown(SIGN_IN_HEADER, sign_in_rows(results)))
    print()
    print(verdict)
    return 0


if __name__ == "__main__":
    sys.exit(main())
