"""The apps over a run: the HTTP server and its page, the Telegram bot, the group chat, the demo."""
