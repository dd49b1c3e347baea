"""Pure text and HTML conversion shared by the Matrix and email adapters.

No I/O here: sanitising HTML from either side, HTML to plain text, Markdown to HTML,
trimming quoted history from mail replies, decoding mail charsets and Matrix mentions.
"""
