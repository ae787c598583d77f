"""CSV imports of users (Audience > Import Users and `manage.py import_users`).

A file is read as a stream, each row normalized once (users.identifiers), and rows are written
in batches: PostgreSQL COPYs a batch into a temporary table, SQLite inserts it with executemany,
then one INSERT … SELECT … ON CONFLICT (app_group, external_id) upserts profiles and one more the
imported ad ids. Imports are idempotent on external_id; an empty cell leaves the stored value.

Columns: external_id (required), email, phone, first_name, last_name, idfa, google_ad_id,
ad_tracking_enabled, the other Braze standard fields (country, language, dob, gender, home_city,
time_zone, email_subscribe, push_subscribe), and any other column as a custom attribute
("true"/"false" become booleans, plain integers and decimals numbers, the rest strings).
Ad ids and ad tracking go on one device per profile, "csv-import" (Braze keeps ad ids on
devices; docs/ARCHITECTURE.md D13).

reader.py turns a CSV byte stream into normalized rows, writer.py writes batches of them, and
lifecycle.py runs an import from start to end (uploads, claiming, running, the report).
"""
