"""Counts of Slack workspace exports made without twinchat, for manifest.json.

Run `python tests/corpus/count_slack.py EXPORT...` (its zip or its folder). Its own simple
rules: each channel of channels.json (groups, dms and mpims too, when there), its day files in
date order, their messages in file order; typed: no `subtype`, or `bot_message`, `file_share`,
`file_comment`, `thread_broadcast`, `me_message`, with words after the markup is read (bots
count: a message has a sender and words, and the test does not tell bots from people). The
sender: the user's `profile.display_name`, else `real_name`, `name`; a bot's `username`, else
the name its `bot_add` gave it; a file comment's `comment.user`. The text: `text`, else (bots)
the attachments' `fallback` lines; for an old `file_share`, what follows `and commented:`;
`<@U1>` -> `@name`, `<url|label>` -> `label (url)`, `<url>` -> `url`, then `&lt;` `&gt;`
`&amp;`.
"""

from __future__ import annotations

import html
import json
import os
import re
import zipfile

from count_whatsapp import main

TYPED = {None, "bot_message", "file_share", "file_comment", "thread_broadcast", "me_message"}
MARKUP = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


def typed(path: str) -> list[tuple[str, str]]:
    """(sender, text) of each message a person (or a bot) typed, channel by channel."""
    if os.path.isdir(path):
        names = [
            os.path.relpath(os.path.join(d, f), path).replace(os.sep, "/")
            for d, _, files in os.walk(path)
            for f in files
        ]
        archive = None
    else:
        archive = zipfile.ZipFile(path)
        names = archive.namelist()

    def load(name: str) -> list:
        if name not in names:
            return []
        if archive is None:
            with open(os.path.join(path, name), encoding="utf-8") as f:
                return json.load(f)
        return json.loads(archive.read(name))

    people = {}
    for user in load("users.json"):
        profile = user.get("profile") or {}
        people[user["id"]] = (
            profile.get("display_name") or profile.get("real_name") or user.get("real_name")
            or user["name"]
        )  # fmt: skip
    channels = [c["name"] for k in ("channels", "groups", "mpims") for c in load(f"{k}.json")]
    channels += [c["id"] for c in load("dms.json")]
    bots: dict[str, str] = {}

    def render(text: str) -> str:
        def one(m: re.Match[str]) -> str:
            target, label = m[1], m[2]
            if target.startswith("@"):
                return "@" + (label or people.get(target[1:], target[1:]))
            if target.startswith("#"):
                return "#" + (label or target[1:])
            if label and label != re.sub(r"^\w+:(//)?", "", target):
                return f"{label} ({target})"
            return label or target

        return html.unescape(MARKUP.sub(one, text))

    said = []
    for channel in channels:
        days = sorted(n for n in names if re.fullmatch(rf"{re.escape(channel)}/[\d-]+\.json", n))
        for day in days:
            for m in load(day):
                sub = m.get("subtype")
                if sub == "bot_add":
                    found = re.search(r"services/(B\w+)\|([^>]+)>", m.get("text", ""))
                    if found:
                        bots[found[1]] = found[2]
                if sub not in TYPED:
                    continue
                text = m.get("text") or ""
                if sub == "file_share" and "and commented:" in text:
                    text = text.split("and commented:", 1)[1]
                elif sub == "file_share":
                    text = ""
                if sub == "file_comment":
                    sender = people.get((m.get("comment") or {}).get("user"))
                    text = (m.get("comment") or {}).get("comment", "")
                elif sub == "bot_message" or (m.get("bot_id") and not m.get("user")):
                    sender = m.get("username") or bots.get(m.get("bot_id"))
                    if not text:
                        text = "\n".join(a.get("fallback", "") for a in m.get("attachments", []))
                else:
                    sender = people.get(m.get("user"), m.get("user"))
                text = render(text)
                if sender and text.strip():
                    said.append((sender, text))
    return said


if __name__ == "__main__":
    main(typed)
