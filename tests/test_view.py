"""`dsgym view`: real runs (oracle and a hostile agent, real sandboxes), a 10,000-episode synthetic run and a
filter report, each built into a static site and opened in headless Chromium (file:// and --serve)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dsgym.agents import OracleAgent

from dsgym import runner
from dsgym.view import ViewError, build_site
from dsgym.view.highlight import highlight
from dsgym.view.pages import script_json
from dsgym.view.sources import read_jsonl

DSGYM = str(Path(sys.executable).with_name("dsgym"))
SUITE = "dsgym-tasks-lite"
HOSTILE, RAISES, SOLVED = "iris-weakest-anova-feature", "iris-kmeans-ari", "wine-knn-cv-accuracy"
TASKS = [f"{SUITE}/{t}" for t in (HOSTILE, RAISES, SOLVED)]
PLANTED = "<script>window.__pwned=1;document.title='pwned'</script>"
SCREENS = Path("/tmp/view-screens")


# -- agents --------------------------------------------------------------------------------------


class Mixed(OracleAgent):
    """Per task: prints markup, draws, errs, kills its kernel and answers wrongly; or raises; or is the oracle."""

    name = "mixed"
    SCRIPT = (
        "Let me look at the <b>data</b> first.\n<python>\nprint(" + repr(PLANTED) + ")\nprint('<b>bold</b>')\n"
        "print('x' * 9000)\n</python>",
        "<python>\nimport matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('a line')\nplt.show()\n</python>",
        "<python>\n1 / 0\n</python>",
        "<python>\nimport os\nos._exit(1)\n</python>",
        "I am done.\n<answer><img src=x onerror=\"window.__pwned=2\">not it</answer>",
    )

    def start(self, task, prompt):
        super().start(task, prompt)
        self.task_id = task.id

    def act(self, observation):
        self.usage = {k: v + 10 for k, v in self.usage.items()}
        if self.task_id == RAISES:
            raise RuntimeError("the agent crashed <on purpose>")
        if self.task_id == HOSTILE:
            self.stage += 1
            return self.SCRIPT[self.stage - 1]
        return super().act(observation)


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(docker_image, tmp_path_factory) -> dict[str, Path]:
    """An oracle run and a mixed run over the same three tasks, and a copy of the latter with a corrupt line."""
    root = tmp_path_factory.mktemp("view-runs")
    runner.evaluate(runner.EvalSettings(targets=TASKS, agent="oracle"), root / "oracle", concurrency=3)
    runner.evaluate(runner.EvalSettings(targets=TASKS, agent="mixed"), root / "mixed", agent_factory=Mixed,
                    concurrency=3, retries=0)
    corrupt = root / "mixed-corrupt"
    shutil.copytree(root / "mixed", corrupt)
    with open(corrupt / runner.EPISODES, "ab") as handle:
        handle.write(b'{"task_id": "half a reco\n[1, 2]\n{"torn": ')
    return {"oracle": root / "oracle", "mixed": root / "mixed", "corrupt": corrupt}


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through the system chromedriver (Selenium Manager never downloads anything)."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000",
                "--allow-file-access-from-files"):
        options.add_argument(arg)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                              options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def shoot(driver, name: str, folder: Path) -> None:
    """Full-page screenshot into ``folder`` and /tmp/view-screens (printed, for people to look at)."""
    height = driver.execute_script("window.scrollTo(0, 0); return Math.min(document.body.scrollHeight, 6000)")
    driver.set_window_size(1400, max(height + 40, 600))
    for target in (folder, SCREENS):
        target.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(target / f"{name}.png"))
    driver.set_window_size(1400, 1000)
    print(f"screenshot: {folder / name}.png (copy in {SCREENS})")


def body(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def not_pwned(driver) -> None:
    assert driver.execute_script("return window.__pwned === undefined")
    assert driver.title != "pwned"


def listed_rows(driver) -> list[str]:
    """Every row of the episode table, after choosing 'all' rows per page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, "size")).select_by_value("0")
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#episodes tbody tr'), r => r.innerText.trim())")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- without a browser ---------------------------------------------------------------------------


def test_embedded_json_and_highlighted_code_are_inert():
    text = script_json({"x": "</script><script>alert(1)</script> & <!--"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"x": "</script><script>alert(1)</script> & <!--"}
    code = highlight("s = '<script>'  # <b>\ndef f(): return 0x1F")
    assert "<script>" not in code and "<b>" not in code and "&lt;script&gt;" in code
    assert '<span class="k">def</span> <span class="f">f</span>' in code


def test_unreadable_lines_are_numbered_and_explained(tmp_path):
    log = tmp_path / "x.jsonl"
    log.write_bytes(b'{"a": 1}\nnot json\n\n[1]\n{"torn')
    records, bad = read_jsonl(log)
    assert records == [{"a": 1}]
    assert [b.number for b in bad] == [2, 4, 5]
    assert str(bad[0]).startswith("line 2: unreadable (JSONDecodeError")
    assert "not an object" in str(bad[1]) and "incomplete last line" in str(bad[2])


def test_a_foreign_folder_is_never_emptied_and_unknown_folders_are_refused(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("mine")
    write_synthetic_run(tmp_path / "run", 3)
    with pytest.raises(ViewError, match="not a dsgym view folder"):
        build_site([tmp_path / "run"], tmp_path / "mine")
    assert (tmp_path / "mine" / "keep.txt").exists()
    with pytest.raises(ViewError, match="neither a run folder"):
        build_site([tmp_path / "mine"], tmp_path / "site")
    site = build_site([tmp_path / "run"], tmp_path / "site")
    assert build_site([tmp_path / "run"], tmp_path / "site").pages == site.pages == 5  # a rebuild clears


# -- real runs in the browser --------------------------------------------------------------------


@pytest.mark.docker
def test_real_runs_render_every_episode_each_turn_and_never_run_agent_markup(runs, browser, tmp_path):
    from selenium.webdriver.common.by import By

    site = build_site([runs["oracle"], runs["corrupt"]], tmp_path / "site")
    browser.get(site.index.as_uri())
    text = body(browser)
    assert "Comparison: oracle → mixed" in text  # the copy keeps the name in its manifest
    assert "3 task(s) in both runs; 1 flipped (0 now pass, 1 now fail)" in text
    shoot(browser, "overview", tmp_path / "screens")

    browser.get((site.root / "mixed" / "index.html").as_uri())
    rows = listed_rows(browser)
    for task in (HOSTILE, RAISES, SOLVED):
        assert any(task in row for row in rows), (task, rows)
    unreadable = [row for row in rows if "unreadable" in row]
    assert len(unreadable) == 3 and unreadable[0].startswith("line 4: unreadable (JSONDecodeError")
    text = body(browser)
    assert "agent 1" in text  # errors by type
    shoot(browser, "run", tmp_path / "screens")

    link = browser.find_element(By.LINK_TEXT, HOSTILE)
    link.click()
    text = body(browser)
    assert PLANTED in text and "<b>bold</b>" in text and "Let me look at the <b>data</b> first." in text
    assert '<img src=x onerror="window.__pwned=2">not it' in text
    not_pwned(browser)
    assert browser.find_elements(By.CSS_SELECTOR, "pre.code span.k")  # highlighted code
    assert "characters omitted" in browser.find_element(By.CSS_SELECTOR, ".mark-trunc").text
    assert "error: ZeroDivisionError" in text and "kernel restarted" in text
    assert "[kernel died]" in text
    image = browser.find_element(By.CSS_SELECTOR, "figure img")
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image) > 100
    reference = browser.find_element(By.CSS_SELECTOR, "pre.reference")
    assert not reference.is_displayed()
    browser.find_element(By.CSS_SELECTOR, "#reference summary").click()
    assert reference.text.startswith("40.64") and reference.is_displayed()
    assert "score 0.000" in text and "Timings and tokens" in text
    shoot(browser, "episode-hostile", tmp_path / "screens")

    browser.back()
    browser.find_element(By.LINK_TEXT, RAISES).click()
    text = body(browser)
    assert "the agent crashed <on purpose>" in text and "agent error" in text
    not_pwned(browser)

    browser.get((site.root / "oracle" / "index.html").as_uri())
    browser.find_element(By.LINK_TEXT, SOLVED).click()
    text = body(browser)
    assert "score 1.000" in text and "turn 3" in text and "import" in text
    shoot(browser, "episode-oracle", tmp_path / "screens")


@pytest.mark.docker
def test_serve_on_loopback(runs, browser, tmp_path):
    port = free_port()
    proc = subprocess.Popen([DSGYM, "view", str(runs["oracle"]), "--out", str(tmp_path / "site"), "--serve",
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        assert f"serving http://127.0.0.1:{port}/" in lines[1], (lines, proc.poll())
        browser.get(f"http://127.0.0.1:{port}/oracle/index.html")
        rows = listed_rows(browser)
        assert len(rows) == 3 and all("1.000" in row for row in rows)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)


# -- a large synthetic run -----------------------------------------------------------------------


def synthetic_record(i: int) -> dict:
    task = f"task-{i % 500:03d}" if i != 7 else "<img src=x onerror=window.__pwned=3>"
    score = None if i % 97 == 0 else float(i % 3 == 0)
    turns = [{"action": f"Looking.\n<python>\nimport pandas as pd\ndf = pd.read_csv('/data/t{i}.csv')\n"
                        "print(df.describe())\n</python>",
              "observation": "          x       y\ncount  100.0  100.0\nmean   4.2    1.3\n" * 8 + PLANTED,
              "reward": 0.0, "step_time": 0.31, "agent_time": 1.2, "action_kind": "code", "tokens": 812,
              "at": 0.5},
             {"action": "<python>\ndf.groupby('g').y.mean()\n</python>", "observation": "[result]\ng\na 1.0\nb 2.0",
              "reward": 0.0, "step_time": 0.12, "agent_time": 0.9, "action_kind": "code", "tokens": 640, "at": 2.1},
             {"action": "<answer>1.5</answer>", "observation": "[answer submitted]", "reward": score or 0.0,
              "step_time": 0.0, "agent_time": 0.7, "action_kind": "answer", "tokens": 300, "at": 3.3}]
    record = {"env_id": f"synth/{task}", "task_id": task, "agent": "react", "suite": "synth", "sample": i // 500,
              "category": ["eda", "stats", "ml"][i % 3], "model": "m", "status": "ok", "prompt": "Question: ...",
              "turns": turns, "answer": "1.5", "score": score, "score_breakdown": {"metric": "numeric"},
              "termination": "answer", "tokens": {"prompt_tokens": 1500, "completion_tokens": 252,
                                                   "total_tokens": 1752}, "wall_time": 3.4, "reset_time": 0.8}
    if score is None:
        record.update(status="error", error_type="model", error="LLMError: HTTP 500", termination="error")
    return record


def write_synthetic_run(path: Path, episodes: int) -> None:
    path.mkdir(parents=True)
    samples = max(1, episodes // 500)
    manifest = {"format": 1, "name": path.name, "settings": {"targets": ["synth"], "agent": "react",
                                                             "agent_kwargs": {"model": "m"}, "samples": samples},
                "episodes": episodes, "status": "complete"}
    (path / runner.MANIFEST).write_text(json.dumps(manifest))
    with open(path / runner.EPISODES, "w") as handle:
        handle.writelines(json.dumps(synthetic_record(i)) + "\n" for i in range(episodes))


@pytest.mark.slow
def test_ten_thousand_episodes_build_and_open_quickly(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    run = tmp_path / "big"
    write_synthetic_run(run, 10_000)
    with open(run / runner.EPISODES, "a") as handle:
        handle.write("{corrupt\n")
    t0 = time.monotonic()
    site = build_site([run], tmp_path / "site")
    built = time.monotonic() - t0
    t0 = time.monotonic()
    browser.get((site.root / "big" / "index.html").as_uri())
    loaded = time.monotonic() - t0
    print(f"10,000 episodes: site built in {built:.1f} s; run page loaded in {loaded:.2f} s "
          f"({(site.root / 'big' / 'index.html').stat().st_size / 1e6:.1f} MB)")
    assert built < 60 and loaded < 30
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#episodes tbody tr")) == 100
    assert "rows 1–100 of 10,001" in body(browser).replace("10001", "10,001")
    not_pwned(browser)
    shoot(browser, "big-run", tmp_path / "screens")
    browser.find_element(By.ID, "q").send_keys("onerror")
    rows = browser.find_elements(By.CSS_SELECTOR, "#episodes tbody tr")
    assert len(rows) == 1 and "<img src=x onerror=window.__pwned=3>" in rows[0].text
    not_pwned(browser)
    browser.find_element(By.ID, "q").send_keys(Keys.CONTROL, "a", Keys.BACKSPACE)
    browser.find_element(By.CSS_SELECTOR, "th[data-col=score]").click()
    browser.find_element(By.CSS_SELECTOR, "th[data-col=score]").click()
    assert "1.000" in browser.find_elements(By.CSS_SELECTOR, "#episodes tbody tr")[0].text
    t0 = time.monotonic()
    rows = listed_rows(browser)
    print(f"all 10,001 rows on one page in {time.monotonic() - t0:.2f} s")
    assert len(rows) == 10_001 and rows[-1] == "line 10001: unreadable (JSONDecodeError: Expecting property " \
                                               "name enclosed in double quotes: line 1 column 2 (char 1))"
    browser.get((site.root / "big" / "episodes" / "9999.html").as_uri())
    assert "df.describe()" in body(browser) and PLANTED in body(browser)
    browser.find_element(By.CSS_SELECTOR, "#reference summary").click()
    assert "the task is no longer in the registry" in body(browser)
    not_pwned(browser)


# -- a filter report -----------------------------------------------------------------------------


def test_filter_reports_show_each_check_its_evidence_and_the_decision(browser, tmp_path):
    from selenium.webdriver.common.by import By

    from dsgym.filter import filter_suite

    root = tmp_path / "suite"
    (root / "data").mkdir(parents=True)
    (root / "data" / "n.csv").write_text("x\n1\n2\n")
    question = "What is the mean of x?"
    tasks = [{"id": "mean", "question": question, "data_files": ["n.csv"], "metric": "numeric", "answer": 1.5},
             {"id": "mean-again", "question": question, "data_files": ["n.csv"], "metric": "numeric",
              "answer": 1.5},
             {"id": "broken", "question": "What is x?", "data_files": ["n.csv"], "metric": "numeric",
              "answer": "<b>not a number</b>"}]
    (root / "manifest.json").write_text(json.dumps({"suite": "viewtest", "version": "1", "data_dir": "data",
                                                    "tasks": tasks}))
    out = tmp_path / "filtered"
    result = filter_suite(root, out, checks=["blind_probe", "well_formed", "duplicate"], register=False)
    assert sorted(result.dropped) == ["broken", "mean-again"]
    site = build_site([out], tmp_path / "site")
    browser.get(site.index.as_uri())
    assert "kept 1 of 3 task(s)" in body(browser)
    browser.find_element(By.LINK_TEXT, "viewtest-filtered").click()
    text = body(browser)
    assert "not run: no model given" in text
    for report in result.reports:
        decision = "kept" if report.keep else "dropped: " + "; ".join(report.reasons)
        summary = browser.find_element(By.XPATH, f"//summary[starts-with(., '{report.task} ')]")
        assert summary.text == f"{report.task} — {decision}"
        summary.click()
        details = summary.find_element(By.XPATH, "..")
        for name, check in report.checks.items():
            row = details.find_element(By.XPATH, f".//tr[td[1][text()='{name}']]")
            assert check.status in row.text and check.reason.split("\n")[0][:40] in row.text
            for key in check.evidence:
                assert key in row.text
    assert "<b>not a number</b>" in text or "<b>not a number</b>" in body(browser)
    not_pwned(browser)
    shoot(browser, "filter", tmp_path / "screens")
