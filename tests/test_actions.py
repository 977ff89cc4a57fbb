from dsgym.actions import FORMAT_HELP, format_execution, parse_action, png_size, share, truncate
from dsgym.sandbox.base import CappedText, ExecutionResult, KernelError


def result(**kw) -> ExecutionResult:
    return ExecutionResult(stdout=CappedText(10_000), stderr=CappedText(10_000), **kw)


def test_code_and_answer_actions():
    assert parse_action("<python>print(1)</python>").kind == "code"
    assert parse_action("I think <answer> 42 </answer>").content == "42"
    assert parse_action("<PYTHON>x=1</PYTHON>").content == "x=1"


def test_fenced_code_inside_tag_is_unwrapped():
    action = parse_action("<python>\n```python\nx = 1\nprint(x)\n```\n</python>")
    assert action.content == "x = 1\nprint(x)"


def test_first_action_wins_and_rest_is_reported():
    action = parse_action("<python>a=1</python> then <answer>3</answer>")
    assert (action.kind, action.content) == ("code", "a=1")
    assert "<answer>3</answer>" in action.ignored


def test_text_without_action_is_invalid():
    assert parse_action("just thinking").kind == "invalid"
    assert parse_action("<python>unclosed").kind == "invalid"
    assert parse_action(None).kind == "invalid"  # type: ignore[arg-type]
    assert "<python>" in FORMAT_HELP and "<answer>" in FORMAT_HELP


def test_truncate_keeps_head_and_tail_with_marker():
    text = "A" * 500 + "B" * 500
    out = truncate(text, 300)
    assert len(out) == 300  # the cap holds with the marker counted in
    head, tail = out.split("\n... [output truncated: 752 characters omitted] ...\n")
    assert set(head) == {"A"} and set(tail) == {"B"} and len(head) == (len(head) + len(tail)) * 2 // 3
    assert out.startswith("A" * 150) and out.endswith("B" * 70)
    assert truncate("short", 300) == "short"
    assert all(len(truncate("x" * n, limit)) <= limit for n in (10, 999, 10**6) for limit in (20, 64, 1000))


def test_capped_text_bounds_memory_and_counts_what_it_dropped():
    capped = CappedText(10)
    for _ in range(1000):
        capped.add("0123456789")
    assert capped.total == 10_000
    assert len(capped.head[0]) + len(capped.tail) == 20
    assert "9,980 characters dropped" in capped.text()


def test_output_parts_share_one_budget():
    assert share([10, 5000, 300], 1000) == [10, 690, 300]
    assert share([50, 60], 1000) == [50, 60] and share([900, 900, 900], 1000) == [333, 333, 334]
    r = result(result="r" * 5000, error=KernelError("ValueError", "bad", "Traceback " + "t" * 5000))
    r.stdout.add("o" * 5000)
    for _ in range(3000):
        r.add_display("d" * 100, cap=50_000)
    assert r.displays_chars == 50_000 and r.displays_dropped == 2500
    text = format_execution(r, 1000, [])
    assert len(text) < 1200 and "Traceback" in text and "[displays dropped] 2,500 more" in text


def test_format_execution_sections():
    r = result(result="42", error=KernelError("ValueError", "bad", "Traceback...\nValueError: bad"))
    r.stdout.add("hello\n")
    r.stderr.add("warn\n")
    text = format_execution(r, 100, [])
    assert text.index("hello") < text.index("[stderr]") < text.index("[result]") < text.index("[error]")
    assert format_execution(result(), 100, []) == "[no output]"


def test_format_execution_reports_timeout_death_and_figures():
    png = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + (640).to_bytes(4, "big") + (480).to_bytes(4, "big")
    assert png_size(png) == (640, 480)
    note = "[figure: 640x480 PNG saved as /tmp/f.png]"
    text = format_execution(result(timed_out=True, duration=2.0), 100, [note])
    assert note in text and "[timeout]" in text
    died = format_execution(result(kernel_died=True, exit_code=-9), 100, [])
    assert "[kernel died]" in died and "out of memory" in died
