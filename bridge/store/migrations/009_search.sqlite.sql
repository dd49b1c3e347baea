-- Search: every visible post in an FTS5 index (its thread's subject, its text, its author's name and
-- address), kept in step by triggers inside the transaction that writes the post, and built here for
-- the posts already stored. The index is contentless (it keeps words, not a copy of the text) and folds
-- case and diacritics (unicode61, remove_diacritics 2).
--
-- A contentless FTS5 table forgets a document only when told the exact values it indexed, so every
-- trigger computes them from the same expressions: a thread's posts leave the index before the thread,
-- and a changed thread subject re-indexes its posts. Only the first 100,000 characters of a post are
-- indexed (PostgreSQL's tsvector has a size limit; the same cut keeps both engines alike).

CREATE INDEX "ix_post_created_at" ON "post" ("created_at");

CREATE VIRTUAL TABLE "post_search" USING fts5(
    "subject", "body", "author",
    content = '',
    tokenize = 'unicode61 remove_diacritics 2'
);

INSERT INTO "post_search" ("rowid", "subject", "body", "author")
SELECT p."id", t."subject", substr(p."body_text", 1, 100000), p."author_name" || ' ' || p."author_address"
FROM "post" p JOIN "thread" t ON t."id" = p."thread_id"
WHERE p."state" = 'visible';

CREATE TRIGGER "post_search_insert" AFTER INSERT ON "post" WHEN new."state" = 'visible' BEGIN
    INSERT INTO "post_search" ("rowid", "subject", "body", "author")
    SELECT new."id", t."subject", substr(new."body_text", 1, 100000),
           new."author_name" || ' ' || new."author_address"
    FROM "thread" t WHERE t."id" = new."thread_id";
END;

CREATE TRIGGER "post_search_update" AFTER UPDATE OF "state", "body_text", "author_name", "author_address", "thread_id" ON "post"
WHEN (old."state" = 'visible' OR new."state" = 'visible')
 AND (old."state" IS NOT new."state" OR old."body_text" IS NOT new."body_text"
      OR old."author_name" IS NOT new."author_name" OR old."author_address" IS NOT new."author_address"
      OR old."thread_id" IS NOT new."thread_id")
BEGIN
    INSERT INTO "post_search" ("post_search", "rowid", "subject", "body", "author")
    SELECT 'delete', old."id", t."subject", substr(old."body_text", 1, 100000),
           old."author_name" || ' ' || old."author_address"
    FROM "thread" t WHERE t."id" = old."thread_id" AND old."state" = 'visible';
    INSERT INTO "post_search" ("rowid", "subject", "body", "author")
    SELECT new."id", t."subject", substr(new."body_text", 1, 100000),
           new."author_name" || ' ' || new."author_address"
    FROM "thread" t WHERE t."id" = new."thread_id" AND new."state" = 'visible';
END;

CREATE TRIGGER "post_search_delete" AFTER DELETE ON "post" WHEN old."state" = 'visible' BEGIN
    INSERT INTO "post_search" ("post_search", "rowid", "subject", "body", "author")
    SELECT 'delete', old."id", t."subject", substr(old."body_text", 1, 100000),
           old."author_name" || ' ' || old."author_address"
    FROM "thread" t WHERE t."id" = old."thread_id";
END;

CREATE TRIGGER "post_search_thread_subject" AFTER UPDATE OF "subject" ON "thread"
WHEN old."subject" IS NOT new."subject" BEGIN
    INSERT INTO "post_search" ("post_search", "rowid", "subject", "body", "author")
    SELECT 'delete', p."id", old."subject", substr(p."body_text", 1, 100000),
           p."author_name" || ' ' || p."author_address"
    FROM "post" p WHERE p."thread_id" = new."id" AND p."state" = 'visible';
    INSERT INTO "post_search" ("rowid", "subject", "body", "author")
    SELECT p."id", new."subject", substr(p."body_text", 1, 100000),
           p."author_name" || ' ' || p."author_address"
    FROM "post" p WHERE p."thread_id" = new."id" AND p."state" = 'visible';
END;

CREATE TRIGGER "post_search_thread_delete" BEFORE DELETE ON "thread" BEGIN
    DELETE FROM "post" WHERE "thread_id" = old."id";
END;

CREATE TRIGGER "post_search_community_delete" BEFORE DELETE ON "community" BEGIN
    DELETE FROM "post" WHERE "community_id" = old."id";
END;
