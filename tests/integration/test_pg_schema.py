"""The PostgreSQL schema (src/core/store/postgres/*.sql) reaches the same
tables and columns as the SQLite database the real binary migrates (issue
14): a real PostgreSQL 15 cluster of this module's own, the files applied
in name order, both catalogs read back and compared. A SQLite migration
without its PostgreSQL twin fails here, since the SQLite side is whatever
the binary creates, not a list written down in this file.

The PostgreSQL binaries come from Debian's `postgresql` package (make
deps-test); tests run as root, so the cluster runs as the `postgres` user,
in a temporary directory, listening only on a Unix socket there."""

import glob
import os
import re
import sqlite3
import subprocess

import pytest

from conftest import SOURCE_DIR, base_env, otpgate_bin, sanitizer_report
from pgcluster import Cluster

SCHEMA_DIR = os.path.join(SOURCE_DIR, "src", "core", "store", "postgres")


def schema_files():
    files = sorted(glob.glob(os.path.join(SCHEMA_DIR, "*.sql")))
    assert files, "no PostgreSQL schema files in %s" % SCHEMA_DIR
    return files


@pytest.fixture(scope="module")
def pg():
    """A running cluster with database `otpgate` brought up by every file of
    src/core/store/postgres/ in name order."""
    c = Cluster()
    try:
        c.start()
        c.psql("CREATE DATABASE otpgate", db="postgres")
        for path in schema_files():
            with open(path) as f:
                p = c.psql(file_text=f.read(), check=False)
            if p.returncode != 0:
                pytest.fail("%s does not apply:\n%s" % (os.path.relpath(path, SOURCE_DIR),
                                                        p.stderr))
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def sqlite_db(tmp_path_factory):
    """The SQLite database the real binary makes in a fresh data directory."""
    d = tmp_path_factory.mktemp("pgschema")
    data = d / "data"
    p = subprocess.run([otpgate_bin(), "app", "list"], cwd=str(d),
                       env=base_env({"OTPGATE_DATA_DIR": str(data)}),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    report = sanitizer_report(p.stderr)
    if report:
        pytest.fail("sanitizer report from otpgate app list:\n%s" % report)
    assert p.returncode == 0, p.stderr
    path = data / "otpgate.db"
    assert path.exists(), "otpgate app list made no %s" % path
    return str(path)


# ---- both catalogs, in one normal form -----------------------------------


def sqlite_type_class(decl):
    """SQLite's affinity rules (datatype3.html, 3.1) on a declared type."""
    t = decl.upper()
    if "INT" in t:
        return "integer"
    if "CHAR" in t or "CLOB" in t or "TEXT" in t:
        return "text"
    if "BLOB" in t or not t:
        return "blob"
    if "REAL" in t or "FLOA" in t or "DOUB" in t:
        return "real"
    return "numeric"


PG_TYPE_CLASS = {
    "bigint": "integer", "integer": "integer", "smallint": "integer",
    "text": "text", "character varying": "text", "character": "text",
    "bytea": "blob", "double precision": "real", "real": "real", "numeric": "numeric",
}

PG_ON_DELETE = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL",
                "d": "SET DEFAULT"}


def norm_expr(text):
    """A loose normal form of a WHERE / CHECK / DEFAULT expression, so that
    SQLite's text as written and PostgreSQL's deparsed text compare equal:
    no casts, `= ANY (ARRAY[...])` read as `IN (...)`, lower case, and no
    spaces, parentheses or quotes."""
    if text is None:
        return None
    s = text.lower()
    s = re.sub(r"^check\s*", "", s)
    s = re.sub(r"::[a-z_ ]+(\[\])?", "", s)
    s = re.sub(r"=\s*any\s*\(\s*array\[(.*?)\]\s*\)", r" in (\1)", s)
    return re.sub(r"[\s()'\"`\[\]]", "", s)


LITERAL = r"'((?:[^']|'')*)'"


def check_form(expr):
    """(shape, allowed literals) of a CHECK expression: the shape is its
    normal form with every string literal replaced by ?."""
    values = frozenset(m.replace("''", "'") for m in re.findall(LITERAL, expr))
    return norm_expr(re.sub(LITERAL, "?", expr)), values


def sqlite_checks(create_sql):
    """{column: check_form(expression)} of the CHECK clauses in a
    CREATE TABLE text; the column is the expression's first identifier."""
    out = {}
    for m in re.finditer(r"\bCHECK\s*\(", create_sql, re.I):
        depth, i = 1, m.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(create_sql[i], 0)
            i += 1
        expr = create_sql[m.end():i - 1]
        col = re.match(r"\s*\"?(\w+)", expr).group(1)
        out[col] = check_form(expr)
    return out


def read_sqlite(path):
    con = sqlite3.connect(path)
    try:
        q = lambda sql, *a: con.execute(sql, a).fetchall()  # noqa: E731
        version = q("PRAGMA user_version")[0][0]
        schema = {}
        for (table, create_sql) in q("SELECT name, sql FROM sqlite_master WHERE type = 'table' "
                                     "AND name NOT LIKE 'sqlite_%'"):
            info = q("SELECT cid, name, type, \"notnull\", dflt_value, pk "
                     "FROM pragma_table_info(?)", table)
            pk = tuple(r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5]))
            columns = []
            for _, name, decl, notnull, dflt, in_pk in info:
                rowid_alias = pk == (name,) and decl.upper() == "INTEGER"
                # A PRIMARY KEY column is NOT NULL in PostgreSQL always, and
                # meant so here: SQLite's NULL-in-key quirk is not schema.
                columns.append((name, sqlite_type_class(decl), bool(notnull or in_pk),
                                norm_expr(dflt), rowid_alias))
            fks = set()
            for fk_id in sorted({r[0] for r in q("SELECT id FROM pragma_foreign_key_list(?)",
                                                 table)}):
                rows = sorted(q("SELECT seq, \"table\", \"from\", \"to\", on_delete "
                                "FROM pragma_foreign_key_list(?) WHERE id = ?", table, fk_id))
                ref = rows[0][1]
                to = tuple(r[3] for r in rows)
                if None in to:  # REFERENCES t without columns: t's primary key
                    to = tuple(r[1] for r in sorted(
                        (r for r in q("SELECT cid, name, pk FROM pragma_table_info(?)", ref)
                         if r[2]), key=lambda r: r[2]))
                fks.add((tuple(r[2] for r in rows), ref, to, rows[0][4].upper()))
            uniques, indexes = set(), {}
            for _, iname, unique, origin, partial in q("SELECT seq, name, \"unique\", origin, "
                                                       "partial FROM pragma_index_list(?)",
                                                       table):
                cols = tuple(r[0] for r in q("SELECT name FROM pragma_index_info(?) "
                                             "ORDER BY seqno", iname))
                if origin == "u":
                    uniques.add(cols)
                elif origin == "c":
                    isql = q("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?",
                             iname)[0][0]
                    where = None
                    if partial:
                        where = norm_expr(re.split(r"\bWHERE\b", isql, maxsplit=1,
                                                   flags=re.I)[1])
                    indexes[iname] = (cols, bool(unique), where)
            schema[table] = {"columns": columns, "pk": pk, "fks": fks, "uniques": uniques,
                             "indexes": indexes, "checks": sqlite_checks(create_sql)}
        return schema, version
    finally:
        con.close()


def read_pg(pg):
    schema = {}
    for (table,) in pg.rows("SELECT table_name FROM information_schema.tables "
                            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"):
        schema[table] = {"columns": [], "pk": (), "fks": set(), "uniques": set(),
                         "indexes": {}, "checks": {}}
    for table, name, dtype, nullable, dflt, identity in pg.rows(
            "SELECT table_name, column_name, data_type, is_nullable, "
            "coalesce(column_default, '\\N'), is_identity FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"):
        schema[table]["columns"].append(
            (name, PG_TYPE_CLASS.get(dtype, dtype), nullable == "NO",
             None if dflt == "\\N" else norm_expr(dflt), identity == "YES"))

    cols_of = ("(SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest({keys}) "
               "WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a "
               "ON a.attrelid = {rel} AND a.attnum = k.attnum)")
    for table, kind, cols, ref, refcols, ondel, definition in pg.rows(
            "SELECT c.conrelid::regclass::text, c.contype, "
            + cols_of.format(keys="c.conkey", rel="c.conrelid") + ", "
            "coalesce(nullif(c.confrelid, 0)::regclass::text, ''), "
            "coalesce(" + cols_of.format(keys="c.confkey", rel="c.confrelid") + ", ''), "
            "c.confdeltype, pg_get_constraintdef(c.oid) FROM pg_constraint c "
            "JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE n.nspname = 'public' AND c.conrelid <> 0"):
        t = schema[table]
        if kind == "p":
            t["pk"] = tuple(cols.split(","))
        elif kind == "u":
            t["uniques"].add(tuple(cols.split(",")))
        elif kind == "f":
            t["fks"].add((tuple(cols.split(",")), ref, tuple(refcols.split(",")),
                          PG_ON_DELETE[ondel]))
        elif kind == "c":
            assert "," not in cols, "a CHECK over several columns: %s" % definition
            t["checks"][cols] = check_form(definition)
        else:
            pytest.fail("constraint of kind %r on %s not compared: %s" % (kind, table,
                                                                          definition))
    for table, iname, unique, cols, where in pg.rows(
            "SELECT t.relname, i.relname, ix.indisunique, "
            + cols_of.format(keys="ix.indkey::int2[]", rel="ix.indrelid") + ", "
            "coalesce(pg_get_expr(ix.indpred, ix.indrelid), '\\N') FROM pg_index ix "
            "JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = 'public' "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid)"):
        schema[table]["indexes"][iname] = (tuple(cols.split(",")), unique == "t",
                                           None if where == "\\N" else norm_expr(where))
    rows = pg.rows("SELECT value FROM meta WHERE key = 'schema_version'")
    return schema, (rows[0][0] if rows else None)


@pytest.fixture(scope="module")
def both(pg, sqlite_db):
    return read_sqlite(sqlite_db), read_pg(pg)


# ---- the comparisons -----------------------------------------------------


def per_table(both, key):
    (lite, _), (post, _) = both
    return ({t: v[key] for t, v in lite.items()}, {t: v[key] for t, v in post.items()})


class TestSameSchema:
    def test_same_tables(self, both):
        (lite, _), (post, _) = both
        assert sorted(post) == sorted(lite), (
            "only in SQLite: %s; only in PostgreSQL: %s"
            % (sorted(set(lite) - set(post)), sorted(set(post) - set(lite))))

    def test_same_version(self, both):
        (_, lite_version), (_, pg_version) = both
        assert pg_version == str(lite_version), (
            "SQLite is at user_version %d, PostgreSQL's meta.schema_version is %r: a migration "
            "lacks its twin in src/core/store/postgres/" % (lite_version, pg_version))

    def test_same_columns_in_order(self, both):
        lite, post = per_table(both, "columns")
        diffs = []
        for table in sorted(set(lite) & set(post)):
            lnames, pnames = [c[0] for c in lite[table]], [c[0] for c in post[table]]
            if lnames != pnames:
                diffs.append("%s: only in SQLite %s, only in PostgreSQL %s, SQLite order %s"
                             % (table, [n for n in lnames if n not in pnames],
                                [n for n in pnames if n not in lnames], lnames))
        assert not diffs, "\n".join(diffs)

    def test_same_types_nullability_defaults(self, both):
        lite, post = per_table(both, "columns")
        fields = ("type class", "NOT NULL", "default", "rowid alias / identity")
        diffs = []
        for table in sorted(set(lite) & set(post)):
            pcols = {c[0]: c for c in post[table]}
            for c in lite[table]:
                p = pcols.get(c[0])
                if p is None:
                    continue
                for field, lv, pv in zip(fields, c[1:], p[1:]):
                    if lv != pv:
                        diffs.append("%s.%s %s: SQLite %r, PostgreSQL %r"
                                     % (table, c[0], field, lv, pv))
        assert not diffs, "\n".join(diffs)

    @pytest.mark.parametrize("key", ["pk", "fks", "uniques"])
    def test_same_keys(self, both, key):
        lite, post = per_table(both, key)
        diffs = ["%s: SQLite %r, PostgreSQL %r" % (t, lite[t], post[t])
                 for t in sorted(set(lite) & set(post)) if lite[t] != post[t]]
        assert not diffs, "\n".join(diffs)

    def test_same_indexes(self, both):
        lite, post = per_table(both, "indexes")
        diffs = []
        for table in sorted(set(lite) & set(post)):
            for name in sorted(set(lite[table]) | set(post[table])):
                lv, pv = lite[table].get(name), post[table].get(name)
                if lv != pv:
                    diffs.append("%s index %s (columns, unique, WHERE): SQLite %r, "
                                 "PostgreSQL %r" % (table, name, lv, pv))
        assert not diffs, "\n".join(diffs)

    def test_partial_indexes_exist(self, both):
        # The normal form above is loose; at least the partial ones must be
        # seen as partial on both sides, or the comparison proves little.
        lite, _ = per_table(both, "indexes")
        assert any(v[2] for t in lite.values() for v in t.values())

    def test_same_checks(self, both):
        lite, post = per_table(both, "checks")
        diffs = []
        for table in sorted(set(lite) & set(post)):
            for col in sorted(set(lite[table]) | set(post[table])):
                lv, pv = lite[table].get(col), post[table].get(col)
                if lv is None or pv is None:
                    diffs.append("%s.%s CHECK only in %s" % (table, col,
                                                            "SQLite" if pv is None
                                                            else "PostgreSQL"))
                elif lv[1] != pv[1]:
                    diffs.append("%s.%s CHECK allows %s in SQLite, %s in PostgreSQL"
                                 % (table, col, sorted(lv[1]), sorted(pv[1])))
                elif lv[0] != pv[0]:
                    diffs.append("%s.%s CHECK: SQLite %r, PostgreSQL %r"
                                 % (table, col, lv[0], pv[0]))
        assert not diffs, "\n".join(diffs)


class TestPostgresEnforces:
    """The same rules hold in PostgreSQL on a sample (SQLite's are covered
    by the rest of the suite)."""

    # Starts with a clean slate, so one test's failure cannot fail the next.
    SETUP = ("DELETE FROM apps WHERE id = 'pgs-app';"
             "INSERT INTO apps (id, name, secret_sealed, redirect_uris, created_at) "
             "VALUES ('pgs-app', 'App', '\\x00', '[]', 1);"
             "INSERT INTO users (app_id, sub, created_at) VALUES ('pgs-app', 'alice', 1);"
             "INSERT INTO factors (id, user_id, type, status, created_at) "
             "SELECT 'pgs-f1', id, 'totp', 'active', 1 FROM users WHERE sub = 'alice';")

    def test_text_orders_by_bytes(self, pg):
        """Every text column collates "C" (bytes, as SQLite's BINARY), so
        paging and prefix ranges over subs agree with SQLite whatever the
        database's locale (this cluster's own is C, so the catalog says it)."""
        loose = pg.rows("SELECT table_name, column_name FROM information_schema.columns "
                        "WHERE table_schema = 'public' AND data_type = 'text' "
                        "AND collation_name IS DISTINCT FROM 'C'")
        assert loose == []

    def test_unknown_factor_type_refused(self, pg):
        pg.psql(self.SETUP)
        try:
            p = pg.psql("INSERT INTO factors (id, user_id, type, status, created_at) "
                        "SELECT 'pgs-f2', id, 'carrier-pigeon', 'active', 1 FROM users "
                        "WHERE sub = 'alice'", check=False)
            assert p.returncode != 0
            assert "violates check constraint" in p.stderr, p.stderr
        finally:
            pg.psql("DELETE FROM apps WHERE id = 'pgs-app'")

    def test_deleting_an_app_cascades(self, pg):
        pg.psql(self.SETUP)
        assert pg.rows("SELECT count(*) FROM users WHERE app_id = 'pgs-app'") == [["1"]]
        pg.psql("DELETE FROM apps WHERE id = 'pgs-app'")
        assert pg.rows("SELECT count(*) FROM users WHERE app_id = 'pgs-app'") == [["0"]]
        assert pg.rows("SELECT count(*) FROM factors WHERE id = 'pgs-f1'") == [["0"]]

    def test_ids_are_generated_and_keys_not_null(self, pg):
        pg.psql(self.SETUP)
        try:
            ids = pg.rows("INSERT INTO audit (at, event) VALUES (1, 'a'), (2, 'b') RETURNING id")
            assert len(ids) == 2 and int(ids[1][0]) > int(ids[0][0])
            p = pg.psql("INSERT INTO meta (key, value) VALUES (NULL, 'x')", check=False)
            assert "violates not-null constraint" in p.stderr, p.stderr
        finally:
            pg.psql("DELETE FROM apps WHERE id = 'pgs-app'; DELETE FROM audit")
