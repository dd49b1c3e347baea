-- Meeting reminders: one row per (meeting, reminder) sent, written with the bridge's post that carries
-- it, so a restart or a second process never sends it twice; the meeting's notes thread is found here.

CREATE TABLE "meeting_reminder" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "series_key" VARCHAR(100) NOT NULL,
    "meeting_number" INT NOT NULL,
    "minutes_before" INT NOT NULL,
    "meeting_start" TIMESTAMP NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "community_id" INT NOT NULL REFERENCES "community" ("id") ON DELETE CASCADE,
    "post_id" INT NOT NULL UNIQUE REFERENCES "post" ("id") ON DELETE CASCADE,
    "thread_id" INT NOT NULL REFERENCES "thread" ("id") ON DELETE CASCADE,
    CONSTRAINT "uq_meeting_reminder_community_series_key_meeting_number_minutes_before" UNIQUE ("community_id", "series_key", "meeting_number", "minutes_before")
);
