"""The WhatsApp reader against formats.md §2, on the project's own fixtures and inline chats."""

from __future__ import annotations

import tracemalloc
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from conftest import FIXTURES, SHARED
from roundtrip import CONVERSATION as EVERY_READER
from roundtrip import assert_same

import twinchat
from twinchat import Kind, TwinchatError, read_export
from twinchat.data.readers.telegram import TelegramExport
from twinchat.data.readers.whatsapp import WhatsAppExport, chat_of

WHATSAPP = FIXTURES / "whatsapp"
ANDROID = WHATSAPP / "android" / "WhatsApp Chat with Hiking Crew.txt"
IOS = WHATSAPP / "ios" / "_chat.txt"
SAMPLES = SHARED / "samples" / "whatsapp"
LRM, NNBSP, NBSP = "\u200e", "\u202f", "\u00a0"


def read(tmp_path: Path, text: str, name: str = "chat.txt", **options):
    """Write `text` as a file and read it back: (export, messages)."""
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    export = read_export(path, **options)
    return export, list(export)


def first(tmp_path: Path, text: str, **options):
    export, messages = read(tmp_path, text, **options)
    assert export.format == "whatsapp"
    return messages[0], export.problems


# --- dates and times (formats.md §2.3) -------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("1/29/18, 11:46 PM - Alice: hi", datetime(2018, 1, 29, 23, 46)),
        (f"12/14/23, 12:14{NNBSP}PM - Alice: hi", datetime(2023, 12, 14, 12, 14)),
        (f"[12/14/23, 12:14:05{NNBSP}AM] Alice: hi", datetime(2023, 12, 14, 0, 14, 5)),
        ("13/10/2023, 11:11 am - Alice: hi", datetime(2023, 10, 13, 11, 11)),
        ("16/03/2022, 15:10 - Alice: hi", datetime(2022, 3, 16, 15, 10)),
        ("[16/03/2022, 15:10:17] Alice: hi", datetime(2022, 3, 16, 15, 10, 17)),
        ("[16/03/2022, 03:10:17 PM] Alice: hi", datetime(2022, 3, 16, 15, 10, 17)),
        ("29.01.18, 23:46 - Alice: hi", datetime(2018, 1, 29, 23, 46)),
        ("[29.01.18, 23:46:03] Alice: hi", datetime(2018, 1, 29, 23, 46, 3)),
        ("29.01.18, 11:46 abends - Alice: hi", datetime(2018, 1, 29, 23, 46)),
        (f"13/6/2018 1:55 p.{NBSP}m. - Alice: hi", datetime(2018, 6, 13, 13, 55)),
        ("[31/12/2019, 2:14:40 a.m.] Alice: hi", datetime(2019, 12, 31, 2, 14, 40)),
        ("26-04-2022 12:11 - Alice: hi", datetime(2022, 4, 26, 12, 11)),
        ("17.9.2020, 11:23 - Alice: hi", datetime(2020, 9, 17, 11, 23)),
        ("13.6.2018 klo 21.25.15 - Alice: hi", datetime(2018, 6, 13, 21, 25, 15)),
        ("[2018. 06. 13. 21:25:15] Alice: hi", datetime(2018, 6, 13, 21, 25, 15)),
        ("13. 6. 2018. 21:25:15 - Alice: hi", datetime(2018, 6, 13, 21, 25, 15)),
        ("2019/01/01, 11:25 - Alice: hi", datetime(2019, 1, 1, 11, 25)),
        ("[2018/06/13, 21:25:15] Alice: hi", datetime(2018, 6, 13, 21, 25, 15)),
        ("13-06-2018, 01.55 PM - Alice: hi", datetime(2018, 6, 13, 13, 55)),
        ("13.06.18 21.25.15: Alice: hi", datetime(2018, 6, 13, 21, 25, 15)),
        ("[14:56:01, 3/18/22] Alice: hi", datetime(2022, 3, 18, 14, 56, 1)),
        ("14:56, 18/3/2022 - Alice: hi", datetime(2022, 3, 18, 14, 56)),
        ("[3/18/2565 BE, 14:56:01] Alice: hi", datetime(2022, 3, 18, 14, 56, 1)),
        ("[18/3/2565, 14:56:01] Alice: hi", datetime(2022, 3, 18, 14, 56, 1)),
        ("[3/18/R4, 14:56:01] Alice: hi", datetime(2022, 3, 18, 14, 56, 1)),
        ("[4/30/H31, 09:00:00] Alice: hi", datetime(2019, 4, 30, 9, 0)),
    ],
    ids=[
        "en-US-android",
        "nnbsp-android",
        "nnbsp-ios17",
        "en-GB-lowercase-am",
        "en-GB-android-24h",
        "en-GB-ios",
        "ios-12h-day-first",
        "de-android",
        "de-ios",
        "de-day-period",
        "es-p.m.-nbsp",
        "a.m.-no-space",
        "nl-dashes",
        "in-single-digits",
        "fi-klo-dots",
        "hu-year-first",
        "hu-day-first",
        "year-first-android",
        "year-first-ios",
        "time-with-dots",
        "colon-separator",
        "vi-ios-time-first",
        "time-first-android",
        "buddhist-calendar-en",
        "buddhist-calendar-th",
        "japanese-calendar-reiwa",
        "japanese-calendar-heisei",
    ],
)
def test_every_date_and_time_layout(tmp_path, line, expected):
    message, problems = first(tmp_path, line + "\n")
    assert (message.timestamp, message.sender, message.text) == (expected, "Alice", "hi")
    assert not message.tz_known and message.timestamp.tzinfo is None
    assert not problems


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ("9:05 morgens", (9, 5)),
        ("11:30 vorm.", (11, 30)),
        ("12:30 mittags", (12, 30)),
        ("3:15 nachm.", (15, 15)),
        ("11:46 abends", (23, 46)),
        ("12:10 nachts", (0, 10)),
        ("1:10 nachts", (1, 10)),
        ("12:05 AM", (0, 5)),
        ("12:05 PM", (12, 5)),
        ("23:59 PM", (23, 59)),  # hand-edited WhatsR files: a 24-hour time stays as written
        ("00:04 AM", (0, 4)),
    ],
)
def test_twelve_hour_clocks(tmp_path, time, expected):
    message, _ = first(tmp_path, f"29.01.18, {time} - Alice: hi\n")
    assert (message.timestamp.hour, message.timestamp.minute) == expected


def ambiguous_lines(n: int, header: str) -> str:
    return "".join(f"{header} - Ann: message {i}\n" for i in range(n))


def test_day_first_decided_by_the_last_line(tmp_path):
    text = ambiguous_lines(300, "01/02/2024, 10:00") + "13/02/2024, 10:00 - Ann: late\n"
    export, messages = read(tmp_path, text)
    assert messages[0].timestamp == datetime(2024, 2, 1, 10, 0)
    assert messages[-1].timestamp == datetime(2024, 2, 13, 10, 0)
    assert not export.problems


def test_month_first_decided_by_the_last_line(tmp_path):
    text = ambiguous_lines(300, "01/02/2024, 10:00") + "02/13/2024, 10:00 - Ann: late\n"
    export, messages = read(tmp_path, text)
    assert messages[0].timestamp == datetime(2024, 1, 2, 10, 0)
    assert not export.problems


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("1/2/24, 10:00 AM", datetime(2024, 1, 2, 10, 0)),  # M/D/YY: en-US
        ("01/02/2024, 10:00", datetime(2024, 2, 1, 10, 0)),  # "/" and 4 digits: en-GB, es, fr
        ("01.02.24, 10:00", datetime(2024, 2, 1, 10, 0)),  # dots: day first everywhere
    ],
)
def test_date_order_guessed_from_the_locale_and_reported(tmp_path, header, expected):
    export, messages = read(tmp_path, ambiguous_lines(3, header))
    assert messages[0].timestamp == expected
    assert export.problems == {"date order guessed": 3}


def test_date_order_override(tmp_path):
    export, messages = read(tmp_path, ambiguous_lines(3, "01.02.24, 10:00"), date_order="mdy")
    assert messages[0].timestamp == datetime(2024, 1, 2, 10, 0)
    assert not export.problems
    with pytest.raises(TwinchatError, match="date order 'dym'.*dmy, mdy, ymd"):
        read(tmp_path, "x", date_order="dym")


def test_inconsistent_dates_are_counted_not_fatal(tmp_path):
    text = "13/01/2024, 10:00 - Ann: a\n13/01/2024, 11:00 - Ann: b\n01/13/2024, 12:00 - Ann: c\n"
    export, messages = read(tmp_path, text)
    assert [m.text for m in messages] == ["a", "b", "c"]
    assert messages[2].timestamp is None
    assert export.problems == {"date order inconsistent": 3, "invalid date or time": 1}


# --- the two layouts, multi-line messages and marks ------------------------------------------


def test_android_layout():
    export = read_export(ANDROID)
    messages = list(export)
    assert export.chats == 1 and not export.problems
    assert [m.id for m in messages] == [str(i) for i in range(1, 15)]
    assert {m.chat_name for m in messages} == {"Hiking Crew"}
    assert {m.chat_type for m in messages} == {"private_group"}
    kinds = [m.kind for m in messages]
    assert kinds[:3] == [Kind.SERVICE] * 3 and kinds[12] is Kind.SERVICE
    assert [m.action for m in messages[:3]] == ["encryption", "create_group", "invite_members"]
    assert messages[1].text == 'Jamie 🎸 created group "Hiking: Alps 2024"'  # ": " in quotes
    assert messages[3].sender == "Jamie 🎸" and messages[3].timestamp == datetime(2024, 3, 14, 9, 5)
    assert messages[4].sender == "+49 171 2345678"  # U+202A…U+202C removed from the name
    assert messages[13].timestamp == datetime(2024, 3, 15, 0, 1)  # 12:01 AM


def test_ios_layout_with_crlf_and_group_name_as_sender():
    messages = list(read_export(IOS))
    by_id = {m.id: m for m in messages}
    assert [m.sender for m in messages][:6] == [None, "Boris", None, None, "Boris", "Boris"]
    assert [m.kind for m in messages][:6] == [Kind.SERVICE] * 5 + [Kind.TEXT]
    assert [m.action for m in messages][:5] == [
        "encryption",
        "create_group",
        "invite_members",
        "admin",
        "edit_group_photo",
    ]
    assert by_id["2"].text == "Boris created group “Book Club”"  # the mark is not text
    assert by_id["6"].text == "Welcome! First book: Dune"
    assert by_id["6"].timestamp == datetime(2024, 8, 14, 21, 3, 0)
    assert by_id["10"].text == "Chapter 1 notes:\n- spice\n- the desert"  # no "\r" left
    assert by_id["14"].sender == "+34 600 123 456" and by_id["14"].kind is Kind.STICKER


def test_multi_line_messages_keep_their_newlines_and_blank_lines():
    messages = list(read_export(ANDROID))
    assert messages[5].text == (
        "new plan:\nmeet at 8 at the station\n\n3/15/24 is the day, bring water 💧"
    )
    assert messages[11].text == "3/15/24, 8:00 AM - that's the plan"  # a header only at the start
    assert (
        messages[13].text == "ﬁne, see you 👨\u200d👩\u200d👧"
    )  # the file's last blank line dropped


def test_a_header_of_another_layout_inside_a_message_stays_text_and_is_counted(tmp_path):
    text = (
        "[13/02/2024, 10:00:00] Ann: forwarding this:\n"
        "13/02/2024, 09:00 - Bob: from my other phone\n"
        "[13/02/2024, 10:01:00] Bob: thanks\n"
    )
    export, messages = read(tmp_path, text)
    assert [m.sender for m in messages] == ["Ann", "Bob"]
    assert messages[0].text == "forwarding this:\n13/02/2024, 09:00 - Bob: from my other phone"
    assert export.problems == {"line like a header of another layout (kept as text)": 1}


def test_marks_are_removed_from_headers_only(tmp_path):
    text = (
        "\ufeff\ufeff[29.01.18, 11:46:03 PM] Alice: No\u200e idea\n"
        "\ufeff[\ufeff29.01.18, 11:47:03 PM] \u200e\u202a+49 171 2345678\u202c: "
        "ﬁ ① ｆｕｌｌ\u00a0wide\n"
        "\u200e[29.01.18, 11:48:03 PM] Bob\u00a0Lee: la\u200btte\ufeff\n"
    )
    export, messages = read(tmp_path, text)
    assert [m.sender for m in messages] == ["Alice", "+49 171 2345678", "Bob Lee"]
    assert [m.kind for m in messages] == [Kind.TEXT] * 3
    assert [m.text for m in messages] == [
        "No\u200e idea",
        "ﬁ ① ｆｕｌｌ\u00a0wide",  # never NFKC-folded
        "la\u200btte\ufeff",
    ]
    assert messages[2].timestamp == datetime(2018, 1, 29, 23, 48, 3)
    assert not export.problems


# --- placeholders in eight languages (formats.md §2.5) --------------------------------------

FILE_ANDROID = "IMG-20240213-WA0001.jpg"
FILE_IOS = "00000012-PHOTO-2024-02-13-10-00-00.jpg"
MAP = "https://maps.google.com/?q=47.3769,8.5417"
PLACEHOLDERS = {
    "en": ["<Media omitted>", "image omitted", "file attached", "attached", "This message was "
           "deleted", "You deleted this message", "<This message was edited>", "location",
           "live location shared"],
    "de": ["<Medien ausgeschlossen>", "Bild weggelassen", "Datei angehängt", "Anhang",
           "Diese Nachricht wurde gelöscht.", "Du hast diese Nachricht gelöscht.",
           "<Diese Nachricht wurde bearbeitet.>", "Standort", "Live-Standort wird geteilt."],
    "es": ["<Multimedia omitido>", "imagen omitida", "archivo adjunto", "adjunto",
           "Se eliminó este mensaje.", "Eliminaste este mensaje.", "<Se editó este mensaje.>",
           "ubicación", "Ubicación en tiempo real compartida"],
    "fr": ["<Médias omis>", "image absente", "fichier joint", "pièce jointe ",
           "Ce message a été supprimé", "Vous avez supprimé ce message",
           "<Ce message a été modifié>", "localisation ", "Position en direct partagée"],
    "pt": ["<Mídia oculta>", "imagem ocultada", "arquivo anexado", "anexado",
           "Esta mensagem foi apagada", "Você apagou esta mensagem", "<Mensagem editada>",
           "localização", "Localização em tempo real compartilhada"],
    "it": ["<Media omessi>", "immagine omessa", "file allegato", "allegato",
           "Questo messaggio è stato eliminato", "Hai eliminato questo messaggio",
           "<Questo messaggio è stato modificato>", "posizione", "Posizione in tempo reale "
           "condivisa"],
    "nl": ["<Media weggelaten>", "afbeelding weggelaten", "bestand bijgevoegd", "bijgevoegd",
           "Dit bericht is verwijderd", "Je hebt dit bericht verwijderd", "<Dit bericht is "
           "bewerkt>", "locatie", "Live locatie gedeeld"],
    "ru": ["<Без медиафайлов>", "изображение отсутствует", "файл добавлен", "вложение",
           "Данное сообщение удалено", "Вы удалили данное сообщение", "<Сообщение изменено>",
           "Местоположение", "Трансляция геопозиции"],
}  # fmt: skip
CASES = ["media", "ios-media", "android-file", "ios-file", "deleted", "own-deleted", "edited",
         "location", "live-location"]  # fmt: skip


def placeholder_line(case: str, words: str) -> str:
    """One message of Ann holding the placeholder, in the layout that writes it."""
    android, ios = "13/02/2024, 10:00 - Ann: ", f"[13/02/2024, 10:00:00] Ann: {LRM}"
    return {
        "media": android + words,
        "ios-media": ios + words,
        "android-file": f"{android}{LRM}{FILE_ANDROID} ({words})\ncaption",
        "ios-file": f"{ios}<{words}: {LRM}{FILE_IOS}>",
        "deleted": android + words,
        "own-deleted": ios + words,
        "edited": f"{android}see you at 8 {words}",
        "location": f"{android}{words}: {MAP}",
        "live-location": ios + words,
    }[case]


@pytest.mark.parametrize("language", sorted(PLACEHOLDERS))
@pytest.mark.parametrize("case", CASES)
def test_placeholders_in_eight_languages(tmp_path, language, case):
    words = PLACEHOLDERS[language][CASES.index(case)]
    message, problems = first(tmp_path, placeholder_line(case, words) + "\n")
    expected = {
        "media": (Kind.MEDIA, None, ""),
        "ios-media": (Kind.MEDIA, "photo", ""),
        "android-file": (Kind.MEDIA, "photo", "caption"),
        "ios-file": (Kind.MEDIA, "photo", ""),
        "deleted": (Kind.DELETED, None, ""),
        "own-deleted": (Kind.DELETED, None, ""),
        "edited": (Kind.TEXT, None, "see you at 8"),
        "location": (Kind.LOCATION, None, MAP),
        "live-location": (Kind.LOCATION, None, ""),
    }[case]
    assert (message.kind, message.media_type, message.text) == expected
    assert message.sender == "Ann" and not problems
    assert (message.edited is not None) == (case == "edited")
    if case == "edited":
        assert message.edited == message.timestamp  # WhatsApp does not say when


@pytest.mark.parametrize(
    ("body", "kind", "media_type"),
    [
        ("sticker omitted", Kind.STICKER, "sticker"),
        ("Contact card omitted", Kind.CONTACT, "contact"),
        ("GIF omitted", Kind.MEDIA, "animation"),
        ("<Video note omitted>", Kind.MEDIA, "video_message"),
        (f"Report.pdf • {LRM}3 pages {LRM}document omitted", Kind.MEDIA, "file"),
        ("PTT-20240213-WA0025.opus (file attached)", Kind.MEDIA, "voice_message"),
        ("Jamie.vcf (Datei angehängt)", Kind.CONTACT, "contact"),
        ("STK-20240213-WA0003.webp (file attached)", Kind.STICKER, "sticker"),
        ("2015-08-04-PHOTO-00004762.jpg <\u200eattached>", Kind.MEDIA, "photo"),
        ("null", Kind.MEDIA, None),
        (f"{LRM}Missed voice call", Kind.CALL, "phone_call"),
        (f"{LRM}Voice call. 12 min", Kind.CALL, "phone_call"),
        (f"{LRM}Verpasster Sprachanruf", Kind.CALL, "phone_call"),
        ("Waiting for this message. This may take a while.", Kind.UNSUPPORTED, None),
        ("the final document omitted", Kind.TEXT, None),  # a sentence, not a placeholder
        ("report.pdf (my draft)", Kind.TEXT, None),
    ],
)
def test_other_placeholders(tmp_path, body, kind, media_type):
    message, _ = first(tmp_path, f"[13/02/2024, 10:00:00] Ann: {body}\n")
    assert (message.kind, message.media_type) == (kind, media_type)


def test_android_poll(tmp_path):
    text = (
        "13/02/2024, 10:00 - Ann: POLL:\nWhere to?\nOPTION: Alps (2 votes)\nOPTION: Sea (1 vote)\n"
    )
    message, _ = first(tmp_path, text)
    assert message.kind is Kind.POLL
    assert message.text == "Where to?\nOPTION: Alps (2 votes)\nOPTION: Sea (1 vote)"


# --- system lines (formats.md §2.2, §2.5) ---------------------------------------------------

SYSTEM = {
    "en": ["Messages and calls are end-to-end encrypted. No one outside of this chat, not even "
           "WhatsApp, can read or listen to them. Tap to learn more.",
           'Ann created group "Trip"', "Ann added Bob", "Bob left",
           'Ann changed the subject from "Trip" to "Trip 2"', "Ann changed this group's icon",
           "Bob joined using this group's invite link"],
    "de": ["Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt. Niemand außerhalb dieses "
           "Chats kann sie lesen oder anhören, nicht einmal WhatsApp. Tippe, um mehr zu erfahren.",
           "Ann hat die Gruppe „Trip“ erstellt.", "Ann hat Bob hinzugefügt.",
           "Bob hat die Gruppe verlassen.", "Ann hat den Betreff von „Trip“ zu „Trip 2“ geändert.",
           "Ann hat das Gruppenbild geändert.",
           "Bob ist über den Einladungslink dieser Gruppe beigetreten."],
    "es": ["Los mensajes y las llamadas están cifrados de extremo a extremo. Nadie fuera de este "
           "chat, ni siquiera WhatsApp, puede leerlos ni escucharlos.",
           'Ann creó el grupo "Trip"', "Ann añadió a Bob", "Bob salió del grupo",
           'Ann cambió el asunto de "Trip" a "Trip 2"', "Ann cambió el ícono de este grupo",
           "Bob se unió usando el enlace de invitación de este grupo"],
    "fr": ["Les messages et les appels sont chiffrés de bout en bout. Aucun tiers, pas même "
           "WhatsApp, ne peut les lire ou les écouter.",
           "Ann a créé le groupe « Trip »", "Ann a ajouté Bob", "Bob est parti",
           "Ann a modifié le sujet de « Trip » en « Trip 2 »",
           "Ann a modifié l'icône de ce groupe",
           "Bob a rejoint ce groupe via le lien d'invitation"],
    "pt": ["As mensagens e as chamadas são protegidas com a criptografia de ponta a ponta.",
           'Ann criou o grupo "Trip"', "Ann adicionou Bob", "Bob saiu",
           'Ann mudou o assunto de "Trip" para "Trip 2"', "Ann mudou a imagem deste grupo",
           "Bob entrou usando o link de convite deste grupo"],
    "it": ["I messaggi e le chiamate sono crittografati end-to-end. Nessuno al di fuori di questa "
           "chat, nemmeno WhatsApp, può leggerne o ascoltarne il contenuto.",
           'Ann ha creato il gruppo "Trip"', "Ann ha aggiunto Bob", "Bob è uscito",
           "Ann ha modificato l'oggetto da \"Trip\" a \"Trip 2\"",
           "Ann ha modificato l'immagine di questo gruppo",
           "Bob si è unito tramite il link d'invito di questo gruppo"],
    "nl": ["Berichten en gesprekken worden end-to-end versleuteld. Niemand buiten deze chat, zelfs "
           "WhatsApp niet, kan ze lezen of beluisteren.",
           'Ann heeft groep "Trip" aangemaakt', "Ann heeft Bob toegevoegd",
           "Bob heeft de groep verlaten", 'Ann heeft de groepsnaam gewijzigd van "Trip" naar '
           '"Trip 2"', "Ann heeft de groepsafbeelding gewijzigd",
           "Bob neemt deel via de uitnodigingslink van deze groep"],
    "ru": ["Сообщения и звонки защищены сквозным шифрованием. Никто за пределами этого чата, даже "
           "WhatsApp, не может их прочитать или прослушать.",
           "Ann создал(а) группу «Trip»", "Ann добавил(а) Bob", "Bob вышел(-ла)",
           "Ann изменил(а) тему с «Trip» на «Trip 2»", "Ann изменил(а) изображение группы",
           "Bob присоединился(-ась) к группе по ссылке-приглашению"],
}  # fmt: skip
ACTIONS = ["encryption", "create_group", "invite_members", "leave_group", "edit_group_title",
           "edit_group_photo", "join_group_by_link"]  # fmt: skip


@pytest.mark.parametrize("language", sorted(SYSTEM))
def test_android_system_lines_in_eight_languages(tmp_path, language):
    text = "".join(f"13/02/2024, 10:0{i} - {line}\n" for i, line in enumerate(SYSTEM[language]))
    text += "13/02/2024, 10:09 - Ann: hello\n"
    export, messages = read(tmp_path, text)
    assert [(m.kind, m.sender, m.action) for m in messages[:-1]] == [
        (Kind.SERVICE, None, action) for action in ACTIONS
    ]
    assert messages[-1].kind is Kind.TEXT and not export.problems


@pytest.mark.parametrize("language", sorted(SYSTEM))
def test_new_ios_system_lines_under_the_group_name(tmp_path, language):
    lines = [f"Trip: {LRM}{line}" for line in SYSTEM[language]] + ["Ann: hello"]
    text = "".join(f"[13/02/2024, 10:0{i}:00] {line}\n" for i, line in enumerate(lines))
    _, messages = read(tmp_path, text)
    assert [(m.kind, m.sender, m.action) for m in messages[:-1]] == [
        (Kind.SERVICE, None, action) for action in ACTIONS
    ]
    assert messages[-1].sender == "Ann" and messages[-1].kind is Kind.TEXT
    assert messages[0].chat_type == "private_group"


def test_group_name_from_the_zip_name_marks_its_lines_without_the_encryption_notice(tmp_path):
    """WhatsApp keeps only the newest 40,000 messages: the notice may be gone."""
    text = (
        f"[13/02/2024, 10:00:00] Trip: {LRM}Bob added Carol\n"
        "[13/02/2024, 10:01:00] Ann: hello\n"
        f"[13/02/2024, 10:02:00] Trip: {LRM}Carol hat die Gruppe verlassen.\n"
    )
    archive = tmp_path / "WhatsApp Chat - Trip.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("_chat.txt", text)
    messages = list(read_export(archive))
    assert [(m.sender, m.kind) for m in messages] == [
        (None, Kind.SERVICE),
        ("Ann", Kind.TEXT),
        (None, Kind.SERVICE),
    ]
    assert messages[0].chat_name == "Trip"


def test_one_to_one_partner_named_on_the_notice_still_talks(tmp_path):
    text = (
        f"[13/02/2024, 10:00:00] Bob: {LRM}Messages and calls are end-to-end encrypted.\n"
        "[13/02/2024, 10:01:00] Bob: You added salt?\n"
        "[13/02/2024, 10:02:00] Ann: Bob left the pot on\n"
        "[13/02/2024, 10:03:00] Bob: oops\n"
    )
    _, messages = read(tmp_path, text, name="WhatsApp Chat - Bob.txt")
    assert [(m.sender, m.kind) for m in messages] == [
        ("Bob", Kind.SERVICE),
        ("Bob", Kind.TEXT),
        ("Ann", Kind.TEXT),
        ("Bob", Kind.TEXT),
    ]
    assert messages[0].chat_type == "personal_chat" and messages[0].chat_name == "Bob"


def test_user_text_that_reads_like_a_system_line_stays_text(tmp_path):
    text = "13/02/2024, 10:00 - Ann: You added Bob\n13/02/2024, 10:01 - Bob: Ann left\n"
    _, messages = read(tmp_path, text)
    assert [m.kind for m in messages] == [Kind.TEXT, Kind.TEXT]


def test_empty_messages_keep_their_sender(tmp_path):
    text = "13/02/2024, 10:00 - Carol:\n13/02/2024, 10:01 - John Doe:.\n"
    _, messages = read(tmp_path, text)
    assert [(m.sender, m.text, m.kind) for m in messages] == [
        ("Carol", "", Kind.TEXT),
        ("John Doe", "", Kind.TEXT),  # the dot is WhatsApp's remnant, not a typed text
    ]


# --- files, folders, zips and detection -----------------------------------------------------


def test_zip_and_folder_of_an_ios_export(tmp_path):
    folder = tmp_path / "WhatsApp Chat - Book Club"
    folder.mkdir()
    (folder / "_chat.txt").write_bytes(IOS.read_bytes())
    (folder / "00000007-PHOTO-2024-08-14-21-05-00.jpg").write_bytes(b"\xff\xd8")
    archive = tmp_path / "WhatsApp Chat - Book Club.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in folder.iterdir():
            z.write(path, path.name)
    expected = [(m.sender, m.text, m.kind) for m in read_export(IOS)]
    for path in (folder, archive):
        messages = list(read_export(path))
        assert [(m.sender, m.text, m.kind) for m in messages] == expected
        assert {m.chat_name for m in messages} == {"Book Club"}


def test_zip_of_an_android_export(tmp_path):
    archive = tmp_path / "WhatsApp Chat with Hiking Crew.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(ANDROID, ANDROID.name)
        z.writestr("IMG-20240314-WA0001.jpg", b"\xff\xd8")
    export = read_export(archive)
    assert export.source.label.endswith("!WhatsApp Chat with Hiking Crew.txt")
    assert len(list(export)) == 14


def test_a_folder_of_several_chats_reads_every_chat(tmp_path):
    (tmp_path / ANDROID.name).write_bytes(ANDROID.read_bytes())
    (tmp_path / "WhatsApp Chat - Book Club").mkdir()
    (tmp_path / "WhatsApp Chat - Book Club" / "_chat.txt").write_bytes(IOS.read_bytes())
    export = read_export(tmp_path)
    messages = list(export)
    one_by_one = [*read_export(ANDROID), *read_export(IOS)]
    assert [(m.sender, m.text) for m in messages] == [(m.sender, m.text) for m in one_by_one]
    assert [m.chat_name for m in messages] == ["Hiking Crew"] * 14 + ["Book Club"] * 14
    assert export.chats == 2 and export.source.label == str(tmp_path)
    assert export.bytes_read == export.source.size


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("/x/WhatsApp Chat with Jamie 🎸.txt", ("Jamie 🎸", "Jamie 🎸")),
        ("/x/WhatsApp_Chat_with_Jamie_Lee.txt", ("Jamie Lee", "Jamie Lee")),
        ("/x/WhatsApp Chat - Book Club.zip!_chat.txt", ("Book Club", "Book Club")),
        ("/x/export.zip!WhatsApp Chat - Book Club/_chat.txt", ("Book Club", "Book Club")),
        ("/x/Chat de WhatsApp con Ana (1).txt", ("Ana", "Ana")),
        ("/x/WhatsApp Chat mit Oma.txt", ("Oma", "Oma")),
        ("/x/Чат WhatsApp с контактом Ира.txt", ("Ира", "Ира")),
        ("/x/export.zip!_chat.txt", ("export", None)),
        ("/x/notes.txt", ("notes", None)),
    ],
)
def test_chat_name_from_file_names(label, expected):
    assert chat_of(label) == expected


def test_detection_by_content_and_by_name(tmp_path):
    (tmp_path / "a").mkdir()
    renamed = tmp_path / "a" / "export.txt"
    renamed.write_bytes(ANDROID.read_bytes())
    (tmp_path / "a" / "IMG-20240314-WA0001.jpg").write_bytes(b"\xff\xd8")
    assert isinstance(read_export(tmp_path / "a"), WhatsAppExport)
    assert isinstance(read_export(renamed), WhatsAppExport)
    (tmp_path / "b").mkdir()
    named = tmp_path / "b" / "_chat.txt"
    named.write_bytes(b"exported by a tool that adds a title line\n" + IOS.read_bytes())
    export = read_export(tmp_path / "b")
    assert isinstance(export, WhatsAppExport) and len(list(export)) == 14
    assert export.problems == {"text before the first message": 1}


def test_telegram_detection_comes_first(tmp_path):
    (tmp_path / "result.json").write_bytes(
        (FIXTURES / "telegram" / "single_chat.json").read_bytes()
    )
    (tmp_path / "_chat.txt").write_bytes(IOS.read_bytes())
    assert isinstance(read_export(tmp_path), TelegramExport)
    assert isinstance(read_export(tmp_path, source="whatsapp"), WhatsAppExport)


def test_source_option(tmp_path):
    notes = tmp_path / "notes.log"
    notes.write_text("hello there\n13/02/2024, 10:00 - Ann: hi\n")
    with pytest.raises(TwinchatError, match="supported: Telegram.*WhatsApp"):
        read_export(notes)
    export = read_export(notes, source="whatsapp")
    assert [m.text for m in export] == ["hi"]
    assert export.problems == {"text before the first message": 1}
    with pytest.raises(TwinchatError, match="no Telegram export found; point at the result.json"):
        read_export(ANDROID, source="telegram")
    with pytest.raises(TwinchatError, match="unknown source 'viber'; supported: auto, telegram"):
        read_export(ANDROID, source="viber")
    (tmp_path / "plain.txt").write_text("just some text\n")
    with pytest.raises(TwinchatError, match="no line starts like a WhatsApp message"):
        list(read_export(tmp_path / "plain.txt", source="whatsapp"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "photo.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(TwinchatError, match="no WhatsApp chat found"):
        read_export(tmp_path / "empty", source="whatsapp")


# --- nothing unread goes uncounted ------------------------------------------------------------


def test_problems_are_counted_and_messages_kept(tmp_path):
    text = (
        "Chat exported on 2024-02-14\n\n"
        "13/02/2024, 10:00 - Ann: ok\n"
        "31/02/2024, 10:01 - Ann: no such day\n"
        "13/02/2024, 25:00 - Ann: no such hour\n"
    )
    path = tmp_path / "WhatsApp Chat with Ann.txt"  # found by name: its first line is no header
    path.write_bytes(text.encode() + b"13/02/2024, 10:02 - Ann: caf\xe9\n")
    export = read_export(path)
    messages = list(export)
    assert [m.timestamp is None for m in messages] == [False, True, True, False]
    assert messages[3].text == "caf\ufffd"
    assert export.problems == {
        "text before the first message": 1,
        "invalid date or time": 2,
        "not UTF-8 (bytes replaced)": 1,
    }


# --- round trip -------------------------------------------------------------------------------

CONVERSATION = [
    (datetime(2024, 3, 13, 9, 5), "Jamie 🎸", "morning! ☀️"),
    (datetime(2024, 3, 13, 9, 7), "+49 171 2345678", "who's in?\nI can drive: 4 seats"),
    (datetime(2024, 3, 13, 12, 0), "Ana María", "me 👋\n\n3/14/24 works too\n- bring snacks"),
    (datetime(2024, 3, 13, 23, 59), "Dr. Who-Knows", "12:30 is fine, 13.03. as well"),
    (datetime(2024, 3, 14, 0, 30), "👨‍👩‍👧 Family", "ﬁne ① ｆｕｌｌ wide"),
    (datetime(2024, 3, 14, 12, 0), "Jamie 🎸", "see you\nat noon"),
]


def android_us(moment: datetime, sender: str) -> str:
    hour = moment.hour % 12 or 12
    meridiem = "AM" if moment.hour < 12 else "PM"
    return (
        f"{moment.month}/{moment.day}/{moment:%y}, {hour}:{moment:%M}{NNBSP}{meridiem} - {sender}: "
    )


def android_de(moment: datetime, sender: str) -> str:
    return f"{moment:%d.%m.%y, %H:%M} - {sender}: "


def ios_gb(moment: datetime, sender: str) -> str:
    return f"[{moment:%d/%m/%Y, %H:%M:%S}] {sender}: "


@pytest.mark.parametrize("header", [android_us, android_de, ios_gb])
def test_round_trip(tmp_path, header):
    newline = "\r\n" if header is ios_gb else "\n"
    lines = []
    for moment, sender, text in CONVERSATION:
        written = f"\u202a{sender}\u202c" if sender.startswith("+") else sender
        lines.append(header(moment, written) + text.replace("\n", newline))
    export, messages = read(tmp_path, "\ufeff" + newline.join(lines) + newline)
    assert [(m.timestamp, m.sender, m.text) for m in messages] == CONVERSATION
    assert {m.kind for m in messages} == {Kind.TEXT} and not export.problems


# --- streaming ---------------------------------------------------------------------------------


def test_reading_streams_in_flat_memory(tmp_path):
    path = tmp_path / "big.txt"
    with path.open("w", encoding="utf-8") as out:
        for i in range(20000):
            out.write(f"[13/02/2024, 10:{i // 60 % 60:02d}:{i % 60:02d}] Ann: {'x' * 60} {i}\n")
            out.write("a second line\n")
    export = read_export(path)
    iterator = iter(export)
    next(iterator)
    assert export.bytes_read < path.stat().st_size / 4  # the second pass yields as it goes
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_export(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 20000
    assert peak < path.stat().st_size / 10


def test_prepare_reads_a_whatsapp_export(tmp_path):
    stats = twinchat.prepare([ANDROID], tmp_path / "out")
    export = stats["exports"][0]
    assert (export["format"], export["messages"], export["unreadable"]) == ("whatsapp", 14, {})
    assert stats["messages"]["read"] == 14


# --- acceptance on the shared samples ---------------------------------------------------------

WHATSR = ["englishandroidampm", "englishios24h", "germanandroid24h", "germaniosampm"]


@pytest.mark.skipif(not SAMPLES.exists(), reason="needs ../shared/samples")
@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.txt")))
def test_every_shared_sample_is_read_whole(name):
    export = read_export(SAMPLES / name)
    messages = list(export)
    assert messages and not export.problems
    assert all(m.timestamp is not None for m in messages)


@pytest.mark.skipif(not SAMPLES.exists(), reason="needs ../shared/samples")
def test_whatsr_variants_of_one_chat_agree():
    """Android/iOS × English/German of one group chat: same senders, kinds and actions.

    Where the files truly differ: Android writes "<Media omitted>" for any medium, iOS "image
    omitted" (message 20); the German Android file has the times of its last two messages
    swapped by hand (00:23 and 00:13 where the others have 00:15 and 00:23); iOS has seconds.
    """
    runs = {name: list(read_export(SAMPLES / f"WhatsR_{name}.txt")) for name in WHATSR}
    shape = {name: [(m.sender, m.kind, m.action) for m in runs[name]] for name in WHATSR}
    assert all(shape[name] == shape["englishandroidampm"] for name in WHATSR)
    assert len(shape["englishandroidampm"]) == 50
    assert [runs[name][19].media_type for name in WHATSR] == [None, "photo", None, "photo"]
    minutes = {name: [m.timestamp.replace(second=0) for m in runs[name]] for name in WHATSR}
    assert minutes["englishandroidampm"] == minutes["englishios24h"] == minutes["germaniosampm"]
    assert minutes["germanandroid24h"][:48] == minutes["englishandroidampm"][:48]
    assert [t.strftime("%H:%M") for t in minutes["germanandroid24h"][48:]] == ["00:23", "00:13"]


@pytest.mark.parametrize("phone", ["android", "ios"])
def test_round_trip_of_every_readers_conversation(tmp_path, phone):
    """The conversation as each phone writes it, with media attached: the same messages back."""
    out = []
    for n, line in enumerate(EVERY_READER):
        text = line.text
        if line.kind == Kind.MEDIA:
            name = f"IMG-20240301-WA{n:04}.jpg"
            media = f"{name} (file attached)" if phone == "android" else f"<attached: {name}>"
            text = f"{media}\n{text}" if text else media
        if phone == "android":
            out.append(f"{line.time:%d/%m/%Y, %H:%M} - {line.sender}: {text}")
        else:
            out.append(f"[{line.time:%d/%m/%Y, %H:%M:%S}] {line.sender}: {text}")
    path = tmp_path / "WhatsApp Chat with Plans.txt"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    assert_same(read_export(path))


# --- WhatsApp's own texts in any language: marks first, tables second -----------------------

LANGUAGES = WHATSAPP / "languages"
TYPED = {  # what people typed in each fixture; every other line is WhatsApp's own
    "pt-PT_ios.txt": [
        "Olá Rui, já chegaste?",
        "Ainda não, o comboio atrasou",
        "Então espero no café ao lado da estação",
    ],
    "pt-BR_ios.txt": [
        "Oi Rui, tudo bem?",
        "Tudo ótimo, e você?",
        "Bora marcar aquele churrasco no sábado",
    ],
    "id_ios.txt": [
        "Halo Rui, sudah sampai?",
        "Belum, keretanya terlambat",
        "Oke, aku tunggu di kafe dekat stasiun",
    ],
    "fr_ios.txt": [
        "Salut Rui, tu es arrivé ?",
        "Pas encore, le train a du retard",
        "Je t'attends au café à côté de la gare",
    ],
    "hi_ios.txt": [
        "नमस्ते Rui, पहुँच गए?",
        "अभी नहीं, ट्रेन लेट है",
        "ठीक है, मैं स्टेशन के पास वाले कैफ़े में इंतज़ार करूँगी",
    ],
    "tr_ios.txt": [
        "Selam Rui, vardın mı?",
        "Henüz değil, tren gecikti",
        "Tamam, istasyonun yanındaki kafede bekliyorum",
    ],
    "ar_ios.txt": ["مرحبا، هل وصلت؟", "ليس بعد، القطار متأخر", "حسنا، سأنتظر في المقهى"],
    "WhatsApp Chat s Rui Costa.txt": [
        "Ahoj, už jsi dorazil?",
        "Vlak má zpoždění",  # the caption of "<Média vynechány>"
        "Dobře, počkám v kavárně",
    ],
}


@pytest.mark.parametrize("name", sorted(TYPED))
def test_whatsapps_own_texts_in_any_language_are_not_peoples(name):
    """iOS in pt-PT, pt-BR, id, fr, hi, tr, ar and Android in cs: media placeholders,
    deletions, the encryption notice, security-code notices and locations are kinds of their
    own, never text a person wrote (the notice names no table: the marks decide)."""
    export = read_export(LANGUAGES / name)
    messages = list(export)
    typed = [m.text for m in messages if m.sender and m.text and m.kind in (Kind.TEXT, Kind.MEDIA)]
    assert typed == TYPED[name]
    kinds = {m.kind for m in messages}
    assert {Kind.MEDIA, Kind.DELETED} <= kinds
    assert all(m.kind is not Kind.TEXT for m in messages if m.text not in TYPED[name])
    assert set(export.problems) <= {"date order guessed"}


def test_arabic_ios_headers_with_marks_and_arabic_indic_digits():
    first, second = list(read_export(LANGUAGES / "ar_ios.txt"))[:2]
    assert first.kind is Kind.SERVICE  # the encryption notice, in Arabic script
    assert second.timestamp == datetime(2023, 3, 12, 21, 11, 11)  # ٩:١١:١١ م is 21:11:11
    assert second.sender == "Ana"


def test_a_marked_text_that_names_no_app_stays_text(tmp_path):
    """People paste text that starts with U+200E; only WhatsApp's own texts are service."""
    _, messages = read(
        tmp_path,
        "[13/02/2024, 09:00:00] Ana: \u200eSchick doch mal eine zum ausprobieren!\n"
        "[13/02/2024, 09:01:00] Bob: \u200eDiese Nachricht wurde gelöscht.\n",
    )
    assert [m.kind for m in messages] == [Kind.TEXT, Kind.DELETED]


def test_a_time_first_chat_keeps_its_continuation_lines_and_days(tmp_path):
    """Vietnamese iOS writes the time before the date; a later day, a line of its own."""
    _, messages = read(
        tmp_path,
        "[14:56:01, 3/18/22] Alice: \u200eTin nhắn được mã hóa đầu cuối, kể cả WhatsApp.\n"
        "[21:41:35, 3/27/22] Bob: one\ntwo\n"
        "\u200e[21:41:55, 3/27/22] Bob: \u200eđã bỏ qua hình ảnh\n",
    )
    assert [m.kind for m in messages] == [Kind.SERVICE, Kind.TEXT, Kind.MEDIA]
    assert messages[1].text == "one\ntwo"
    assert messages[2].timestamp == datetime(2022, 3, 27, 21, 41, 55)
