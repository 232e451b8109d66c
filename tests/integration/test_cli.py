"""The offline tools the way an operator runs them: subprocesses, JSON lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def newsbot(*args: str, stdin: str = "", env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, input=stdin,
                          capture_output=True, text=True, check=False, timeout=120,
                          env={**os.environ, **(env or {})})


def test_match_json_lines_in_order_with_explanations() -> None:
    lines = [
        {"id": "a", "title": "US raises tariffs on Chinese steel", "summary": ""},
        {"id": "b", "title": "Local team wins the cup", "summary": "Nothing to see."},
        {"id": "c", "title": "China curbs rare earth exports", "summary": "Magnets too."},
    ]
    result = newsbot("match", stdin="\n".join(json.dumps(x) for x in lines)
                     + "\nnot json\n[1]\n")
    assert result.returncode == 0, result.stderr
    out = [json.loads(x) for x in result.stdout.splitlines()]
    assert [o.get("id") for o in out[:3]] == ["a", "b", "c"]
    assert "tariffs" in out[0]["topics"] and out[1]["topics"] == []
    assert "rare-earths" in out[2]["topics"]
    assert all("error" in o for o in out[3:])  # bad lines are reported, not fatal
    explained = newsbot("match", "--explain", stdin=json.dumps(lines[0]) + "\n")
    [record] = [json.loads(x) for x in explained.stdout.splitlines()]
    assert record["topics"] == out[0]["topics"]
    assert any(e["matched"] for e in record["explain"])


def test_stories_json_lines() -> None:
    lines = [
        {"id": "1", "title": "China raises tariffs on US goods to 125% as trade war escalates",
         "summary": "", "source": "Reuters", "published": "2025-04-11T08:00:00Z"},
        {"id": "2", "title": "China hits back with 125% tariffs on US goods", "summary": "",
         "source": "BBC", "published": "2025-04-11T08:20:00Z"},
        {"id": "3", "title": "Local team wins the cup", "summary": "",
         "published": "2025-04-11T08:30:00Z"},
        {"id": "4", "title": "no date"},
    ]
    result = newsbot("stories", stdin="\n".join(json.dumps(x) for x in lines) + "\n")
    assert result.returncode == 0, result.stderr
    out = [json.loads(x) for x in result.stdout.splitlines()]
    assert out[:3] == [{"id": "1", "story": "1"}, {"id": "2", "story": "1"},
                       {"id": "3", "story": "3"}]
    assert out[3]["id"] == "4" and "error" in out[3]


def test_feeds_table(tmp_path: Path) -> None:
    result = newsbot("feeds", env={"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"})
    assert result.returncode == 0, result.stderr
    assert "last success" in result.stdout and "BBC Business" in result.stdout
    assert "20 feeds, 0 failing or disabled" in result.stdout


def test_usage_errors_exit_2() -> None:
    assert newsbot().returncode == 2
    assert newsbot("digest").returncode == 2  # --chat is required
    assert newsbot("backtest", "--since", "soon").returncode == 2
