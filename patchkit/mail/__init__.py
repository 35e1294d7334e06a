"""Mail: output directories patchkit owns, header hygiene, Message-Ids, trailers and sending."""
