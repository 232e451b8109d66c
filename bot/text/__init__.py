"""Pure text helpers behind `bot.summary` and `bot.delivery.render`.

Owns: character hygiene (`chars`), HTML-to-text (`html_text`), boilerplate rules
(`boilerplate`), offline sentence splitting (`sentences`) and bounded truncation
(`truncate`). Everything here computes only: no network, no DB, no clock, no env,
no model or data downloads. Callers outside the core import `bot.summary`, not these.
"""
