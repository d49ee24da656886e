"""Every real export in ../shared/samples, recognised by content and read whole."""

from __future__ import annotations

import pytest
from conftest import SHARED

from twinchat import read_export

SAMPLES = SHARED / "samples"

# (file, format, messages, chats); the Telegram and Discord counts include their service
# messages (a phone call, a pinned message), which the file names' "7M" and "5M" leave out
EXPECTED = [
    ("discord/chat-analytics_GC_3A_5M.json", "discord", 6, 1),
    ("messenger/msgvault_e2ee_alice_1.json", "messenger", 4, 1),
    ("messenger/msgvault_json_nontext_message_1.json", "messenger", 6, 1),
    ("messenger/msgvault_json_simple_message_1.json", "messenger", 3, 1),
    ("slack/slack-export-viewer_testarchive.zip", "slack", 158, 2),
    ("telegram/chat-analytics_DM_2A_7M.json", "telegram", 8, 1),
    ("whatsapp/WhatsR_englishandroidampm.txt", "whatsapp", 50, 1),
    ("whatsapp/WhatsR_englishios24h.txt", "whatsapp", 50, 1),
    ("whatsapp/WhatsR_germanandroid24h.txt", "whatsapp", 50, 1),
    ("whatsapp/WhatsR_germaniosampm.txt", "whatsapp", 50, 1),
    ("whatsapp/chat-miner_test_mmddyyyy_12hrs.txt", "whatsapp", 9, 1),
]

pytestmark = pytest.mark.skipif(not SAMPLES.exists(), reason="needs ../shared/samples")


@pytest.mark.parametrize(("name", "format", "messages", "chats"), EXPECTED)
def test_sample_is_recognised_and_read_whole(name, format, messages, chats):
    export = read_export(SAMPLES / name)
    read = list(export)
    assert (export.format, len(read), export.chats) == (format, messages, chats)
    assert not export.problems
    assert all(m.timestamp is not None for m in read)


def test_every_sample_is_listed():
    files = {str(p.relative_to(SAMPLES)) for p in SAMPLES.glob("*/*")}
    assert files == {name for name, *_ in EXPECTED}


def test_the_messenger_folder_reads_as_one_export():
    export = read_export(SAMPLES / "messenger")
    assert (len(list(export)), export.chats) == (13, 3)
