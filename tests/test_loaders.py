"""Loaders: each file format as an author writes it, and the tree walk that must never abort."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from pypdf import PdfWriter

from indexer.ingest.documents import LoadResult, SourceDocument
from indexer.ingest.loaders import faq, files, html, load_tree, markdown, pdf, rst, text

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "knowledge"


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def only_doc(result: LoadResult) -> SourceDocument:
    assert result.skipped == [], result.skipped
    assert len(result.documents) == 1
    return result.documents[0]


def reasons(result: LoadResult) -> dict[str, str]:
    return {Path(s.source).name: s.reason for s in result.skipped}


def pdf_bytes(pages: list[str], title: str | None = None) -> bytes:
    """A minimal hand-written PDF with one Helvetica text line per page."""
    n_pages = len(pages)
    font_id, info_id = 3 + 2 * n_pages, 4 + 2 * n_pages
    page_ids = [3 + 2 * i for i in range(n_pages)]
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % i for i in page_ids), n_pages),
    ]
    for page_id, page_text in zip(page_ids, pages, strict=True):
        stream = b"BT /F1 12 Tf 72 720 Td (%s) Tj ET" % page_text.encode("latin-1")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (font_id, page_id + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objects.append(b"<< /Title (%s) >>" % title.encode("latin-1") if title else b"<< >>")
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\n" % (len(objects) + 1, info_id)
    return out + b"startxref\n%d\n%%%%EOF\n" % xref


# Markdown


def test_markdown_front_matter_sets_metadata(tmp_path: Path) -> None:
    path = write(
        tmp_path / "deploy.md",
        "---\n"
        "title: Deploying Services\n"
        "tags: [Kubernetes, ' helm ', kubernetes]\n"
        "topic: ops\n"
        "difficulty: intermediate\n"
        "owner: Platform Team\n"
        "url: https://wiki.example/deploy\n"
        "created: 2025-03-01\n"
        "updated: 2026-01-15T10:30:00\n"
        "---\n"
        "# Deploying Services\n\nRun deployctl.\n",
    )
    doc = only_doc(markdown.load(path))
    assert doc.title == "Deploying Services"
    assert doc.tags == ["kubernetes", "helm"]
    assert (doc.topic, doc.difficulty, doc.owner) == ("ops", "intermediate", "Platform Team")
    assert doc.url == "https://wiki.example/deploy"
    assert doc.created_at == datetime(2025, 3, 1, tzinfo=UTC)
    assert doc.updated_at == datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
    assert (doc.visibility, doc.channel_id) == ("public", None)
    assert (doc.source, doc.source_type) == (str(path.resolve()), "file")


def test_markdown_tags_as_comma_string(tmp_path: Path) -> None:
    path = write(tmp_path / "a.md", "---\ntags: Python,  Testing , ,python\n---\nBody text.\n")
    assert only_doc(markdown.load(path)).tags == ["python", "testing"]


def test_markdown_without_front_matter_leaves_metadata_to_derive(tmp_path: Path) -> None:
    doc = only_doc(markdown.load(write(tmp_path / "notes.md", "# Team Notes\n\nHello.\n")))
    assert doc.title == "Team Notes"
    assert (doc.tags, doc.topic, doc.difficulty, doc.url) == (None, None, None, None)


def test_markdown_title_falls_back_to_humanised_stem(tmp_path: Path) -> None:
    doc = only_doc(markdown.load(write(tmp_path / "on-call_rota.md", "## Weekly\n\nMondays.\n")))
    assert doc.title == "On call rota"


def test_markdown_channel_visibility(tmp_path: Path) -> None:
    path = write(tmp_path / "secret.md", "---\nvisibility: channel:C0ABC123\n---\nOnly here.\n")
    doc = only_doc(markdown.load(path))
    assert (doc.visibility, doc.channel_id) == ("channel", "C0ABC123")


@pytest.mark.parametrize("value", ["private", "'channel:'", "channel:#general", "[a, b]"])
def test_markdown_unknown_visibility_is_skipped_not_published(tmp_path: Path, value: str) -> None:
    path = write(tmp_path / "x.md", f"---\nvisibility: {value}\n---\nSecret plans.\n")
    result = markdown.load(path)
    assert result.documents == []
    assert 'visibility must be "public" or "channel:<channel id>"' in result.skipped[0].reason


def test_markdown_malformed_front_matter_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.md", "---\ntitle: Fine\nowner: Ops: Team\n---\nBody.\n")
    result = markdown.load(path)
    assert result.documents == []
    assert result.skipped[0].source == str(path.resolve())
    assert result.skipped[0].reason == (
        'malformed front-matter at line 3 ("owner: Ops: Team"): mapping values are not allowed here'
    )


@pytest.mark.parametrize(
    ("front_matter", "reason"),
    [
        ("- just\n- a list", "front-matter must be a mapping of 'key: value' lines"),
        ("tags: {a: 1}", "tags must be a list or a comma-separated string"),
        ("updated: last week", "updated must be a date like 2026-01-31, not 'last week'"),
    ],
)
def test_markdown_invalid_front_matter_values(
    tmp_path: Path, front_matter: str, reason: str
) -> None:
    result = markdown.load(write(tmp_path / "x.md", f"---\n{front_matter}\n---\nBody.\n"))
    assert [s.reason for s in result.skipped] == [reason]


def test_markdown_unclosed_front_matter_is_skipped(tmp_path: Path) -> None:
    result = markdown.load(write(tmp_path / "open.md", "---\ntitle: Never closed\nBody.\n"))
    assert "no closing '---'" in result.skipped[0].reason


def test_markdown_sections_heading_paths_and_anchors(tmp_path: Path) -> None:
    path = write(
        tmp_path / "guide.md",
        "Intro before any heading.\n\n"
        "# Guide\n\nOverview text.\n\n"
        "## Setup & Install!\n\nInstall it.\n\n"
        "### On macOS\n\nUse brew.\n\n"
        "## Empty\n\n"
        "## Usage `cli` ##\n\nRun it.\n\n"
        "## Setup & Install!\n\nAgain.\n",
    )
    doc = only_doc(markdown.load(path))
    got = [(s.heading_path, s.anchor, s.text) for s in doc.sections]
    assert got == [
        ((), None, "Intro before any heading."),
        ((), "guide", "Overview text."),
        (("Setup & Install!",), "setup--install", "Install it."),
        (("Setup & Install!", "On macOS"), "on-macos", "Use brew."),
        (("Usage cli",), "usage-cli", "Run it."),
        (("Setup & Install!",), "setup--install-1", "Again."),
    ]


def test_markdown_lone_h1_names_the_document_even_when_worded_differently(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "a.md", "---\ntitle: Other\n---\n# Guide\n\n## Part\n\nText.\n")
    assert only_doc(markdown.load(path)).sections[0].heading_path == ("Part",)


def test_markdown_several_h1s_stay_in_heading_paths(tmp_path: Path) -> None:
    path = write(tmp_path / "a.md", "# One\n\nFirst.\n\n# Two\n\n## Part\n\nText.\n")
    doc = only_doc(markdown.load(path))
    assert doc.title == "One"
    assert [s.heading_path for s in doc.sections] == [(), ("Two", "Part")]


def test_markdown_hash_lines_inside_code_fence_are_not_headings(tmp_path: Path) -> None:
    fence = "```bash\n# install deps\npip install x\n\n## not a heading\n```"
    tilde = "~~~\n# also code\n```\n# still code\n~~~"
    path = write(
        tmp_path / "code.md", f"# Title\n\n## Shell\n\n{fence}\n\n{tilde}\n\n## Next\n\nEnd.\n"
    )
    doc = only_doc(markdown.load(path))
    assert [s.heading_path for s in doc.sections] == [("Shell",), ("Next",)]
    assert doc.sections[0].text == f"{fence}\n\n{tilde}"


def test_markdown_hashtag_without_space_is_text(tmp_path: Path) -> None:
    doc = only_doc(markdown.load(write(tmp_path / "a.md", "# T\n\n#general is the channel.\n")))
    assert doc.sections[0].text == "#general is the channel."


# reStructuredText


def test_rst_title_levels_and_anchors(tmp_path: Path) -> None:
    path = write(
        tmp_path / "release.rst",
        "=================\n Release Process\n=================\n\n"
        "Intro paragraph.\n\n"
        "Cutting a Release\n-----------------\n\nRun the workflow.\n\n"
        "Pre-releases (RC)\n~~~~~~~~~~~~~~~~~\n\nUse rc tags.\n\n"
        "----------\n\n"
        "Support Policy\n--------------\n\nTwo majors.\n\n"
        "Not a title\n---\n",
    )
    doc = only_doc(rst.load(path))
    assert doc.title == "Release Process"
    got = [(s.heading_path, s.anchor, s.text) for s in doc.sections]
    assert got == [
        ((), "release-process", "Intro paragraph."),
        (("Cutting a Release",), "cutting-a-release", "Run the workflow."),
        (
            ("Cutting a Release", "Pre-releases (RC)"),
            "pre-releases-rc",
            "Use rc tags.\n\n----------",
        ),
        (("Support Policy",), "support-policy", "Two majors.\n\nNot a title\n---"),
    ]


def test_rst_without_titles_uses_stem(tmp_path: Path) -> None:
    doc = only_doc(rst.load(write(tmp_path / "plain_notes.rst", "Just a paragraph.\n")))
    assert doc.title == "Plain notes"
    assert doc.sections[0].heading_path == ()


# HTML


def test_html_strips_scripts_and_splits_sections(tmp_path: Path) -> None:
    path = write(
        tmp_path / "page.html",
        "<!DOCTYPE html><html><head><title>Holiday Calendar</title>"
        "<style>body { color: red }</style><script>var leaked = 1;</script></head><body>"
        "<noscript>Enable JS</noscript><template><p>hidden template</p></template>"
        "<iframe src='x'>frame text</iframe><!-- a comment -->"
        "<h1>Holiday Calendar</h1><p>Public   holidays\n   for 2026.</p>"
        "<h2 id='nl'>Netherlands</h2><ul><li>King's Day</li><li>Liberation Day</li></ul>"
        "<script>document.write('evil')</script>"
        "<h3>Notes</h3><p>One <b>bold</b> word.</p><table><tr><th>Date</th><th>Day</th></tr>"
        "<tr><td>27 April</td><td>King's Day</td></tr></table>"
        "</body></html>",
    )
    doc = only_doc(html.load(path))
    assert doc.title == "Holiday Calendar"
    for hidden in ("leaked", "color", "Enable JS", "hidden template", "frame text", "evil"):
        assert hidden not in doc.text
    assert "comment" not in doc.text
    assert "DOCTYPE" not in doc.text.upper()
    got = [(s.heading_path, s.anchor, s.text) for s in doc.sections]
    assert got == [
        ((), None, "Public holidays for 2026."),
        (("Netherlands",), "nl", "King's Day\nLiberation Day"),
        (
            ("Netherlands", "Notes"),
            None,
            "One bold word.\nDate | Day\n27 April | King's Day",
        ),
    ]


def test_html_title_from_first_h1_when_no_title_tag(tmp_path: Path) -> None:
    doc = only_doc(html.load(write(tmp_path / "p.htm", "<h1>Wifi</h1><p>Join NW-Corp.</p>")))
    assert doc.title == "Wifi"
    assert doc.text == "Join NW-Corp."


def test_html_with_only_script_is_empty(tmp_path: Path) -> None:
    result = html.load(write(tmp_path / "s.html", "<script>alert(1)</script>"))
    assert reasons(result) == {"s.html": "empty"}


# Plain text


def test_text_title_is_short_first_line(tmp_path: Path) -> None:
    doc = only_doc(text.load(write(tmp_path / "wifi.txt", "\n\nOFFICE WIFI\n\nJoin NW-Corp.\n")))
    assert doc.title == "OFFICE WIFI"
    assert doc.sections[0].heading_path == ()
    assert doc.text == "OFFICE WIFI\n\nJoin NW-Corp."


def test_text_long_first_line_uses_stem(tmp_path: Path) -> None:
    doc = only_doc(text.load(write(tmp_path / "printer-help.txt", "x" * 150 + "\nmore\n")))
    assert doc.title == "Printer help"


# PDF


def test_pdf_pages_become_sections_with_page_anchors(tmp_path: Path) -> None:
    path = write(tmp_path / "handbook.pdf", pdf_bytes(["Hello PDF world", "Second page"], "HR"))
    doc = only_doc(pdf.load(path))
    assert doc.title == "HR"
    got = [(s.heading_path, s.anchor, s.text) for s in doc.sections]
    assert got == [((), "page=1", "Hello PDF world"), ((), "page=2", "Second page")]


def test_pdf_without_metadata_title_uses_stem(tmp_path: Path) -> None:
    doc = only_doc(pdf.load(write(tmp_path / "expense_policy.pdf", pdf_bytes(["Receipts."]))))
    assert doc.title == "Expense policy"


def test_bad_pdfs_are_skipped_with_reasons(tmp_path: Path) -> None:
    write(tmp_path / "corrupt.pdf", b"%PDF-1.4\nthis is not really a pdf\n%%EOF\n")
    write(tmp_path / "truncated.pdf", pdf_bytes(["Hello"])[:120])
    blank = PdfWriter()
    blank.add_blank_page(200, 200)
    blank.write(tmp_path / "scanned.pdf")
    locked = PdfWriter(clone_from=BytesIO(pdf_bytes(["Top secret"])))
    locked.encrypt(user_password="secret", algorithm="RC4-128")
    locked.write(tmp_path / "locked.pdf")
    result = load_tree(tmp_path)
    assert result.documents == []
    got = reasons(result)
    assert got["corrupt.pdf"].startswith("unreadable PDF")
    assert got["truncated.pdf"].startswith("unreadable PDF")
    assert got["scanned.pdf"].startswith("no extractable text")
    assert got["locked.pdf"].startswith("encrypted PDF")


# FAQ


def test_faq_csv_one_document_per_pair(tmp_path: Path) -> None:
    path = write(
        tmp_path / "faq.csv",
        "Question,Answer,Tags\n"
        'How do I get VPN access?,Ask in #help-it.,"it, vpn"\n'
        "How do I get VPN access?,Second answer.,\n"
        ",Orphan answer,\n"
        '"Where is the\nprinter?",Second floor.,\n',
    )
    result = faq.load(path)
    resolved = str(path.resolve())
    assert [d.source for d in result.documents] == [
        f"{resolved}#how-do-i-get-vpn-access",
        f"{resolved}#how-do-i-get-vpn-access-2",
        f"{resolved}#where-is-the-printer",
    ]
    first = result.documents[0]
    assert (first.source_type, first.title, first.tags) == (
        "faq",
        "How do I get VPN access?",
        ["it", "vpn"],
    )
    assert [(s.heading_path, s.text, s.atomic) for s in first.sections] == [
        ((), "Q: How do I get VPN access?\nA: Ask in #help-it.", True)
    ]
    assert [(s.source, s.reason) for s in result.skipped] == [(resolved, "line 4: empty question")]
    assert result.files_read == 1


def test_faq_keys_survive_editing_other_pairs(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.csv", "question,answer\nA?,1\nB?,2\n")
    before = {d.title: d.source for d in faq.load(path).documents}
    write(path, "question,answer\nNew first?,0\nA?,1 (edited)\nB?,2\n")
    after = {d.title: d.source for d in faq.load(path).documents}
    assert after["A?"] == before["A?"] and after["B?"] == before["B?"]


def test_faq_json_list_and_wrapped(tmp_path: Path) -> None:
    pairs = [
        {"question": "Who approves leave?", "answer": "Your manager."},
        {"Question": "Bad", "answer": ""},
        {"question": "Channel only?", "answer": "Yes.", "visibility": "channel:C0ABC123"},
    ]
    listed = faq.load(write(tmp_path / "it-faq.json", json.dumps(pairs)))
    wrapped = faq.load(write(tmp_path / "wrapped.json", json.dumps({"faq": pairs})))
    for result in (listed, wrapped):
        assert [d.title for d in result.documents] == ["Who approves leave?", "Channel only?"]
        assert result.documents[1].channel_id == "C0ABC123"
        assert [s.reason for s in result.skipped] == ["item 2: empty answer"]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("people.csv", "name,email\nAda,ada@example.com\n"),
        ("channels.json", json.dumps([{"id": "C1", "name": "general", "members": ["U1"]}])),
        ("users.json", json.dumps([{"id": "U1", "name": "ada", "profile": {}}])),
        ("2024-01-02.json", json.dumps([{"type": "message", "user": "U1", "text": "hi"}])),
        ("config.json", json.dumps({"question": "not a list"})),
    ],
)
def test_non_faq_csv_and_json_are_skipped(tmp_path: Path, name: str, content: str) -> None:
    result = load_tree(write(tmp_path / name, content))
    assert result.documents == []
    assert reasons(result) == {name: "not an FAQ file (needs question and answer columns)"}


def test_invalid_json_is_skipped_with_line(tmp_path: Path) -> None:
    result = faq.load(write(tmp_path / "broken.json", '[\n{"question": "a",\n'))
    assert result.skipped[0].reason.startswith("invalid JSON at line")


# The tree walk


def test_load_tree_skips_unusable_files_and_keeps_going(tmp_path: Path) -> None:
    write(tmp_path / "a-good.md", "# Good\n\nUseful.\n")
    write(tmp_path / "binary.md", b"# Looks like markdown\x00\x01\x02")
    write(tmp_path / "latin1.txt", "Caf\u00e9 menu".encode("latin-1"))
    write(tmp_path / "empty.md", "")
    write(tmp_path / "blank.txt", "  \n\n")
    write(tmp_path / "image.png", b"\x89PNG\r\n")
    write(tmp_path / "Makefile", "all:\n")
    write(tmp_path / "sub" / "z-good.txt", "Nested\n\nText.\n")
    write(tmp_path / ".hidden.md", "# Hidden\n\nNo.\n")
    write(tmp_path / ".git" / "notes.md", "# Git internals\n\nNo.\n")
    with (tmp_path / "huge.txt").open("wb") as handle:
        handle.truncate(20 * 1024 * 1024 + 1)
    result = load_tree(tmp_path)
    assert [d.title for d in result.documents] == ["Good", "Nested"]
    assert reasons(result) == {
        "binary.md": "binary file",
        "latin1.txt": "not UTF-8 text",
        "empty.md": "empty",
        "blank.txt": "empty",
        "image.png": "unsupported file type .png",
        "Makefile": "unsupported file type (no extension)",
        "huge.txt": "larger than 20 MiB",
    }
    assert result.files_read == 9


def test_load_tree_reports_unreadable_files(tmp_path: Path) -> None:
    write(tmp_path / "ok.md", "Fine.\n")
    if os.geteuid() == 0:  # root reads through chmod 000, so use a dangling link instead
        (tmp_path / "gone.md").symlink_to(tmp_path / "deleted.md")
        name, expected = "gone.md", "No such file or directory"
    else:
        locked = write(tmp_path / "locked.md", "Secret.\n")
        locked.chmod(0)
        name, expected = "locked.md", "Permission denied"
    result = load_tree(tmp_path)
    assert [d.text for d in result.documents] == ["Fine."]
    assert reasons(result) == {name: expected}


def test_load_tree_refuses_links_outside_the_root(tmp_path: Path) -> None:
    root, outside = tmp_path / "kb", tmp_path / "elsewhere"
    write(outside / "passwords.md", "# Passwords\n\nhunter2\n")
    write(root / "inside.md", "# Inside\n\nOk.\n")
    (root / "leak.md").symlink_to(outside / "passwords.md")
    (root / "leakdir").symlink_to(outside, target_is_directory=True)
    (root / "alias.md").symlink_to(root / "inside.md")
    result = load_tree(root)
    assert [d.title for d in result.documents] == ["Inside"]
    assert "hunter2" not in "".join(d.text for d in result.documents)
    got = reasons(result)
    assert got["leak.md"] == got["leakdir"] == "links outside the ingest folder"
    assert "already loaded" in got["inside.md"] or "already loaded" in got["alias.md"]


def test_load_tree_single_file_and_missing_root(tmp_path: Path) -> None:
    path = write(tmp_path / "one.md", "# One\n\nText.\n")
    result = load_tree(path)
    assert [d.title for d in result.documents] == ["One"]
    assert result.files_read == 1
    with pytest.raises(FileNotFoundError, match="does-not-exist"):
        load_tree(tmp_path / "does-not-exist")


def test_load_tree_survives_a_crashing_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(path: Path) -> LoadResult:
        raise RuntimeError("parser bug")

    monkeypatch.setattr(files, "LOADERS", {**files.LOADERS, ".md": explode})
    write(tmp_path / "a.md", "# A\n")
    write(tmp_path / "b.txt", "B\n")
    result = load_tree(tmp_path)
    assert [d.title for d in result.documents] == ["B"]
    assert reasons(result) == {"a.md": "could not load: RuntimeError: parser bug"}


# The shipped example knowledge base


def test_example_knowledge_base_loads() -> None:
    result = load_tree(EXAMPLES)
    by_name = {Path(d.source.split("#")[0]).name: d for d in result.documents}
    guide = by_name["tensorflow-2-migration.md"]
    assert guide.title == "TensorFlow 2 Migration Guide: Moving from TF 1.x to TensorFlow 2.0"
    assert guide.tags == ["tensorflow", "machine-learning", "migration", "python"]
    assert any(s.anchor == "step-1-run-the-automatic-upgrade-script" for s in guide.sections)
    calendar = by_name["holiday-calendar.html"]
    assert "King's Day" in calendar.text
    assert "createElement" not in calendar.text and "<script" not in calendar.text
    assert by_name["release-process.rst"].title == "Release Process for Shared Libraries"
    assert by_name["wifi-and-printers.txt"].sections
    assert result.files_read >= len(by_name)
    assert all(d.sections and all(s.text.strip() for s in d.sections) for d in result.documents)
