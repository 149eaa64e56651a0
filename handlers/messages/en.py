"""English."""

MESSAGES: dict[str, str] = {
    "common.cancel_button": "Cancel",
    "common.cancelled": "Cancelled. Send /help to see what else you can do.",
    "common.nothing_to_cancel": "There is nothing to cancel.",
    "common.expired": "Your previous conversation timed out. Please start again.",
    "common.error": "Sorry, something went wrong on my side. Please try again in a moment.",
    "common.unknown_command": "Unknown command: {command}\nSend /help to see the commands.",
    "common.not_understood": "How can I help? Send /help to see the commands.",
    "common.private_only": "This handles a password, so it only works in a private chat. Message me directly.",
    "common.not_admin": "That command is for admins only.",
    "common.members_only": "That command is for members. Ask an admin for an invite code.",
    "stranger.how_to_join": (
        "Hello! I run an Instagram comment-exchange community.\n"
        "To join, get an invite code from an admin and send /start CODE."
    ),
    "start.welcome_member": "Hello, @{username}! Send /help to see what you can do.",
    "start.welcome_admin": "Hello, admin! Send /help to see what you can do.",
    "invite.linked": "Linked to @{username}. Welcome! Send /help to get started.",
    "invite.invalid": "I can't find that invite code. Please check it.",
    "invite.used": "That invite code was already used. Ask an admin for a new one.",
    "invite.expired": "That invite code has expired. Ask an admin for a new one.",
    "invite.platform_taken": "This member already has another account linked here. Ask an admin.",
    "help.header": "What you can do:",
    "help.line": "/{command} — {description}",
    "help.keywords": "Buttons and words like 'help' or 'cancel' work too.",
    "cmd.start": "start (with an invite: /start CODE)",
    "cmd.help": "list the commands",
    "cmd.lang": "change language (한국어 / English)",
    "cmd.cancel": "cancel what is in progress",
    "cmd.claim": "claim admin rights (/claim CODE)",
    "cmd.addhelper": "add a helper Instagram account",
    "cmd.helpers": "list the helper accounts",
    "lang.choose": "Choose a language.",
    "lang.set": "I will speak English from now on.",
    "lang.unknown": "Unsupported language: {value}. Choose one below.",
    "claim.usage": "Send the admin code with it: /claim CODE",
    "claim.claimed": "You are now an admin. /help lists the admin commands.",
    "claim.already_admin": "You are already an admin.",
    "claim.invalid": "That code is wrong or was already used.",
    "claim.expired": "That code has expired. Ask the operator for a new one.",
    "claim.throttled": "Too many wrong codes. Try again in an hour.",
    "addhelper.ask_username": "Send the Instagram username of the helper account (e.g. @helper.account).",
    "addhelper.bad_username": (
        "That is not an Instagram username: {value}\n"
        "Use up to 30 lower-case letters, digits, periods (.) and underscores (_)."
    ),
    "addhelper.exists": "@{username} is already a helper. Send another username.",
    "addhelper.ask_password": (
        "Send the password of @{username}. I delete it from the chat at once and store it encrypted."
    ),
    "addhelper.password_empty": "The password is empty. Please send it again.",
    "addhelper.saved": "Saved @{username} as a helper. It logs in on first use.",
    "helpers.empty": "No helper accounts yet. Add one with /addhelper.",
    "helpers.header": "Helper accounts ({count}):",
    "helpers.line": "• @{username} — {status}",
    "helper_status.new": "not logged in yet",
    "helper_status.ready": "ready",
    "helper_status.cooling": "cooling down",
    "helper_status.checkpoint": "needs verification",
    "helper_status.disabled": "off",
}
