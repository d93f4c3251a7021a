//! Importing a folder that mixes Markdown, HTML exports and JSON through `KbIndex::import_dir`:
//! good files of every format are searchable, bad ones are reported and never half-imported.

// Test helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;

use seatline_kb_search::{IndexOptions, KbIndex, Lang};

fn write(dir: &Path, name: &str, content: &[u8]) {
    fs::write(dir.join(name), content).unwrap();
}

fn mixed_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "hold.md",
        "---\ntags: [话术]\n---\n# 通话保持话术\n\n保持前先征得客户同意，单次不超过两分钟。"
            .as_bytes(),
    );
    write(
        d,
        "roaming.html",
        r#"<!doctype html><html lang="zh-HK"><head><title>KB export</title>
<meta name="keywords" content="漫遊, 數據"><script>track("漫遊追蹤碼")</script></head>
<body><nav>首頁 &gt; 漫遊</nav><h1>數據漫遊日費計劃</h1>
<p>出發前開通漫遊服務&nbsp;，建議購買日費計劃。</p><p>郵輪上按用量收費。</p></body></html>"#
            .as_bytes(),
    );
    write(
        d,
        "outage.htm",
        b"<html><head><title>Network outage calls</title></head><body>\
<div>Check the outage board before troubleshooting.</div></body></html>",
    );
    write(
        d,
        "invoice.json",
        r#"{"title": "电子发票开具", "body": "在 App 的发票页面填写抬头和税号。", "tags": ["发票"], "lang": "zh-CN"}"#
            .as_bytes(),
    );
    write(
        d,
        "faq.json",
        r#"[{"title": "销户违约金", "body": "合约期内销户按剩余月费的 30% 收取违约金。"},
            {"id": "pci", "title": "Card payments on recorded calls", "body": "<p>Press <b>Secure Pay</b>; recording pauses.</p>"}]"#
            .as_bytes(),
    );
    // Bad files: each is skipped whole.
    write(
        d,
        "half.json",
        r#"[{"title": "排班规则", "body": "每周四发布班表。"}, {"title": "缺正文"}]"#.as_bytes(),
    );
    write(d, "broken.json", b"{\"title\": \"unterminated");
    write(
        d,
        "dup.json",
        br#"[{"id": "x", "title": "A", "body": "a"}, {"id": "x", "title": "B", "body": "b"}]"#,
    );
    write(
        d,
        "notitle.html",
        b"<html><body><p>\xe6\xb2\xa1\xe6\x9c\x89\xe6\xa0\x87\xe9\xa2\x98</p></body></html>",
    );
    write(
        d,
        "gbk.html",
        b"<h1>\xcd\xcb\xbf\xee</h1><p>\xcd\xcb\xbf\xee</p>",
    );
    // Same id as hold.md: the later file (by name) is reported, the earlier one kept.
    write(
        d,
        "hold.json",
        br#"{"title": "Hold", "body": "duplicate of hold.md"}"#,
    );
    write(d, "readme.txt", b"not an article format");
    dir
}

#[test]
fn imports_markdown_html_and_json_and_reports_bad_files() {
    let dir = mixed_folder();
    let kb = KbIndex::in_memory(IndexOptions::default()).unwrap();
    let report = kb.import_dir(dir.path()).unwrap();

    let mut imported = report.imported.clone();
    imported.sort();
    assert_eq!(
        imported,
        vec!["faq#1", "hold", "invoice", "outage", "pci", "roaming"]
    );
    assert_eq!(kb.num_docs(), 6);

    let mut skipped: Vec<(String, String)> = report
        .skipped
        .iter()
        .map(|s| (s.file.clone(), s.reason.clone()))
        .collect();
    skipped.sort();
    let files: Vec<&str> = skipped.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        files,
        vec![
            "broken.json",
            "dup.json",
            "gbk.html",
            "half.json",
            "hold.md",
            "notitle.html"
        ]
    );
    let reason = |file: &str| {
        skipped
            .iter()
            .find(|(f, _)| f == file)
            .map(|(_, r)| r.as_str())
            .unwrap()
    };
    assert!(reason("broken.json").starts_with("malformed JSON"));
    assert_eq!(reason("dup.json"), "duplicate article id `x` in the file");
    assert!(reason("gbk.html").starts_with("not UTF-8"));
    assert_eq!(reason("half.json"), "article 2: empty body");
    assert_eq!(
        reason("hold.md"),
        "duplicate article id `hold` (already imported from hold.json)"
    );
    assert_eq!(reason("notitle.html"), "no `# Title` line");

    // Nothing of the half-valid file reached the index.
    assert!(kb.search("排班规则", 5).unwrap().is_empty());
}

#[test]
fn imported_html_and_json_articles_are_searchable() {
    let dir = mixed_folder();
    let kb = KbIndex::in_memory(IndexOptions::default()).unwrap();
    kb.import_dir(dir.path()).unwrap();
    let top = |q: &str| {
        kb.search(q, 3)
            .unwrap()
            .into_iter()
            .next()
            .map(|h| h.id)
            .unwrap_or_default()
    };
    // Traditional HTML found with a simplified query; JSON object and array entries.
    assert_eq!(top("数据漫游"), "roaming");
    assert_eq!(top("电子发票"), "invoice");
    assert_eq!(top("违约金"), "faq#1");
    assert_eq!(top("secure pay"), "pci");
    assert_eq!(top("outage board"), "outage");
    // Script, navigation and markup are not indexed.
    assert!(kb.search("追蹤碼", 5).unwrap().is_empty());
    assert!(kb.search("首頁", 5).unwrap().is_empty());

    let roaming = kb.article("roaming").unwrap().unwrap();
    assert_eq!(roaming.title, "數據漫遊日費計劃");
    assert_eq!(roaming.lang, Lang::ZhTw);
    assert_eq!(roaming.tags, vec!["漫遊", "數據"]);
    assert!(roaming.body.starts_with("出發前開通漫遊服務"));
    let pci = kb.article("pci").unwrap().unwrap();
    assert_eq!(pci.body, "Press Secure Pay; recording pauses.");
}
