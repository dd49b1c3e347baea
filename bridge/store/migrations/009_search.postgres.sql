-- Search: every visible post carries a weighted tsvector (its thread's subject A, its text B, its author's
-- name and address D) in "post"."search_document", set by triggers inside the transaction that writes the
-- post, indexed with GIN, and built here for the posts already stored. Words fold case and diacritics:
-- the text search configuration "icop_search" runs the unaccent dictionary before simple (no stemming, no
-- stop words, as SQLite's FTS5 index does). unaccent ships with PostgreSQL's contrib (Debian's postgresql
-- package includes it) and is a trusted extension: a database owner may create it.
--
-- Punctuation and symbols become spaces before the parser sees the text, so an address or a URL is cut
-- into words as FTS5 cuts it (from:example.org finds ana@example.org). Only the first 100,000 characters
-- of a post are indexed (a tsvector has a size limit).

CREATE EXTENSION IF NOT EXISTS unaccent;

CREATE TEXT SEARCH CONFIGURATION icop_search (COPY = simple);
ALTER TEXT SEARCH CONFIGURATION icop_search
    ALTER MAPPING FOR asciiword, word, numword, asciihword, hword, numhword, hword_asciipart, hword_part,
                      hword_numpart
    WITH unaccent, simple;

CREATE FUNCTION icop_search_words(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regexp_replace(
        coalesce(value, ''),
        '[[:punct:]¡-©«-´¶-¸»¿×÷\u2000-\u2bff\u3000-\u303f\ufe30-\ufe4f\uff01-\uff0f\uff1a-\uff20\U0001f000-\U0001faff]+',
        ' ', 'g')
$$;

CREATE FUNCTION icop_search_document(subject text, body text, author text) RETURNS tsvector
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT setweight(to_tsvector('icop_search', icop_search_words(subject)), 'A')
        || setweight(to_tsvector('icop_search', icop_search_words(left(body, 100000))), 'B')
        || setweight(to_tsvector('icop_search', icop_search_words(author)), 'D')
$$;

ALTER TABLE "post" ADD COLUMN "search_document" tsvector;

UPDATE "post" p
SET "search_document" = icop_search_document(t."subject", p."body_text", p."author_name" || ' ' || p."author_address")
FROM "thread" t
WHERE t."id" = p."thread_id" AND p."state" = 'visible';

CREATE INDEX "ix_post_search_document" ON "post" USING gin ("search_document");
CREATE INDEX "ix_post_created_at" ON "post" ("created_at");

CREATE FUNCTION icop_post_search_document() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW."state" = 'visible' THEN
        NEW."search_document" := icop_search_document(
            (SELECT "subject" FROM "thread" WHERE "id" = NEW."thread_id"),
            NEW."body_text",
            NEW."author_name" || ' ' || NEW."author_address");
    ELSE
        NEW."search_document" := NULL;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER "post_search_insert" BEFORE INSERT ON "post"
FOR EACH ROW EXECUTE FUNCTION icop_post_search_document();

CREATE TRIGGER "post_search_update"
BEFORE UPDATE OF "state", "body_text", "author_name", "author_address", "thread_id" ON "post"
FOR EACH ROW
WHEN (OLD."state" IS DISTINCT FROM NEW."state" OR OLD."body_text" IS DISTINCT FROM NEW."body_text"
      OR OLD."author_name" IS DISTINCT FROM NEW."author_name"
      OR OLD."author_address" IS DISTINCT FROM NEW."author_address"
      OR OLD."thread_id" IS DISTINCT FROM NEW."thread_id")
EXECUTE FUNCTION icop_post_search_document();

CREATE FUNCTION icop_thread_search_subject() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE "post"
    SET "search_document" = icop_search_document(NEW."subject", "body_text", "author_name" || ' ' || "author_address")
    WHERE "thread_id" = NEW."id" AND "state" = 'visible';
    RETURN NULL;
END
$$;

CREATE TRIGGER "post_search_thread_subject" AFTER UPDATE OF "subject" ON "thread"
FOR EACH ROW WHEN (OLD."subject" IS DISTINCT FROM NEW."subject")
EXECUTE FUNCTION icop_thread_search_subject();
