"""Webhook mode: PTB's webhook server on 127.0.0.1 accepts updates that carry the
secret token and refuses the rest; the webhook is registered with the secret."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot import config as config_module
from bot.errors import StartupError
from bot.service import Service, Settings
from tests.fakes.telegram_api import TelegramEmulator

SECRET = "s3cret_token-123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def update(update_id: int, text: str) -> dict[str, object]:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(datetime.now(UTC).timestamp()),
        "chat": {"id": 4242, "type": "private", "first_name": "A"},
        "from": {"id": 4242, "is_bot": False, "first_name": "A"}, "text": text,
        "entities": [{"type": "bot_command", "offset": 0,
                      "length": len(text.split(maxsplit=1)[0])}]}}


async def test_webhook_checks_the_secret(tmp_path: Path) -> None:
    port = free_port()
    cfg = config_module.loads(f"""
[[feeds]]
url = "http://127.0.0.1:1/f.xml"

[topics.tariffs]
name = "Tariffs"
query = 'tariff'

[telegram]
webhook_url = "https://bot.example.org/hook/abc"
webhook_listen = "127.0.0.1:{port}"
""")
    with TelegramEmulator() as telegram:
        telegram.user_sends("/start", user_id=4242)  # the chat exists for the replies
        svc = Service(cfg, Settings(f"sqlite:///{tmp_path / 'db.sqlite'}", telegram.token,
                                    telegram.api_root, webhook_secret=SECRET))
        await svc.open()
        try:
            await svc.start_telegram()
            [registered] = telegram.calls("setWebhook")
            assert registered.params["url"] == "https://bot.example.org/hook/abc"
            assert registered.params["secret_token"] == SECRET
            url = f"http://127.0.0.1:{port}/hook/abc"
            async with httpx.AsyncClient() as client:
                refused = await client.post(url, json=update(1, "/help"),
                                            headers={"X-Telegram-Bot-Api-Secret-Token": "no"})
                missing = await client.post(url, json=update(2, "/help"))
                accepted = await client.post(url, json=update(3, "/help"),
                                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
            assert (refused.status_code, missing.status_code) == (403, 403)
            assert accepted.status_code == 200
            for _ in range(200):
                if telegram.messages(4242):
                    break
                await asyncio.sleep(0.02)
            [reply] = telegram.messages(4242)
            assert "newsbot" in (reply.text or "")
        finally:
            await svc.stop_telegram()
            await svc.close()


async def test_webhook_mode_needs_a_secret(tmp_path: Path) -> None:
    cfg = config_module.loads("""
[[feeds]]
url = "http://127.0.0.1:1/f.xml"

[topics.tariffs]
name = "Tariffs"
query = 'tariff'

[telegram]
webhook_url = "https://bot.example.org/hook"
""")
    with TelegramEmulator() as telegram:
        svc = Service(cfg, Settings(f"sqlite:///{tmp_path / 'db.sqlite'}", telegram.token,
                                    telegram.api_root))
        await svc.open()
        try:
            with pytest.raises(StartupError, match="TELEGRAM_WEBHOOK_SECRET"):
                await svc.start_telegram()
        finally:
            await svc.stop_telegram()
            await svc.close()


def test_webhook_listen_is_validated() -> None:
    with pytest.raises(config_module.ConfigError, match="HOST:PORT"):
        config_module.loads("""
[topics.tariffs]
name = "Tariffs"
query = 'tariff'

[telegram]
webhook_url = "https://bot.example.org/hook"
webhook_listen = "8443"
""")
