import sqlite3

import pytest

from cmner_build.config import ConfigError, load_settings
from cmner_build.errors import WorkspaceError
from cmner_build.model import Span
from cmner_build.store import CORE_MIGRATIONS, Migration, Store, utc_now
from cmner_build.workspace import open_workspace


def test_core_schema_is_versioned_and_migrations_apply_once(tmp_path):
    store = Store(tmp_path / "corpus.db")
    assert store.applied_migrations() == [m.name for m in CORE_MIGRATIONS]
    extra = [Migration("test/0001_notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); -- why\n")]
    assert store.migrate(extra) == ["test/0001_notes"]
    assert store.migrate(extra) == []
    store.close()
    reopened = Store(tmp_path / "corpus.db")
    assert reopened.applied_migrations()[-1] == "test/0001_notes"


def test_annotation_tables_keep_their_migration_names_in_old_workspaces(tmp_path):
    """The annotate stage once applied its own tables on first use; their migration names are records
    in old workspaces: opening one re-applies nothing, and one that never reached annotate gets them."""
    path = tmp_path / "corpus.db"
    Store(path).close()
    connection = sqlite3.connect(path)
    applied_at = {row[0]: row[1] for row in connection.execute("SELECT name, applied_at FROM schema_migrations")}
    assert {"annotate/0001_state_and_image_votes", "agreement/0001_adjudication"} <= set(applied_at)
    # A workspace that never ran adjudication: no adjudication tables, no record of them.
    connection.executescript(
        "DROP TABLE adjudication_clusters; DROP TABLE adjudication_posts;"
        "DELETE FROM schema_migrations WHERE name = 'agreement/0001_adjudication';"
    )
    connection.close()
    reopened = Store(path)
    assert reopened.scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'adjudication_clusters'") == 1
    again = {row[0]: row[1] for row in reopened.query("SELECT name, applied_at FROM schema_migrations")}
    assert {name: at for name, at in again.items() if name != "agreement/0001_adjudication"} == {
        name: at for name, at in applied_at.items() if name != "agreement/0001_adjudication"}
    assert sorted(again) == sorted(m.name for m in CORE_MIGRATIONS)


def test_a_failing_migration_leaves_nothing_behind(tmp_path):
    store = Store(tmp_path / "corpus.db")
    broken = [Migration("test/0001_broken", "CREATE TABLE half (x INTEGER);\nCREATE TABLE oops (;\n")]
    with pytest.raises(sqlite3.OperationalError):
        store.migrate(broken)
    assert store.scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'half'") == 0
    assert "test/0001_broken" not in store.applied_migrations()


def test_transactions_roll_back_whole_posts(tmp_path):
    store = Store(tmp_path / "corpus.db")
    now = utc_now()
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.execute("INSERT INTO posts (post_id, source, original_text, text, status, created_at, updated_at)"
                          " VALUES ('p1', 'crawl', 't', 't', 'crawled', ?, ?)", (now, now))
            raise RuntimeError("killed half-way")
    assert store.post_ids() == set()


def test_status_and_gold_helpers_enforce_their_rules(tmp_path):
    store = Store(tmp_path / "corpus.db")
    now = utc_now()
    store.execute("INSERT INTO posts (post_id, source, original_text, text, status, created_at, updated_at)"
                  " VALUES ('p1', 'crawl', 'ab', 'ab', 'crawled', ?, ?)", (now, now))
    with pytest.raises(ValueError, match="needs a reason"):
        store.set_status("p1", "dropped")
    with pytest.raises(ValueError, match="unknown post status"):
        store.set_status("p1", "deleted")
    store.set_status("p1", "dropped", "too_long")
    assert tuple(store.query("SELECT status, drop_reason FROM posts")[0]) == ("dropped", "too_long")
    store.replace_gold_spans("p1", [Span(0, 1, "PER")], "adjudication")
    store.replace_gold_spans("p1", [Span(1, 2, "LOC")], "adjudication")
    assert store.gold_spans() == {"p1": [Span(1, 2, "LOC")]}
    with pytest.raises(sqlite3.IntegrityError):
        store.replace_gold_spans("p1", [Span(1, 2, "DATE")], "adjudication")


def test_a_file_that_is_not_a_store_is_refused(tmp_path):
    (tmp_path / "corpus.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(WorkspaceError, match="not a cmner-build store"):
        Store(tmp_path / "corpus.db")


def test_settings_errors_name_the_file_and_key(tmp_path):
    path = tmp_path / "cmner.toml"
    path.write_text('[corpus]\nmax_chars = "many"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"cmner.toml: corpus.max_chars must be an integer, found 'many'"):
        load_settings(path).max_chars
    path.write_text("[corpus\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="cmner.toml"):
        load_settings(path)
    path.write_text("[split]\nnear_duplicate_jaccard = 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"must be in \(0, 1\]"):
        load_settings(path).near_duplicate_jaccard
    path.write_text('[split]\nnear_duplicate_search = "simhash"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"near_duplicate_search must be one of exact, minhash, found 'simhash'"):
        load_settings(path).near_duplicate_search
    path.write_text('[split]\nnear_duplicate_search = "minhash"\n', encoding="utf-8")
    assert load_settings(path).near_duplicate_search == "minhash"
    assert load_settings(tmp_path / "missing.toml").split_ratio == "3:1:1"
    assert load_settings(tmp_path / "missing.toml").near_duplicate_search == "exact"


@pytest.mark.parametrize("text, message", [
    ('[split]\nratoi = "8:1:1"\n', r"cmner.toml: unknown key 'ratoi' in \[split\]; did you mean 'ratio'\?"),
    ("[splits]\nratio = \"8:1:1\"\n", r"cmner.toml: unknown table \[splits\]; did you mean \[split\]\?"),
    ('[images]\nworkers = "4"\n', r"cmner.toml: images.workers must be an integer, found '4'"),
    ("[crawl]\ndelay = true\n", r"cmner.toml: crawl.delay must be a number, found True"),
    ("[annotate]\npool = [\"ann1\", 2]\n", r"cmner.toml: annotate.pool must be a list of strings"),
])
def test_settings_reject_unknown_keys_and_wrong_types_at_load(tmp_path, text, message):
    path = tmp_path / "cmner.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_settings(path)  # before any command reads the value


def test_settings_accept_the_commented_defaults_integers_for_numbers_and_clean_rules(tmp_path):
    from cmner_build.config import DEFAULT_CONFIG

    path = tmp_path / "cmner.toml"
    path.write_text(DEFAULT_CONFIG + '\n[[clean.rules]]\nname = "x"\npattern = "a"\n', encoding="utf-8")
    assert load_settings(path).data["clean"]["rules"][0]["name"] == "x"
    path.write_text("[crawl]\ndelay = 3\nuser_agent = \"test\"\n", encoding="utf-8")
    assert load_settings(path).get("crawl", "delay", float, 0.0) == 3.0


def test_open_workspace_creates_only_when_asked(tmp_path):
    with pytest.raises(WorkspaceError, match="not a cmner-build workspace"):
        open_workspace(tmp_path / "w")
    assert not (tmp_path / "w").exists()
    workspace = open_workspace(tmp_path / "w", create=True)
    assert workspace.db_path.exists() and workspace.config_path.exists()


def test_a_read_only_store_runs_no_migration_and_cannot_write(tmp_path):
    path = tmp_path / "corpus.db"
    Store(path).close()
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    extra = [Migration("test/0001_extra", "CREATE TABLE extra (x INTEGER);")]
    with Store(path, read_only=True) as store:
        assert store.read_only and store.pending_migrations(extra) == ["test/0001_extra"]
        with pytest.raises(WorkspaceError, match="opened read-only, cannot apply test/0001_extra"):
            store.migrate(extra)
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.execute("INSERT INTO annotators (username, created_at) VALUES ('a', 'now')")
        assert store.scalar("SELECT COUNT(*) FROM posts") == 0
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    # A file that is not a store yet (no core schema) is refused, not created.
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(WorkspaceError, match="run a command without --dry-run first"):
        Store(empty, read_only=True)
    with pytest.raises(WorkspaceError, match="cannot open the store"):
        Store(tmp_path / "absent.db", read_only=True)
    assert not (tmp_path / "absent.db").exists()
