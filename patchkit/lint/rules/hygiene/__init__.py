"""Patch hygiene: rules over each patch's data (subject, sign-off, trailers, body) and the lines its diff adds."""
