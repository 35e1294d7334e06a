"""The list: mail identity (change-id, Message-Ids), headers, format, mailboxes, trailers, revisions, send, import."""
