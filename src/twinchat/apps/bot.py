"""The Telegram bot: a trained clone answers in groups and suggests replies in private chats.

    export TWINCHAT_BOT_TOKEN=123456:ABC...     # the token BotFather gave you
    twinchat bot runs/sam --allow 42 --allow -1001234567890 --as Sam

Only chats in `--allow` get answers: a user's id opens that user's private chat with the bot, a
group needs its own id (a negative number). Everything else is ignored and logged by id, never
with its text, so the log shows the id to allow. The allowlist is by chat: in an allowed group
every member may address the bot (whoever can write there is trusted with it), and a user's id
does not make the bot answer that user in a group that is not allowed. Reply buttons work only
for the private chat, and so the user, they were offered to.

In an allowed group the bot remembers the recent messages it sees (sender's display name and
text) and, when a message mentions @it or replies to one of its messages, answers as the `--as`
person with the best of a few candidates, as a reply to that message. It reads the messages
as `prepare` cut the contexts the run learnt from: as many, as long and as close in time as
the window in the run's `twinchat.json` allows. Telegram shows a bot every group message only
when its privacy mode is off (BotFather: /setprivacy, Disable, then remove the bot from the
group and add it again); with privacy on it sees only the messages addressed to it, and answers
them with little context.

In a private chat, a pasted conversation (`Name: text` lines, a Telegram Desktop copy, JSON) or
messages forwarded from another chat get reply candidates as buttons, after a pause of a few
seconds or at once on /suggest; tapping one sends its text back as a plain message to copy.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import signal
from collections import OrderedDict, deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    MessageOrigin,
    MessageOriginChannel,
    MessageOriginChat,
    MessageOriginHiddenUser,
    MessageOriginUser,
    Update,
)
from telegram.error import InvalidToken, NetworkError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from twinchat.data.builder import UNKNOWN_SENDER
from twinchat.data.example import Turn
from twinchat.errors import TwinchatError
from twinchat.inference.conversation import parse_conversation
from twinchat.inference.suggester import CANDIDATES

if TYPE_CHECKING:
    from twinchat.inference.suggester import Candidate, Suggester

TOKEN_ENV = "TWINCHAT_BOT_TOKEN"
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
PAUSE = 3.0
"""Seconds without another pasted or forwarded message before a private batch is answered:
Telegram delivers forwarded messages, and a long paste split in parts, as separate updates a
second or less apart."""
KEPT_OFFERS = 500
"""Sets of buttons whose texts are kept; a tap on an older one answers that it expired."""

log = logging.getLogger(__name__)
Context = ContextTypes.DEFAULT_TYPE


def bot_token(variable: str = TOKEN_ENV) -> str:
    """The bot token, from the environment variable `variable` (never from the command line,
    where other users and the shell history would see it).

    Raises:
        TwinchatError: the variable is unset or empty.
    """
    token = os.environ.get(variable, "").strip()
    if not token:
        raise TwinchatError(
            f"the environment variable {variable} is not set: put the token BotFather gave you "
            f"in it (export {variable}=123456:ABC...)"
        )
    return token


def run_bot(
    run: str | Path,
    token: str,
    allow: set[int],
    as_: str | None,
    base_url: str | None = None,
    base_file_url: str | None = None,
    n: int = CANDIDATES,
    backend: str | None = None,
) -> None:
    """Load the run (on `backend`, default the folder's own) and answer Telegram updates as its
    clone until interrupted (Ctrl-C).

    Raises:
        TwinchatError: no id allowed, `as_` unknown to the model, the token rejected or the
            Bot API unreachable.
    """
    from twinchat.inference.suggester import Suggester

    if not allow:
        raise TwinchatError(
            "no chat is allowed: give --allow ID (your user id, a group's id); "
            "the bot logs the ids of the chats it ignores"
        )
    _log_to_stderr()
    suggester = Suggester.load(run, backend=backend)
    # A first call checks the name now, as one line, rather than failing at every mention; it
    # also warms the model up.
    suggester.suggest([], as_=as_, n=1, greedy=True, max_new_tokens=1)
    application = build_application(
        suggester, token, allow, as_, n=n, base_url=base_url, base_file_url=base_file_url
    )
    # Until the bot is online, a failure is ours to tell in one line: the library would log it
    # first with its traceback (about 100 lines for an unreachable Bot API).
    library = logging.getLogger("telegram")
    level = library.level
    library.setLevel(logging.CRITICAL)
    introduce = application.post_init

    async def online(app: Application) -> None:
        library.setLevel(level)
        if introduce is not None:
            await introduce(app)

    application.post_init = online
    try:
        with _own_loop():
            application.run_polling(allowed_updates=ALLOWED_UPDATES, close_loop=False)
    except InvalidToken:
        raise TwinchatError(
            "Telegram rejected the bot token: copy it again from BotFather (/token)"
        ) from None
    except NetworkError as error:
        raise TwinchatError(
            f"cannot reach the Telegram Bot API ({error.message}): check the network"
        ) from None
    finally:
        library.setLevel(level)


@contextmanager
def _own_loop() -> Iterator[None]:
    """A fresh event loop for one bot, closed after it with the signal handlers put back.

    The library adds its stop-signal handlers to the loop, and with them the process's signal
    wakeup fd. Left open, the loop keeps them after the bot: a later SIGTERM would not reach
    the CLI's handler, and once the loop is collected a signal is written to a closed fd, or to
    whatever file reuses its number.
    """
    stops = (signal.SIGINT, signal.SIGTERM, signal.SIGABRT)
    handlers = {number: signal.getsignal(number) for number in stops}
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield
    finally:
        loop.close()  # removes the library's handlers and resets the wakeup fd
        asyncio.set_event_loop(None)
        for number, handler in handlers.items():
            if handler is not None:  # None: set outside Python, nothing to put back
                signal.signal(number, handler)


def build_application(
    suggester: Suggester,
    token: str,
    allow: set[int],
    as_: str | None,
    *,
    n: int = CANDIDATES,
    base_url: str | None = None,
    base_file_url: str | None = None,
    pause: float = PAUSE,
) -> Application:
    """The python-telegram-bot application with the clone's handlers, not started yet.

    `base_url` and `base_file_url` point it at another Bot API server (a local one, a fake).
    """
    twin = Twin(suggester, allow, as_, n, pause)
    # Concurrent updates: while the model thinks, messages keep arriving as group context and
    # forwarded batches; model calls still go one at a time (`Twin.model_lock`).
    builder = ApplicationBuilder().token(token).concurrent_updates(True).post_init(twin.introduce)
    if base_url is not None:
        builder = builder.base_url(base_url)
    if base_file_url is not None:
        builder = builder.base_file_url(base_file_url)
    application = builder.build()
    twin.register(application)
    return application


class Twin:
    """The handlers and what they remember: group messages, private batches, offered replies."""

    def __init__(
        self, suggester: Suggester, allow: set[int], as_: str | None, n: int, pause: float
    ):
        self.suggester = suggester
        self.window = suggester.description.window
        """The context `prepare` cut for training (messages, characters, session gap): a group
        context is cut the same way, so the model reads what it learnt from."""
        self.allow = frozenset(allow)
        self.as_ = as_
        self.n = n
        self.pause = pause
        self.model_lock = asyncio.Lock()
        self.history: dict[int, deque[tuple[datetime, Turn]]] = {}
        self.pending: dict[int, list[Turn | str]] = {}
        """Per private chat: forwarded messages (turns) and pasted texts not answered yet."""
        self.timers: dict[int, asyncio.TimerHandle] = {}
        self.last: dict[int, list[Turn]] = {}
        """Per private chat: the conversation answered last, for `/suggest NAME`."""
        self.offers: OrderedDict[int, tuple[int, list[str]]] = OrderedDict()
        """Per offer: the private chat (the user) it was made to, and its texts."""
        self.offer_ids = itertools.count()

    def register(self, application: Application) -> None:
        """Add the handlers, behind the gate that drops updates from chats not allowed."""
        private = filters.ChatType.PRIVATE
        # New messages only: an edit is not a new message to answer.
        texts = filters.UpdateType.MESSAGE & (filters.TEXT | filters.CAPTION) & ~filters.COMMAND
        application.add_handler(TypeHandler(Update, self.gate), group=-1)
        application.add_handlers(
            [
                CommandHandler(["start", "help"], self.show_help, filters=private),
                CommandHandler("suggest", self.suggest_now, filters=private),
                MessageHandler(private & texts, self.collect),
                MessageHandler(filters.ChatType.GROUPS & texts, self.group_message),
                CallbackQueryHandler(self.pick, pattern=r"^pick:\d+:\d+$"),
            ]
        )
        application.add_error_handler(self.failed)

    async def introduce(self, application: Application) -> None:
        """Log who the bot is and what it will do; list its commands in Telegram's menu."""
        me = application.bot.bot
        allowed = ", ".join(str(i) for i in sorted(self.allow))
        log.info("@%s is online; it answers chats and users %s", me.username, allowed)
        if self.as_ is None:
            log.info("no --as: in groups the bot only listens; give --as NAME to answer mentions")
        else:
            log.info("in groups it answers mentions and replies as %s", self.as_)
        if not me.can_read_all_group_messages:
            log.warning(
                "privacy mode is on: in groups the bot sees only the messages addressed to it, "
                "so it answers with little context; turn it off in BotFather (/setprivacy, "
                "Disable), then remove the bot from each group and add it again"
            )
        commands = [
            BotCommand("suggest", "Replies now; /suggest NAME: replies as NAME"),
            BotCommand("help", "What this bot does"),
        ]
        await application.bot.set_my_commands(commands, scope=BotCommandScopeAllPrivateChats())

    async def gate(self, update: Update, context: Context) -> None:
        """Let through only updates from allowed chats; log the others by id, never their text."""
        chat = update.effective_chat
        if chat is not None and chat.id in self.allow:
            return
        user = update.effective_user
        log.info(
            "ignored update %s from user %s in %s chat %s: not in --allow",
            update.update_id,
            user.id if user else "-",
            chat.type if chat else "no",
            chat.id if chat else "-",
        )
        raise ApplicationHandlerStop

    async def show_help(self, update: Update, context: Context) -> None:
        """`/start`, `/help`: what the bot does, here and in groups."""
        as_ = f"replies as {self.as_}" if self.as_ else "replies as whoever is likely next"
        group = (
            f"In a group I answer as {self.as_} when a message mentions me or replies to me."
            if self.as_
            else "In a group I only listen: start me with --as NAME to answer mentions."
        )
        await update.effective_message.reply_text(
            "I suggest replies in the voice of the people I was trained on.\n\n"
            'Paste a conversation here, one message a line as "Name: text" (or copied from '
            "Telegram Desktop, or JSON), or forward me messages from another chat. A few "
            f"seconds later I offer {as_} as buttons: tap one and I send it back as a message "
            "to copy. A comment added to a forward is left out.\n\n"
            "/suggest answers at once; /suggest NAME offers replies as NAME to the last "
            f"conversation.\n\n{group}"
        )

    async def group_message(self, update: Update, context: Context) -> None:
        """Remember the message; answer it as the persona when it is addressed to the bot."""
        message = update.effective_message
        bot = context.bot
        addressed = _addressed(message, bot)
        text = _without_mention(message.text or message.caption or "", bot.username)
        memory = self.history.setdefault(message.chat_id, deque(maxlen=self.window.max_context))
        if text:
            memory.append((message.date, Turn(_sender(message), text)))
        if not addressed:
            return
        if self.as_ is None:
            log.info("chat %s: addressed, but no --as to answer as", message.chat_id)
            return
        candidates = await self._suggest(self.window.session(memory, message.date), self.as_)
        if not candidates:
            log.info("chat %s: no candidate survived curation", message.chat_id)
            return
        sent = await message.reply_text(candidates[0].text, do_quote=True)
        # Telegram never shows a bot its own messages: remember the answer as context here.
        memory.append((sent.date, Turn(self.as_, candidates[0].text)))
        log.info("chat %s: answered message %s", message.chat_id, message.message_id)

    async def collect(self, update: Update, context: Context) -> None:
        """Add a pasted or forwarded message to the chat's batch; answer after a pause."""
        message = update.effective_message
        text = message.text or message.caption or ""
        origin = message.forward_origin
        piece = Turn(_origin_name(origin), text) if origin is not None else text
        self.pending.setdefault(message.chat_id, []).append(piece)
        self._cancel_timer(message.chat_id)
        # A timer rather than a sleeping task: cancelling it leaves nothing behind to await.
        self.timers[message.chat_id] = asyncio.get_running_loop().call_later(
            self.pause, self._answer_batch, message.chat_id, context.application
        )

    async def suggest_now(self, update: Update, context: Context) -> None:
        """`/suggest [NAME]`: answer the batch now, or the last conversation again."""
        chat_id = update.effective_chat.id
        self._cancel_timer(chat_id)
        name = " ".join(context.args or []).strip() or self.as_
        await self._offer(chat_id, context.bot, name)

    async def pick(self, update: Update, context: Context) -> None:
        """Send a tapped candidate back as a plain message, ready to copy."""
        query = update.callback_query
        _, offer, index = query.data.split(":")
        owner, texts = self.offers.get(int(offer), (None, []))
        chat = update.effective_chat.id
        if owner is not None and (chat != owner or query.from_user.id != owner):
            # callback data is the client's to send: another user may name someone's offer
            log.info("refused offer %s to user %s in chat %s: not theirs", offer,
                     query.from_user.id, chat)  # fmt: skip
            await query.answer("These replies were not offered to you: send /suggest.")
            return
        if int(index) >= len(texts):
            await query.answer("These replies are too old: ask again with /suggest.")
            return
        await query.answer()
        await context.bot.send_message(chat, texts[int(index)])

    async def failed(self, update: object, context: Context) -> None:
        """Log a handler's error by update id: the traceback, never the update's text."""
        number = update.update_id if isinstance(update, Update) else None
        log.error("update %s failed", number, exc_info=context.error)

    def _answer_batch(self, chat_id: int, application: Application) -> None:
        del self.timers[chat_id]
        application.create_task(self._offer(chat_id, application.bot, self.as_))

    def _cancel_timer(self, chat_id: int) -> None:
        timer = self.timers.pop(chat_id, None)
        if timer is not None:
            timer.cancel()

    async def _offer(self, chat_id: int, bot: Bot, as_: str | None) -> None:
        """Reply candidates to the chat's batch, or to its last conversation, as buttons."""
        pieces = self.pending.pop(chat_id, None)
        try:
            if pieces:
                self.last[chat_id] = batch_conversation(pieces)
            conversation = self.last.get(chat_id)
            if conversation is None:
                await bot.send_message(
                    chat_id, "Nothing to answer yet: paste a conversation or forward me messages."
                )
                return
            candidates = await self._suggest(conversation, as_)
        except TwinchatError as error:
            await bot.send_message(chat_id, str(error))
            return
        if not candidates:
            await bot.send_message(
                chat_id, "No reply survived curation: send more of the conversation or /suggest."
            )
            return
        offer = next(self.offer_ids)
        self.offers[offer] = (chat_id, [c.text for c in candidates])
        while len(self.offers) > KEPT_OFFERS:
            self.offers.popitem(last=False)
        buttons = [
            [InlineKeyboardButton(_label(c, as_), callback_data=f"pick:{offer}:{i}")]
            for i, c in enumerate(candidates)
        ]
        who = f"as {as_}" if as_ else "as whoever is likely next"
        await bot.send_message(
            chat_id,
            f"Replies {who}, best first: tap one to get it as a message to copy.",
            reply_markup=InlineKeyboardMarkup(buttons),
        )

    async def _suggest(self, conversation: list[Turn], as_: str | None) -> list[Candidate]:
        # A model call blocks for seconds and uses every core: run it in a thread, so updates
        # keep coming in, and one at a time.
        async with self.model_lock:
            return await asyncio.to_thread(self.suggester.suggest, conversation, as_=as_, n=self.n)


def batch_conversation(pieces: Sequence[Turn | str]) -> list[Turn]:
    """The conversation of a private batch: forwarded messages as they are, pasted texts parsed
    (consecutive ones together: Telegram splits a long paste into several messages).

    Raises:
        TwinchatError: a pasted text is not a conversation and no message was forwarded with
            it (with forwards, it is the comment Telegram lets one add, and is left out).
    """
    forwarded = any(isinstance(piece, Turn) for piece in pieces)
    turns: list[Turn] = []
    for is_turn, group in itertools.groupby(pieces, key=lambda piece: isinstance(piece, Turn)):
        if is_turn:
            turns.extend(group)
            continue
        try:
            turns.extend(parse_conversation("\n".join(group)))
        except TwinchatError:
            if not forwarded:
                raise
    if not turns:
        raise TwinchatError("no message to answer: forward messages that have text")
    return turns


def _addressed(message: Message, bot: Bot) -> bool:
    """Whether a group message mentions the bot or replies to one of its messages."""
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
        return True
    kinds = [MessageEntity.MENTION, MessageEntity.TEXT_MENTION]
    if message.text is not None:
        entities = message.parse_entities(kinds)
    else:
        entities = message.parse_caption_entities(kinds)
    name = f"@{bot.username}".casefold()
    return any(
        (entity.user is not None and entity.user.id == bot.id) or text.casefold() == name
        for entity, text in entities.items()
    )


def _without_mention(text: str, username: str) -> str:
    """The text without `@username`: the model never saw the bot's name in training."""
    return re.sub(rf"[ \t]*@{re.escape(username)}\b[,:]?", "", text, flags=re.IGNORECASE).strip()


def _sender(message: Message) -> str:
    """The name a group shows for a message's sender (an anonymous admin's is the group's)."""
    if message.sender_chat is not None:
        return message.sender_chat.title or UNKNOWN_SENDER
    if message.from_user is not None:
        return message.from_user.full_name
    return UNKNOWN_SENDER


def _origin_name(origin: MessageOrigin) -> str:
    """Who wrote a forwarded message, as the chat it comes from showed them."""
    if isinstance(origin, MessageOriginUser):
        return origin.sender_user.full_name
    if isinstance(origin, MessageOriginHiddenUser):
        return origin.sender_user_name
    if isinstance(origin, MessageOriginChat):
        return origin.author_signature or origin.sender_chat.title or UNKNOWN_SENDER
    if isinstance(origin, MessageOriginChannel):
        return origin.author_signature or origin.chat.title or UNKNOWN_SENDER
    return UNKNOWN_SENDER


def _label(candidate: Candidate, as_: str | None) -> str:
    return candidate.text if as_ else f"{candidate.speaker}: {candidate.text}"


def _log_to_stderr() -> None:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(message)s", level=logging.INFO)
    # httpx logs every request at INFO, and the request URLs contain the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
