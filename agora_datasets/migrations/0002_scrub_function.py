"""agora_scrub(jsonb): a metadata value without the keys that could name a person, at any depth, in SQL.

The same rule as agora_datasets/exports/privacy.py's ``scrub`` (its IDENTIFYING_KEY, with "-" read as "_"),
for the lines PostgreSQL builds itself (exports/sql.py's ``raw_rows_sql``); tests/datasets/test_raw_stream.py
checks both give the same values and that the pattern here is privacy.py's."""

from django.db import migrations

PATTERN = r"(^|_)(ip|ips|ip_address|address|remote_addr|x_forwarded_for|email|e_mail|mail)($|_)"

CREATE = rf"""
CREATE OR REPLACE FUNCTION agora_scrub(value jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE jsonb_typeof(value)
        WHEN 'object' THEN (
            SELECT coalesce(jsonb_object_agg(key, agora_scrub(item)), '{{}}'::jsonb)
            FROM jsonb_each(value) AS e(key, item)
            WHERE replace(key, '-', '_') !~* '{PATTERN}')
        WHEN 'array' THEN (
            SELECT coalesce(jsonb_agg(agora_scrub(item) ORDER BY n), '[]'::jsonb)
            FROM jsonb_array_elements(value) WITH ORDINALITY AS a(item, n))
        ELSE value
    END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("datasets", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, reverse_sql="DROP FUNCTION IF EXISTS agora_scrub(jsonb)")]
