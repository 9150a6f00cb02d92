"""ENV_SETTINGS is the one list of environment variables: every name the code reads is in it and in
the README's configuration table, and every name listed there is read somewhere."""
import re
from pathlib import Path

from webapp.config import ENV_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
SCANNED = [*sorted((ROOT / "webapp").rglob("*.py")), *sorted((ROOT / "providers").rglob("*.py")), ROOT / "worker.py"]
# os.environ.get("X"), os.environ["X"], os.getenv("X") and config.py's `env = os.environ` helpers (a WSGI
# request.environ is no setting).
READ = re.compile(r"""(?:\bos\.environ\.get|\bos\.environ\[|getenv|\benv\.get|_number\(\s*env\s*,)\(?\s*["']([A-Z][A-Z0-9_]*)["']""")


def names_read_by_the_code() -> dict[str, str]:
    found = {}
    for path in SCANNED:
        for name in READ.findall(path.read_text(encoding="utf-8")):
            found.setdefault(name, str(path.relative_to(ROOT)))
    return found


def readme_table_names() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("## Configuration", 1)[1].split("\n\n|", 1)[1].split("\n\n", 1)[0]
    names = set()
    for row in table.splitlines()[2:]:  # after the header and the |---| line
        names |= set(re.findall(r"`([A-Z][A-Z0-9_]*)`", row.split("|")[1]))
    return names


def test_the_scanner_finds_what_it_should():
    found = names_read_by_the_code()
    # one of each form: env.get in config.py, _number(env, …), os.environ.get in providers/, os.environ[…]
    assert found["DATABASE_URL"] == "webapp/config.py"
    assert found["BREAKER_COOLDOWN"] == "webapp/config.py"
    assert found["SANDBOX_DB"].startswith("providers/sandbox/")
    assert "REDIS_URL" in found and "INSTANCE_PATH" in found


def test_every_variable_the_code_reads_is_listed_in_env_settings_and_the_readme():
    found = names_read_by_the_code()
    readme = readme_table_names()
    assert {n: p for n, p in found.items() if n not in ENV_SETTINGS} == {}, "add them to webapp/config.py ENV_SETTINGS"
    assert {n: p for n, p in found.items() if n not in readme} == {}, "add them to the README's configuration table"


def test_every_listed_variable_is_read_somewhere():
    found = names_read_by_the_code()
    assert set(ENV_SETTINGS) - set(found) == set(), "ENV_SETTINGS lists a name nothing reads"
    assert readme_table_names() == set(ENV_SETTINGS)


def test_env_settings_and_readme_agree_on_demo_mode(tmp_path, monkeypatch):
    from webapp import create_app

    monkeypatch.delenv("DEMO_MODE", raising=False)
    assert create_app({"INSTANCE_PATH": str(tmp_path)}).config["DEMO_MODE"] is False
    monkeypatch.setenv("DEMO_MODE", "1")
    assert create_app({"INSTANCE_PATH": str(tmp_path)}).config["DEMO_MODE"] is True
    assert "default: 0" in ENV_SETTINGS["DEMO_MODE"] and "seeds" not in ENV_SETTINGS["DEMO_MODE"]
    row = next(line for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
               if line.startswith("| `DEMO_MODE`"))
    assert row.rstrip().endswith("| `0` |")


def test_service_copy_stale_after_comes_from_the_environment(tmp_path, monkeypatch):
    from webapp import create_app

    monkeypatch.setenv("SERVICE_COPY_STALE_AFTER", "60")
    assert create_app({"INSTANCE_PATH": str(tmp_path)}).config["SERVICE_COPY_STALE_AFTER"] == 60
