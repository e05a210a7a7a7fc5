"""``agentlab models check`` against a real scripted HTTP server and a dead port."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from agentlab.cli import app
from agentlab.llm.testing import ScriptedServer

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_models_check_reports_each_endpoint(server: ScriptedServer, tmp_path: Path) -> None:
    config = tmp_path / "models.yaml"
    config.write_text(
        f"- {{type: openai, name: good, model: scripted, base_url: '{server.base_url}'}}\n"
        "- {type: openai, name: down, model: gpt-4o, base_url: 'http://127.0.0.1:9/v1',\n"
        "   retry: {max_attempts: 1}}\n"
    )
    result = CliRunner().invoke(
        app, ["models", "check", str(config), "--pricing", str(CONFIGS / "pricing.yaml")]
    )
    assert result.exit_code == 1  # one endpoint failed
    assert "good" in result.output and "ok" in result.output and "$0.0000" in result.output
    assert "down" in result.output and "connection failed" in result.output
    assert len(server.requests) == 1
