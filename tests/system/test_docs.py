"""Every shell example of the README and of ``docs/`` against a live ``make run``.

A block of ``$ command`` lines followed by their answers is run in one bash session per
document, in order (a variable set in one block is there in the next), and each answer is
checked: the same JSON shape and values (``…`` stands for any value), or the same text. A
block of bare commands is run when it can be here, dry-run with ``make -n`` when it is a
target this test cannot wait for, or named in ``NOT_HERE`` with the reason. Every inline
``make ...`` of the documents must be a target that ``make -n`` accepts. The stack is
``make run`` itself, on spare ports, with its own database and Redis, stopped at the end as a
person does, with Ctrl-C: within seconds, and without an error from make.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from deploy.processes import ROOT, answers, free_port, wait_until
from tests.support.databases import FreshDatabase, fresh_database
from tests.support.stack import RedisServer

pytestmark = pytest.mark.live

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ANY = "…"

NOT_HERE = {
    "make run": "the stack of this test is `make run` itself",
    "make test": "this is `make test`",
    "make lint": "CI runs it (.ci/run) before the tests",
    "cp .env.example .env": "it would overwrite this checkout's .env; tests/system/test_deploy.py checks .env.example",
    "docker compose up --build -d": "no Docker engine here; tests/system/test_deploy.py and test_images.py check it",
}
"""Commands of the documents this test does not run, and why."""

DRY_RUN = ("make load-ui", "make load LOAD_USERS=200", "make load KEY=", "make load LOAD_ARGS=")
"""Commands that run too long (or need a key the reader has): checked with ``make -n``."""


@dataclass
class Step:
    command: str
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    document: Path
    line: int
    steps: list[Step]
    transcript: bool
    """``$ command`` lines with their answers (else bare commands)."""


def _blocks(document: Path) -> list[Block]:
    blocks: list[Block] = []
    lines = document.read_text().splitlines()
    index = 0
    while index < len(lines):
        if lines[index].strip() != "```sh":
            index += 1
            continue
        start, body = index + 1, []
        index += 1
        while lines[index].strip() != "```":
            body.append(lines[index])
            index += 1
        transcript = any(line.startswith("$ ") for line in body)
        steps: list[Step] = []
        continued = False
        for line in body:
            if transcript and not continued and not line.startswith("$ "):
                steps[-1].expected.append(line)
                continue
            text = line[2:] if transcript and not continued else line
            if continued:
                steps[-1].command += "\n" + text
            elif text.strip():
                steps.append(Step(text))
            continued = line.endswith("\\")
        blocks.append(Block(document, start, steps, transcript))
    return blocks


def _bare(command: str) -> str:
    """A bare command without its trailing comment."""
    return command.split("  #")[0].strip()


def _matches(expected: Any, actual: Any) -> bool:
    if expected == ANY:
        return True
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(_matches(value, actual[key]) for key, value in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(_matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    if isinstance(expected, str) and ANY in expected:
        pattern = ".*".join(re.escape(part) for part in expected.split(ANY))
        return isinstance(actual, str) and re.fullmatch(pattern, actual) is not None
    return bool(expected == actual and type(expected) is type(actual))


def _answer_matches(expected: list[str], actual: str) -> bool:
    text = "\n".join(expected).strip()
    got = actual.strip()
    try:
        return _matches(json.loads(text), json.loads(got))
    except json.JSONDecodeError:
        return _matches(text, got)


@dataclass
class Run:
    """``make run`` on spare ports, and the environment a reader's shell would have."""

    port: int
    env: dict[str, str]
    proc: subprocess.Popen[str]
    database: FreshDatabase

    def localize(self, command: str) -> str:
        """``command`` as it reads for this stack: its port, its virtualenv."""
        for default, here in (
            ("localhost:8000", f"localhost:{self.port}"),
            ("127.0.0.1:8000", f"127.0.0.1:{self.port}"),
            (".run/8000/", f".run/{self.port}/"),
            (".venv/bin/", f"{self.env['VENV']}/bin/"),
        ):
            command = command.replace(default, here)
        return command


def _venv() -> str:
    """The virtualenv running this suite, as ``make``'s ``VENV`` (CI's second Python has its own)."""
    return os.path.relpath(sys.prefix, ROOT)


@pytest.fixture(scope="module")
def made_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    database = fresh_database("docs")
    server = RedisServer(persistent=False)
    server.start()
    port, dashboard = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database.url,
        "REDIS_URL": server.url,
        "VENV": _venv(),
        "PORT": str(port),
        "DASHBOARD_PORT": str(dashboard),
    }
    env.pop("MAKEFLAGS", None)
    env.pop("MAKELEVEL", None)
    log = tmp_path_factory.mktemp("make-run") / "make-run.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["make", "run"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
    run = Run(port, env, proc, database)
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/readyz"), timeout=120, what="make run ready")
        yield run
        # Ctrl-C, as a person stops it: the terminal sends SIGINT to the foreground group.
        stopped = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=15)
        took = time.monotonic() - stopped
        output = log.read_text()
        assert "Error" not in output.split("received SIGINT")[-1], output[-2000:]
        assert took < 6, took
        assert not answers(f"http://127.0.0.1:{port}/healthz")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        server.stop()


def _session(run: Run, blocks: list[Block]) -> list[tuple[Block, Step, str]]:
    """Run every step of ``blocks`` in one bash session; each step with what it printed."""
    steps = [(block, step) for block in blocks for step in block.steps]
    script = ["set -u", f"cd {shlex.quote(str(ROOT))}"]
    for index, (_, step) in enumerate(steps):
        script.append(f"printf '\\n@@step {index}@@\\n'")
        script.append(run.localize(step.command))
    done = subprocess.run(  # stderr too: a reader's terminal shows it (`tee /dev/stderr`)
        ["bash", "-c", "\n".join(script)],
        env=run.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    parts = re.split(r"\n@@step (\d+)@@\n", "\n" + done.stdout)
    printed = {int(parts[i]): parts[i + 1] for i in range(1, len(parts) - 1, 2)}
    assert len(printed) == len(steps), done.stdout[-2000:]
    return [(block, step, printed[index]) for index, (block, step) in enumerate(steps)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_transcript_answers_as_documented(made_run: Run, document: Path) -> None:
    transcripts = [block for block in _blocks(document) if block.transcript]
    wrong = [
        (f"{document.name}:{block.line}", step.command, step.expected, printed)
        for block, step, printed in _session(made_run, transcripts)
        if not _answer_matches(step.expected, printed)
    ]
    assert not wrong, json.dumps(wrong, indent=1, ensure_ascii=False)


def _bare_blocks() -> list[Block]:
    return [block for document in DOCUMENTS for block in _blocks(document) if not block.transcript]


@pytest.mark.parametrize("block", _bare_blocks(), ids=lambda block: f"{block.document.name}:{block.line}")
def test_every_bare_command_runs_or_says_why_not(made_run: Run, block: Block) -> None:
    """A block's commands in one bash (``set -euo pipefail``), but for those named in
    ``NOT_HERE`` and those dry-run (``DRY_RUN``)."""
    runnable = []
    for step in block.steps:
        command = _bare(step.command)
        if command in NOT_HERE:
            continue
        if command.startswith(DRY_RUN):
            args = shlex.split(command)[1:]
            dry = subprocess.run(["make", "-n", *args], cwd=ROOT, env=made_run.env, capture_output=True, text=True)
            assert dry.returncode == 0, (command, dry.stderr)
            continue
        runnable.append(made_run.localize(command))
    if not runnable:
        return
    env = {**made_run.env, "LOAD_SECONDS": "15"}  # `make load` for 15 s, not its 60
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + "\n".join(runnable)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, (runnable, done.stdout[-2000:], done.stderr[-2000:])
    if "make load" in runnable:  # Locust's summary is on stderr
        aggregated = [line for line in done.stderr.splitlines() if line.split()[:1] == ["Aggregated"]]
        assert aggregated, done.stderr[-3000:]
        assert " 0(0.00%) " in aggregated[0], done.stderr[-3000:]  # 50 users, 15 s: no failure


_INLINE_MAKE = re.compile(r"`(make [^`\[\]…]+)`")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_inline_make_command_is_a_target(document: Path) -> None:
    commands = set(_INLINE_MAKE.findall(document.read_text()))
    for command in commands:
        args = [arg for arg in shlex.split(command)[1:] if arg not in ("-s",)]
        env = {**os.environ, "TENANT": "x", "VENV": _venv()}
        dry = subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, env=env)
        assert dry.returncode == 0, (command, dry.stderr)


def test_make_superuser_without_a_terminal(made_run: Run) -> None:
    refused = subprocess.run(
        ["make", "superuser"], cwd=ROOT, env=made_run.env, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    assert refused.returncode == 2
    assert "set DJANGO_SUPERUSER_USERNAME, DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD" in refused.stderr
    env = {
        **made_run.env,
        "DJANGO_SUPERUSER_USERNAME": "ops",
        "DJANGO_SUPERUSER_EMAIL": "ops@example.com",
        "DJANGO_SUPERUSER_PASSWORD": "a long passphrase for the admin",
    }
    made = subprocess.run(["make", "superuser"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    assert made.returncode == 0, made.stderr
    with psycopg2.connect(made_run.database.url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT is_superuser FROM auth_user WHERE username = 'ops'")
        assert cursor.fetchone() == (True,)
