"""The list: mail identity (change-id, Message-Ids), headers, format, mailboxes, trailers, revisions, send, import."""

TRANSPORTS = ("smtp", "git-send-email")  # how send hands the mails over (the first is the default)
SMTP_ENCRYPTIONS = ("none", "starttls", "ssl")
