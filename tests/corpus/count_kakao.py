"""Counts of KakaoTalk exports made without twinchat, for tests/corpus/manifest.json.

Run `python tests/corpus/count_kakao.py FILE...`: for each file, the messages people typed
(a sender, and words that are not a photo, video or emoticon placeholder), their senders, and
the first and last. It reads the layouts by their own simple rules (a ` : ` after a stamp, a
`[name] [time]` pair, CSV rows), not by the reader's code, so the two can disagree.
"""

import csv
import re

from count_whatsapp import main

PLACEHOLDERS = {
    "<Photo>",
    "<사진>",
    "photo",
    "사진",
    "(Photo)",
    "Photo",
    "<Video>",
    "<동영상>",
    "동영상",
    "video",
    "(사진)",
    "(동영상)",
    "(이모티콘)",
    "(emoticon)",
    "이모티콘",
    "Emoticons",
    "<이모티콘>",
    "(Emoticon)",
}
STAMPED = re.compile(
    r"^(\d{4}년 .+?|\d{4}\. .+?|\d{1,2}:\d\d[ap]m, [A-Z][a-z]+ \d{1,2}, \d{4}"
    r"|[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d\d [AP]M), (.+?) : (.*)$"
)
STAMP_ONLY = re.compile(r"^(\d{4}년|\d{4}\. |\d{1,2}:\d\d[ap]m, |[A-Z][a-z]{2} \d{1,2}, \d{4}, )")
WINDOWS = re.compile(r"^\[(.+?)\] \[(.+?)\] (.*)$")
DAY = re.compile(
    r"^(-{5,} .* -{5,}|\d{4}년 \d+월 \d+일 \S+요일|[A-Z][a-z]+day, [A-Z][a-z]+ \d+, \d{4})$"
)


def typed(path: str) -> list[tuple[str, str]]:
    """(sender, text) of each message a person typed, in file order."""
    rows = []  # [sender, text]
    with open(path, encoding="utf-8-sig", newline="") as f:
        if path.endswith(".csv"):
            for row in csv.DictReader(f):
                rows.append([row["User"], row["Message"]])
            rows = [r for r in rows if not (r[1].startswith(r[0]) and " invited " in r[1])]
        else:
            lines = f.read().split("\n")[2:]
            current = None
            for line in lines:
                line = line.rstrip("\r")
                m = STAMPED.match(line) or WINDOWS.match(line)
                if m:
                    current = [m[2] if m.re is STAMPED else m[1], m[3]]
                    rows.append(current)
                elif STAMP_ONLY.match(line) or DAY.match(line.strip()):
                    current = None  # a notice or a new day
                elif current is not None:
                    current[1] += "\n" + line
    said = []
    for sender, text in rows:
        text = text.strip()
        if text and text not in PLACEHOLDERS:
            said.append((sender, text))
    return said


if __name__ == "__main__":
    main(typed)
