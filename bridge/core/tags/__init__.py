"""Tags, the words a community files its conversations under (DESIGN §9).

Pure rules, no store: how a tag name is folded (``names``), where people write tags (``hashtags`` in
bodies, ``subjects`` in mail subjects, ``mail_lines`` for a core member's ``Tags:`` line), how the
convener's taxonomy maps spellings onto one tag and suggests tags from keywords (``taxonomy``), and what
one post files (``filing``). The relay stores what these decide, in the transaction of the post.
"""
