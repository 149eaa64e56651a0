"""`make bench`: every benchmark, then docs/benchmarks.md with what they measured.

The page says when and on what machine (cores, memory, load before and after), and gives
each figure with its spread, the goal beside it and whether it was met. Benchmarks run
one after another in their own processes; PostgreSQL is measured too when a server
answers at BENCH_POSTGRES_URL (default: the local one); the Telegram benchmark, about
twenty minutes on SQLite, runs on PostgreSQL with --telegram-postgres. The chat during
the week's check (50 members on SQLite, 50 and 1,000 on PostgreSQL), the scaling
columns (20 to 1,000 members) and the Kakao soak add about forty-five minutes.

    .venv/bin/python benchmarks/report.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "benchmarks.md"


def machine() -> str:
    memory = next((line.split()[1] for line in open("/proc/meminfo")
                   if line.startswith("MemTotal")), "0")
    return (f"{os.cpu_count()} cores, {int(memory) / 2**20:.0f} GiB memory, "
            f"Python {platform.python_version()}, {platform.system()} {platform.machine()}")


def load() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def postgres() -> str:
    url = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@localhost/postgres")
    ready = subprocess.run(["pg_isready", "-q", "-d", url], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return url if ready.returncode == 0 else ""


def run(script: str, *args: str) -> dict[str, Any] | str:
    """One benchmark; its JSON figures when it writes them, else what it printed."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        json_args = ["--json", out.name]
        print(f"== {script} {' '.join(args)}", flush=True)
        done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args,
                               *json_args], cwd=ROOT, capture_output=True, text=True,
                              check=False)
        print(done.stdout, flush=True)
        if done.returncode != 0:
            raise SystemExit(f"{script} failed:\n{done.stderr[-3000:]}")
        if json_args:
            return json.loads(Path(out.name).read_text())
        return done.stdout


def spread(values: list[float], digits: int = 2) -> str:
    return (f"{statistics.median(values):.{digits}f} "
            f"({min(values):.{digits}f}–{max(values):.{digits}f})")


def kakao_rows(result: dict[str, Any]) -> list[str]:
    rows = []
    for row in result["rows"]:
        rows.append(
            f"| {row['lines']:,} lines, {row['links']:,} links ({result['database']}) | "
            f"{spread(row['product'])} | {spread(row['peer'])} | {row['lines_per_s']:,.0f} | "
            f"{row['ratio']:.2f}x | ≤ {result['goal']}x | "
            f"{'met' if row['met'] else '**missed**'} |")
    return rows


def telegram_rows(result: dict[str, Any]) -> list[str]:
    rows = []
    goals = result["goals"]
    for row in result["rows"]:
        runs = row["runs"]
        product, peer = runs["product"], runs["peer"]
        rows.append(
            f"| {row['users']} | `{row['path']}` ({result['database']}) | "
            f"{spread([r['rate'] for r in product], 1)} | "
            f"{spread([r['rate'] for r in peer], 1)} | "
            f"{spread([r['p99'] for r in product], 0)} | {spread([r['p99'] for r in peer], 0)} | "
            f"{statistics.median(r['cpu'] for r in product):.1f} / "
            f"{statistics.median(r['cpu'] for r in peer):.1f} | "
            f"{statistics.median(r['peak_mb'] for r in product):.0f} / "
            f"{statistics.median(r['peak_mb'] for r in peer):.0f} | "
            f"{row['throughput_ratio']:.2f}x (≥ {goals['throughput']}) | "
            f"{row['p99_ratio']:.2f}x (≤ {goals['p99']}) | "
            f"{'met' if row['met'] else '**missed**'} |")
    return rows


def verification_rows(result: dict[str, Any]) -> list[str]:
    rows = []
    goals = result["goals"]
    for row in result["rows"]:
        goal = goals.get(f"{row['faults']:g}")
        checks = [] if goal is None else [row["ratio"] <= goal]
        if row["members"] >= 1000 and row["database"] == "postgresql":
            checks += [row["peak_mb"] < 1024, row["write_s"] < 60]
        wanted = [f"≤ {goal}x" if goal is not None else "",
                  "< 1 GB, < 60 s" if row["members"] >= 1000
                  and row["database"] == "postgresql" else ""]
        verdict = "" if not checks else "met" if all(checks) else "**missed**"
        rows.append(
            f"| {row['members']:,} ({row['posts']:,} posts, {row['pairs']:,} pairs) | "
            f"{row['database']} | {row['faults']:.0%} | {row['requests']:,} / "
            f"{row['minimum']:,} | {row['ratio']:.3f}x | {row['runs']} | "
            f"{row['settled']:,} / {row['wrong']} / {row['hidden']:,} | "
            f"{row['per_settled']:.3f} | {helpers_cell(row)} | {row['helper_hours_week']:,.0f} | "
            f"{row['write_s']:.1f} ({row['writes']:,}) | {row['final_real_s']:.0f} | "
            f"{row['peak_mb']:.0f} | "
            f"{' '.join(w for w in wanted if w)} | {verdict} |")
    return rows


def helpers_cell(row: dict[str, Any]) -> str:
    """The fewest helpers found, the final check's time with them, and the other counts
    tried (those below it ran past the hour, those above it did not)."""
    others = [n for n in row.get("helpers_tried", []) if n != row["helpers"]]
    return (f"{row['helpers']:,} ({row['final_hours'] * 60:.0f} min"
            f"{', paused' if row['final_paused'] else ''}"
            f"{'' if row.get('fits', True) else ', **over the hour**'}"
            f"{'; also tried ' + ', '.join(f'{n:,}' for n in others) if others else ''})")


WEEK_KINDS = (("author", "author reads"), ("check_now", "members' checks"),
              ("refresh", "daily refreshes"), ("final", "the final check"),
              ("recheck", "re-checks after it"))
WEEK_GOALS = (("settled", "settled"), ("results", "results ≤ 2 h"), ("no false", "0 false"),
              ("blocks", "blocks ≤ 15 min"), ("final", "final ≤ 1.1x"), ("week", "week ≤ 4x"))


def week_rows(result: dict[str, Any]) -> list[str]:
    """One row per goal week: what each entry point asked, against the bound, and
    each goal met or not."""
    rows = []
    for row in result["weeks"]:
        kinds = " / ".join(f"{row['by_kind'][k]:,}" for k, _ in WEEK_KINDS)
        zero = row["zero"]
        final = (f"{zero['final_ratio']:.2f}x" + ("" if zero["open_after_final"] == 0 else
                                                  f" ({zero['open_after_final']:,} left open)"))
        out = row["results_hours"]
        goals = ", ".join(f"{label} {'met' if row['goals'][key] else '**missed**'}"
                          for key, label in WEEK_GOALS)
        rows.append(
            f"| {row['members']} ({row['posts']} posts, {row['debts']:,} debts; "
            f"{result['database']}) | {row['helpers']} | {row['faults']:.0%} | "
            f"{row['requests']:,} ({kinds}) | {row['bound']:,} | {final} | "
            f"{row['week_ratio']:.2f}x | {row['block_minutes']:.0f} ({row['blocks']}) | "
            f"{'never' if out is None else f'{out:.2f}'} | {row['settled']:,} / {row['open']:,}"
            f" / {row['hidden']:,} | {row['false']:,} ({row['stale']:,}) | {goals} |")
    return rows


def scaling_rows(result: dict[str, Any]) -> list[str]:
    """Requests a week with the helpers found; the fewest helpers for which every goal
    held, and for those more helpers can bring (settled, results in time, no long
    block); how the figure was obtained."""
    rows = []
    for row in result["scaling"]:
        if row.get("estimated"):
            rows.append(f"| {row['members']:,} | about {row['requests']:,} "
                        f"({row['helpers']} helpers) | {row['bound']:,} | | about "
                        f"{row['helpers']} | | {row['how']} |")
            continue
        reads = row["helpers_for_reads"]
        needed = row["helpers_needed"]
        missed = ", ".join(row["missed"]) or "none"
        tried = ", ".join(str(n) for n in row["tried"])
        found = reads if reads is not None else f"not at {tried}" if len(row["tried"]) == 1 \
            else f"none up to {max(row['tried'])}"
        rows.append(
            f"| {row['members']:,} | {row['requests']:,} ({row['helpers']} helpers) | "
            f"{row['bound']:,} | {'none' if needed is None else needed} | "
            f"{found} | "
            f"{missed} | {row['how']}"
            f"{'' if row['how'] != 'searched' else ' (tried ' + tried + ')'} |")
    return rows


CHECK_NOW = {"one": "one member's check now", "four": "four members' check now at once",
             "refresh": "the refresh of the open debts"}


def check_now_rows(result: dict[str, Any]) -> list[str]:
    goals = result["goals"]
    rows = []
    for row in result["rows"]:
        name = row["scenario"]
        limits = {"one": [("s", goals["one_s"]), ("MB", goals["one_mb"])],
                  "four": [("MB", goals["four_mb"])],
                  "refresh": [("MB", goals["refresh_mb"])]}[name]
        figures = {"s": row["seconds"], "MB": row["above_mb"]}
        met = all(figures[unit] < limit for unit, limit in limits)
        rows.append(
            f"| {CHECK_NOW[name]} | {sum(row['posts']):,} / {sum(row['expected']):,} | "
            f"{row['seconds']:.2f} | {row['above_mb']:.0f} | {row['idle_mb']:.0f} | "
            f"{', '.join(f'< {limit:g} {unit}' for unit, limit in limits)} | "
            f"{'met' if met else '**missed**'} |")
    return rows


def web_rows(result: dict[str, Any]) -> list[str]:
    rows = []
    for row in result["rows"]:
        goal = row["goal_ms"]
        rows.append(
            f"| `{row['path']}` ({result['database']}) | {spread(row['ms'], 1)} | "
            f"{row['bytes'] / 1024:.0f} KB | {row['ratio']:.1f}x | "
            f"{'' if goal is None else f'< {goal:.0f} ms'} | "
            f"{'' if row['met'] is None else 'met' if row['met'] else '**missed**'} |")
    return rows


def load_rows(result: dict[str, Any]) -> list[str]:
    rows = []
    for label, run in result["phases"].items():
        readers = f"{run['readers']} readers" if run["readers"] else "no readers"
        cache = f", cache {run['cache_seconds']:.0f} s" if run["readers"] else ""
        rows.append(
            f"| {label}: {readers}{cache} ({result['database']}) | {run['requests']} | "
            f"{run['p50_s']:.3f} | {run['p99_s']:.3f} | {run['max_s']:.3f} | "
            f"{run['ratio_to_idle']:.1f}x | {run['pages']} | {run['board_computed']} | "
            f"< {result['goal_p99_s']:.0f} s | {'met' if run['met'] else '**missed**'} |")
    return rows


def soak_rows(result: dict[str, Any]) -> list[str]:
    met = result["invalid"] == 0 and result["p99"] < result["goal_p99"]
    return [f"| {result['users']} | {result['sent']:,} in {result['seconds']:.0f} s | "
            f"{result['answered']:,} | {result.get('later', 0):,} | {result['invalid']} | "
            f"{result['p50']:.3f} | "
            f"{result['p99']:.3f} | {result['max']:.3f} | "
            f"{result['uploads_answered']} / {result['uploads']} | "
            f"0 invalid, p99 < {result['goal_p99']:g} s | {'met' if met else '**missed**'} |"]


PHASES = {"kakao": "Kakao", "telegram_5": "Telegram 5/s", "telegram_15": "Telegram 15/s",
          "telegram_30": "Telegram 30/s"}


def chat_rows(result: dict[str, Any]) -> list[str]:
    """A row per community size, database and transport: idle, then each check."""
    rows = []
    for size in result["sizes"]:
        by = {(r["phase"], r["mode"]): r for r in size["rows"]}
        for phase, label in PHASES.items():
            idle, cells, verdicts = by[(phase, "idle")], [], []
            for mode in ("final", "refresh"):
                busy = by[(phase, mode)]
                running = "" if busy["check_running"] else ", check ended"
                cells.append(f"{busy['p99']:.3f} ({busy['ratio']:.2f}x{running})")
                verdicts.append(f"{mode}: {'met' if busy['met'] else '**missed**'}")
            modes = ("idle", "final", "refresh")
            kakao = (" · ".join(f"{by[(phase, m)]['over_5s']} / {by[(phase, m)]['callbacks']}"
                                for m in modes) if phase == "kakao" else "")
            reads = (" / ".join(f"{by[(phase, m)]['author_reads']}" for m in modes)
                     if phase == "kakao" else "")
            no_links = " / ".join(f"{by[(phase, m)]['p99_no_links']:.3f}" for m in modes)
            requests = " / ".join(f"{by[(phase, m)]['check_requests']:,.0f}"
                                  for m in ("final", "refresh"))
            rows.append(
                f"| {size['members']:,} ({size['database']}) | {label} | "
                f"{idle['p99']:.3f} | {' | '.join(cells)} | "
                f"{no_links} | {requests} | "
                f"{kakao} | {reads} | ≤ {size['goal']}x | {', '.join(verdicts)} |")
    return rows


def scale_rows(result: dict[str, Any]) -> list[str]:
    return [f"| {row['members']:,} ({row['database']}) | {row['idle_mb']:.0f} / "
            f"{row['chat_peak_mb']:.0f} / {row['peak_mb']:.0f} | "
            f"{row['status_p50_ms']:.0f} / {row['status_p99_ms']:.0f} | {row['week_ms']:.0f} | "
            f"{row['check']} in {row['check_s']:.0f} s ({row['check_requests']:,} requests, "
            f"{row['helpers']} helpers) | see the week benchmark | see the week benchmark |"
            for row in result["rows"]]


CHAT_TEXT = [
    "## Chat during the week's check (benchmarks/chat_during_checks.py)",
    "",
    "The bot is `autogram run`'s own `bot.app.run` in a process of its own (Telegram "
    "polling the Bot API emulator with the 30/s send cap on, the Kakao endpoint and the "
    "web pages on one app, the scheduler) on a fresh copy of a seeded week, its "
    "Instagram the simulated one with 0.3-1 s a request, one helper per ten members "
    "(at least four) paced as in production (150 requests an hour, bursts of 8). The "
    "week is one the product's own reads left (benchmarks/seed_week.py `seed_read`): "
    "each member's comment on each post has its time (early-leaning, 4% after the "
    "cutoff, the 5% non-compliant never), last week was read 3 h before its deadline "
    "and this week 12 h ago, so both checks find open debts and read them (newer-only "
    "reads from the kept cursors). Busy: the final check (last week's, which the "
    "scheduler starts as the bot starts, as it catches up) or the daily refresh "
    "(`WeeklyJobs.refresh`, after last week's final check). Chat, one after another in "
    "each run: Kakao at 5 requests a second, then Telegram at 5, 15 and 30 messages a "
    "second (open loop; 내 현황, /status, /help and a link handed in, in turn). Runs "
    "alternate idle, final and refresh on a fresh database each; p99 in seconds, the "
    "median over the runs, and its ratio to idle (\"check ended\": the check was not "
    "running at the phase's end in every run). Check requests: the check's Instagram "
    "requests during the phase (median), final / refresh. Kakao: answers past 5 s / "
    "through the callback, idle · final · refresh. Author reads: the links (Kakao and "
    "Telegram, over the runs) whose author was read at submission (a free helper), "
    "idle / final / refresh.",
    "",
    "| members (db) | chat | idle p99 | final check p99 | refresh p99 | p99 without links "
    "(idle / final / refresh) | check requests | Kakao > 5 s / callback | author reads "
    "| goal | |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
]

SCALE_TEXT = [
    "## One deployment by community size (benchmarks/scale.py)",
    "",
    "A week with 95% compliance and every verdict present; one bot process as above "
    "(Instagram without latency). Memory: VmHWM of the process idle (started, helper "
    "pool loaded) / after 300 Kakao /status, the week page and some Telegram / after "
    "the daily refresh (every post has an open debt: the 5% who comment on nothing), "
    "cut after a minute. /status: Kakao, one member after another, p50 / p99 ms. "
    "Requests a week and helpers needed come from the whole-week benchmark "
    "(benchmarks/week.py).",
    "",
    "| members | MB idle / chat / refresh | /status p50 / p99 ms | /week ms | refresh | "
    "requests a week | helpers needed |",
    "|---|---|---|---|---|---|---|",
]

SOAK_TEXT = [
    "## KakaoTalk soak (benchmarks/kakao_soak.py)",
    "",
    "`autogram run` on PostgreSQL; members with their posts of last week and this week "
    "and every verdict (their to-do lists are real) send 내 현황, 결과, /me, /help, a "
    "link and a bad link to the Kakao endpoint, spread evenly, while Telegram users "
    "upload Instagram exports and one logs in to an unreachable Instagram. \"Later\": "
    "answers that only said the result comes with the next message (past the reply "
    "budget, and these requests carry no callback URL).",
    "",
    "| members | requests | answered | later | invalid | p50 s | p99 s | max s "
    "| uploads answered | goal | |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
]


def week_section(week: list[dict[str, Any]]) -> list[str]:
    """The whole-week benchmark: what its world models, how the bound is computed, the
    goal weeks side by side and the scaling table."""
    return [
        "## A whole week on a realistic Instagram (benchmarks/week.py)",
        "",
        "The world (benchmarks/instagram_world.py, independent of the product's simulated "
        "Instagram): members hand in 2-3 posts each, Monday to Saturday at random times; "
        "stable user pks, a few members renamed mid-week; comment pks growing with time, "
        "each with `created_at_utc`; each owed member comments by the deadline with the "
        "compliance rate (90-95 %, spread over the days after the post, early-leaning), "
        "of the rest half late (within 40 h after the cutoff) and half never; some twice, "
        "a few only replying to someone else's comment (a reply counts); fans comment; "
        "the owner thanks in replies, members now and then reply; a twelfth of the posts "
        "hold hidden comments (counted, never listed); one or two collab posts. Bodies as "
        "the mobile API sends them, 15 comments a page, the first page the newest, "
        "`max_id` older and `min_id` newer, threads both ways, `usernameinfo`; the world "
        "answers as of the virtual time asked. Throttling per helper account: over 200 "
        "requests in a sliding hour or over 40 in five minutes brings a sticky 15-minute "
        "block (\"Please wait a few minutes\", 429, every request during it counted); "
        "0.3-1 s latency; at 5 % faults a share of requests fails with a bare 429, a 502, "
        "rarely `feedback_required` or `challenge_required` (the account is out until "
        "the benchmark logs it in again, an hour later, as an admin would).",
        "",
        "The product runs its own week on a virtual clock: the instagrapi gateway with "
        "only its transport replaced (its `_call`, `map_error`, pacing and helper pool "
        "are measured), links handed in through the production submission path (the "
        "author read when a helper is free), three members' \"check now\" a day, and "
        "every job of the real Schedule at its cron times (daily refresh, the final "
        "check at the deadline plus its delay, the hourly retry of an unfinished final, "
        "the refreshes after it) until every debt is settled or 48 h after the final. "
        "Requests are tagged by the entry point that sent them and counted by the world.",
        "",
        "Lower bound, from the truth at the comment deadline: per post, the comment pages "
        "from the newest (each once) up to the one showing the last owed commenter when "
        "everyone owed commented, every page otherwise; plus, for an owed member shown "
        "only deep in a thread, that thread's pages up to theirs. The post's info is not "
        "counted (read at submission). Final: the final check's requests over the bound "
        "in the same week at 0 % faults (met only if that final check left nothing "
        "open); week: every request of the week over the bound. Verdicts are judged as "
        "the product's results read them (a \"missing\" read before the cutoff is a "
        "to-do) against the truth when the run ends: settled / open / unknown because "
        "of hidden comments (apart); false: settled and wrong, or a co-author called missing; "
        "stale: false ones that were true when read (a late comment came after the "
        "product's last read of the post).",
        "",
        "| members | helpers | faults | requests (author / checks / refreshes / final / "
        "re-checks) | bound | final at 0 % | week ratio | longest block min (blocks) | "
        "results h after deadline | settled / open / hidden | false (stale) | goals |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *[row for result in week for row in week_rows(result)],
        "",
        "Scaling, 95 % compliance, 5 % faults: the fewest helpers with which the goals "
        "more helpers can bring held (settled, results within 2 h, no block over 15 min; "
        "searched doubling from 2, then halving the gap), the week's requests with them, "
        "the goals still missed there, and the fewest helpers for which every goal held "
        "(none: a goal no helper count brings, such as the week's ratio, was missed).",
        "",
        "| members | requests a week | bound | helpers, every goal | helpers, reads "
        "settled in time | goals missed there | how |",
        "|---|---|---|---|---|---|---|",
        *[row for result in week for row in scaling_rows(result)],
        "",
    ]


# Sections of the page measured by hand, not by `make bench`: kept as they are.
BY_HAND = ("## Test suite time",)


def measured_by_hand() -> list[str]:
    """The page's sections measured by hand (BY_HAND), carried over to the new page."""
    if not PAGE.exists():
        return []
    kept: list[str] = []
    keeping = False
    for line in PAGE.read_text().splitlines():
        if line.startswith("## "):
            keeping = line.startswith(BY_HAND)
        if keeping:
            kept.append(line)
    return [*kept, ""] if kept else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer runs and sizes (a look, not a record)")
    parser.add_argument("--telegram-postgres", action="store_true",
                        help="the Telegram benchmark on PostgreSQL too (it doubles its time)")
    args = parser.parse_args()
    started, before = datetime.now(UTC), load()
    server = postgres()
    runs = ["--runs", "2" if args.quick else "5"]
    kakao = [run("kakao_import.py", *runs, *(["--lines", "20000"] if args.quick else []))]
    if server:
        kakao.append(run("kakao_import.py", *runs, "--database-url", server,
                         *(["--lines", "20000"] if args.quick else [])))
    users = ["--users", "1", "50"] if args.quick else []
    telegram = [run("telegram_throughput.py", *runs, *users)]
    if server and args.telegram_postgres:
        telegram.append(run("telegram_throughput.py", *runs, *users, "--database-url", server))
    verification = [run("verification.py", *(["--members", "30", "300"] if args.quick else []))]
    if server:
        verification.append(run("verification.py", "--database-url", server,
                                *(["--members", "30", "300"] if args.quick else [])))
    week = [run("week.py", *(["--quick"] if args.quick else
                             ["--scaling", "20", "30", "50", "100", "--estimate", "300",
                              "1000"]))]
    if server:
        week.append(run("week.py", "--database-url", server, *(["--quick"] if args.quick
                                                                 else [])))
    check_now = [run("check_now.py", "--database-url", server)] if server else []
    rounds = ["--rounds", "10" if args.quick else "30"]
    board = [run("web_board.py", *rounds)]
    if server:
        board.append(run("web_board.py", *rounds, "--database-url", server))
    seconds = ["--seconds", "8" if args.quick else "20"]
    crowd = [run("web_board_load.py", *seconds)]
    if server:
        crowd.append(run("web_board_load.py", *seconds, "--database-url", server))
    soak = [run("kakao_soak.py", "--server", server, *(
        ["--users", "50", "--requests", "300", "--seconds", "20", "--uploads", "2"]
        if args.quick else []))] if server else []
    rounds = ["--runs", "1", "--seconds", "4"] if args.quick else ["--runs", "2"]
    chats = [run("chat_during_checks.py", "--members", "50", *rounds)]
    if server:
        chats.append(run("chat_during_checks.py", "--members", "50",
                         *([] if args.quick else ["1000"]), *rounds, "--database-url", server))
    sizes = ["20", "100"] if args.quick else ["20", "30", "50", "100", "300", "1000"]
    scaling = run("scale.py", "--members", *sizes,
                  *(["--calls", "100", "--check-seconds", "20"] if args.quick else []),
                  *(["--database-url", server] if server else []))
    after = load()

    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` ({'quick' if args.quick else 'full'} run) on "
        f"{started:%Y-%m-%d %H:%M} UTC. Machine: {machine()}. Load average (1 / 5 / 15 min) "
        f"before: {before}; after: {after}. Figures are medians with (min–max) over the "
        "alternating runs; ratios are what to read on a noisy machine.",
        "",
        "## KakaoTalk export import (benchmarks/kakao_import.py)",
        "",
        "The product (parse in the upload worker, rules, one bulk INSERT) against a plain "
        "regex parse and one `INSERT ... ON CONFLICT DO NOTHING` written in the benchmark; "
        "an Android export of 300 members, most links accepted. Seconds per import.",
        "",
        "| workload | product s | peer s | product lines/s | ratio | goal | |",
        "|---|---|---|---|---|---|---|",
        *[row for result in kakao for row in kakao_rows(result)],  # type: ignore[arg-type]
        "",
        "## Telegram throughput (benchmarks/telegram_throughput.py)",
        "",
        "The product against a plain python-telegram-bot bot doing the same database work "
        "per update (look up the person, read and write the conversation row, the path's "
        "own work, the same keyboard), each in its own process, the Bot API emulator and "
        "the users in a third.",
        "",
        "| users | path | product updates/s | peer updates/s | product p99 ms | peer p99 ms "
        "| CPU s product / peer | peak MB product / peer | throughput | p99 | |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *[row for result in telegram for row in telegram_rows(result)],  # type: ignore[arg-type]
        "",
        "## Weekly verification (benchmarks/verification.py)",
        "",
        "The check service through the instagrapi adapter, over HTTP to a fake Instagram "
        "in its own process (pages of 20 from the middle in both directions, repeated "
        "comments, outsiders, replies and long threads, hidden comments, 429s at the "
        "fault share), with the production hourly budget "
        f"({verification[0]['budget']} requests a helper), pacing and cooldowns on a "
        "virtual clock. Requests are counted by the server, the minimum comes from its "
        "truth (each post's info, pages and thread pages once). Runs: the final check, "
        "then a re-check of open debts an hour later until every verdict that can be "
        "settled is. Verdicts: settled / wrong (against the truth) / left unknown by "
        "hidden comments (Instagram counts comments it never lists: a gap may be a "
        "member's own filtered comment, so those debts are never called missing). "
        "Helpers: the fewest found that finish the final check within an hour, and its "
        "time with them: the search starts from as many as the hourly budget needs (the "
        "refused requests included) and, when that final check ran past the hour or "
        "paused (the budget ran out first), runs again with proportionally more, then "
        "halves the gap (also tried: below the count given, past the hour; above it, in "
        "time; the stress week is run once); helper-hours a week: "
        "the final check and one refresh a day, each at most as large. Write s: real "
        "seconds with at least one verdict transaction open (BEGIN to COMMIT; posts "
        "whose reads finish together share one), and how many there were; the final "
        "check's real seconds beside it (the reads, which the writes share the process "
        "with).",
        "",
        "| members | db | faults | requests / minimum | ratio | runs | verdicts settled / "
        "wrong / hidden | requests a settled verdict | helpers (final check) | "
        "helper-hours a week | write s (transactions) | final check real s | peak MB | "
        "goal | |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *[row for result in verification for row in verification_rows(result)],  # type: ignore[arg-type]
        "",
        *week_section(week),
        "## Check now and the refresh in a settled week (benchmarks/check_now.py)",
        "",
        "A 1,000-member PostgreSQL week late on (2,500 posts, about 2.5 million verdict "
        "rows, nearly all \"done\"; about four open debts a member on the 40 newest "
        "posts, and 3 posts never read), on the simulated Instagram with no latency: the "
        "product's own cost. Each scenario in a fresh process; peak RSS above the idle "
        "process (services built, pool loaded). Posts read / open posts the world says.",
        "",
        "| scenario | posts read / open | s | MB above idle | idle MB | goal | |",
        "|---|---|---|---|---|---|---|",
        *[row for result in check_now for row in check_now_rows(result)],  # type: ignore[arg-type]
        "",
        "## The week board on the web (benchmarks/web_board.py)",
        "",
        "A 300-member week (750 posts, about 224,000 owed comments, each with a verdict) "
        "served by the product's web app from a warm process over HTTP: the live week "
        "(`/week`), the same week once recorded (a finished week), the picture, and "
        "`/healthz` on the same app as the baseline. Milliseconds a request.",
        "",
        "| page | ms | size | ratio to /healthz | goal | |",
        "|---|---|---|---|---|---|",
        *[row for result in board for row in web_rows(result)],  # type: ignore[arg-type]
        "",
        "## The board's crowd and the chat (benchmarks/web_board_load.py)",
        "",
        "Kakao members sending `내 현황` to the skill endpoint (each again 0.25 s after "
        "its answer) while 100 readers, in a process of their own, fetch `/week` of the "
        "300-member week (each again a second after its page), on one web app: idle (no "
        "readers), with every fetch computing the board (as before the board's cache) "
        "and with the cache. Kakao latency in seconds; the p99 against the idle p99.",
        "",
        "| phase | Kakao requests | p50 s | p99 s | max s | p99 to idle | pages read | "
        "boards computed | goal | |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *[row for result in crowd for row in load_rows(result)],  # type: ignore[arg-type]
        "",
        *CHAT_TEXT,
        *[row for result in chats for row in chat_rows(result)],  # type: ignore[arg-type]
        "",
        *SCALE_TEXT,
        *scale_rows(scaling),  # type: ignore[arg-type]
        "",
        *SOAK_TEXT,
        *[row for result in soak for row in soak_rows(result)],  # type: ignore[arg-type]
        "",
        *measured_by_hand(),
    ]
    PAGE.write_text("\n".join(lines))
    print(f"wrote {PAGE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
